"""Render untrusted text (member messages, names, server errors) literally and terminal-safe.

Everything that did not come from our own code goes through here before it reaches a widget:

- it becomes a `rich.text.Text` built from the plain string, so `[bold]`-style markup is never
  interpreted (case C10);
- control characters (C0, C1, DEL) other than newline and tab cannot reach the terminal: they
  are replaced by a visible, dimmed marker such as `<U+001B>`, so an escape sequence like
  `ESC ] 52 ; c ; … BEL` is shown as harmless text;
- invisible characters that change how text looks or reads — bidi overrides and isolates,
  zero-width spaces and joiners, other format characters — are made visible the same way,
  so a member cannot hide text or make it read backwards (cases C07, C10);
- emoji sequences keep their joiners and tags, and other scripts pass unchanged (case C11).
"""

from __future__ import annotations

import unicodedata

from rich.text import Text

MARKER_STYLE = "dim reverse"
"""How a replaced character is shown: visibly different from text a member could type."""

_ZWJ = "\u200d"
_VS16 = "\ufe0f"
_BLACK_FLAG = "\U0001f3f4"
_TAG_RANGE = range(0xE0020, 0xE0080)
_SKIN_TONES = range(0x1F3FB, 0x1F400)

# Not format characters, but blank "letters" used to fake empty names or hide text.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Line and paragraph separators: some terminals break lines on them; we show them instead.
_SEPARATORS = frozenset("\u2028\u2029\u0085")


def marker(char: str) -> str:
    """The visible stand-in for a hidden or dangerous character, e.g. '<U+202E>'."""
    return f"<U+{ord(char):04X}>"


def _is_pictographic(char: str) -> bool:
    """Roughly Unicode's Extended_Pictographic: what may sit on either side of an emoji ZWJ."""
    return unicodedata.category(char) == "So" or ord(char) in _SKIN_TONES or char == _VS16


def _emoji_joiner(text: str, index: int) -> bool:
    """Whether the ZWJ at `index` joins two emoji (a family, a rainbow flag)."""
    return (
        0 < index < len(text) - 1
        and _is_pictographic(text[index - 1])
        and _is_pictographic(text[index + 1])
    )


def _flag_tag(text: str, index: int) -> bool:
    """Whether the tag character at `index` belongs to a subdivision flag (🏴 + tags)."""
    start = index
    while start > 0 and ord(text[start - 1]) in _TAG_RANGE:
        start -= 1
    return start > 0 and text[start - 1] == _BLACK_FLAG


def is_hidden(text: str, index: int, *, single_line: bool = False) -> bool:
    """Whether the character at `index` must be shown as a marker instead of itself."""
    char = text[index]
    if char == "\n" or char == "\t":
        return single_line
    if char in _SEPARATORS or char in _INVISIBLE_LETTERS:
        return True
    category = unicodedata.category(char)
    if category == "Cc":
        return True
    if category == "Cf":
        if char == _ZWJ:
            return not _emoji_joiner(text, index)
        if ord(char) in _TAG_RANGE:
            return not _flag_tag(text, index)
        return True
    return False


def safe_text(text: str, *, style: str = "", single_line: bool = False) -> Text:
    """Return `text` as a literal, terminal-safe Rich Text.

    `single_line` also turns newlines and tabs into markers (for table cells and names).
    A Windows line break (CR LF) counts as one newline; a lone CR is shown as a marker.
    """
    if text.isascii() and text.isprintable():
        # Nothing to hide (the common case in a long list): skip the character walk.
        return Text(text, style=style, no_wrap=False, end="")
    text = text.replace("\r\n", "\n")
    out = Text(style=style, no_wrap=False, end="")
    plain_start = 0
    for index in range(len(text)):
        if is_hidden(text, index, single_line=single_line):
            if plain_start < index:
                out.append(text[plain_start:index])
            out.append(marker(text[index]), style=MARKER_STYLE)
            plain_start = index + 1
    if plain_start < len(text):
        out.append(text[plain_start:])
    return out


def safe_line(text: str, *, style: str = "") -> Text:
    """A single-line safe Text (newlines and tabs become markers too), for cells and labels."""
    return safe_text(text, style=style, single_line=True)
