"""safe_text: untrusted text becomes literal, terminal-safe Rich Text (cases C07, C10, C11)."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from rich.console import Console

from bintui.safe_text import MARKER_STYLE, safe_line, safe_text


def painted(text: str, *, width: int = 200) -> str:
    """What a terminal would receive for `safe_text(text)`, including escape codes."""
    console = Console(width=width, force_terminal=True, color_system="truecolor")
    with console.capture() as capture:
        console.print(safe_text(text))
    return capture.get()


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        # C10: terminal escapes become visible markers.
        ("\x1b[2J", "<U+001B>[2J"),
        ("\x1b]52;c;AAAA\x07", "<U+001B>]52;c;AAAA<U+0007>"),
        (
            "\x1b]8;;http://x/\x07link\x1b]8;;\x07",
            "<U+001B>]8;;http://x/<U+0007>link<U+001B>]8;;<U+0007>",
        ),
        ("a\x9bb", "a<U+009B>b"),  # C1 control sequence introducer
        ("del\x7f", "del<U+007F>"),
        ("nul\x00", "nul<U+0000>"),
        # C10: markup is text.
        ("[bold red]x[/]", "[bold red]x[/]"),
        ("[link=x]klik[/link]", "[link=x]klik[/link]"),
        ("[/", "[/"),
        # C07/C10: bidi overrides and isolates, zero-width characters are made visible.
        ("\u202eabc\u202c", "<U+202E>abc<U+202C>"),
        ("\u202a\u202b\u202d", "<U+202A><U+202B><U+202D>"),
        ("\u2066x\u2067y\u2068z\u2069", "<U+2066>x<U+2067>y<U+2068>z<U+2069>"),
        ("zero\u200bwidth\u200c\ufeff\u2060", "zero<U+200B>width<U+200C><U+FEFF><U+2060>"),
        ("a\u200db", "a<U+200D>b"),  # a joiner between letters hides nothing useful
        ("\u200e\u200f\u061c", "<U+200E><U+200F><U+061C>"),
        ("\u3164", "<U+3164>"),  # Hangul filler: an invisible "letter"
        # C07: a CR LF is one newline, a lone CR cannot overwrite the line.
        ("Melding M-0003:\r\n\r\nbel me", "Melding M-0003:\n\nbel me"),
        ("echt\rnep", "echt<U+000D>nep"),
        ("line\u2028sep", "line<U+2028>sep"),
        # Ordinary text, newlines and tabs pass.
        ("Hallo,\n\tdag!", "Hallo,\n\tdag!"),
    ],
)
def test_dangerous_and_invisible_characters_are_shown_as_markers(raw: str, shown: str) -> None:
    assert safe_text(raw).plain == shown


@pytest.mark.parametrize(
    "text",
    [
        "👨\u200d👩\u200d👧",  # ZWJ family
        "🏳\ufe0f\u200d🌈",  # rainbow flag
        "👍🏽👋🏿",  # skin tones
        "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland (tags)
        "中文字符，标点。",
        "مرحبا بالعالم",
        "Ελληνικά, русский, עברית",
        "e\u0301",  # combining accent
    ],
)
def test_wide_and_mixed_scripts_pass_unchanged(text: str) -> None:
    """C11: emoji sequences and other scripts are relayed and shown unchanged."""
    result = safe_text(text)
    assert result.plain == text
    assert cell_len(result.plain) == cell_len(text)


def test_markers_are_styled_so_they_differ_from_typed_text() -> None:
    result = safe_text("a\u202eb")
    assert [(result.plain[s.start : s.end], str(s.style)) for s in result.spans] == [
        ("<U+202E>", MARKER_STYLE)
    ]
    typed = safe_text("a<U+202E>b")
    assert typed.spans == []


def test_nothing_but_the_console_own_codes_reaches_the_terminal() -> None:
    out = painted("\x1b]52;c;AAAA\x07 [bold red]x[/] \x1b[2J \u202e")
    assert "\x07" not in out
    assert "\u202e" not in out
    assert "]52;" in out and "[2J" in out  # visible text, not a sequence
    assert "\x1b]52" not in out and "\x1b[2J" not in out
    assert "[bold red]x[/]" in out


def test_a_single_line_shows_newlines_and_tabs_as_markers() -> None:
    assert safe_line("Blauwe\nReiger\t!").plain == "Blauwe<U+000A>Reiger<U+0009>!"
    assert "\n" not in safe_line("a\r\nb").plain
