"""What crosses the relay: events reduced to clean text, and the content the bot rebuilds (pure)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from html import escape
from html.parser import HTMLParser
from typing import Any

LINK_REMOVED = "[link verwijderd]"
"""Shown where a link to a Matrix user, room, event or upload stood."""
MENTION_REMOVED = "[vermelding verwijderd]"
"""Shown where a mention (pill) or a bare Matrix id stood."""

TEXT_MSGTYPES = frozenset({"m.text", "m.notice", "m.emote"})

# --- Reply fallbacks -------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def strip_reply_fallback(body: str) -> str:
    """Remove the quoted lines a client puts before a reply ("> <@user:hs> ...").

    Per the Matrix spec the fallback is every leading line that starts with ">" plus the blank
    line after it. Clients get this wrong in many ways, so any leading ">" line counts (nested
    ">>", no space, indented), the blank line is optional, and a body of only quotes is empty.
    """
    lines = _lines(body)
    start = 0
    while start < len(lines) and lines[start].lstrip().startswith(">"):
        start += 1
    if start == 0:
        return body
    while start < len(lines) and not lines[start].strip():
        start += 1
    return "\n".join(lines[start:])


_MX_REPLY_TAG = re.compile(r"<\s*(/?)\s*mx-reply\b[^>]*>", re.IGNORECASE)


def strip_mx_reply(html: str) -> str:
    """Remove `<mx-reply>` blocks (any case, nested, unclosed: then to the end) from HTML."""
    kept: list[str] = []
    depth = 0
    position = 0
    for tag in _MX_REPLY_TAG.finditer(html):
        if depth == 0:
            kept.append(html[position : tag.start()])
        position = tag.end()
        depth = max(depth - 1, 0) if tag.group(1) else depth + 1
    if depth == 0:
        kept.append(html[position:])
    return "".join(kept)


# --- Text hygiene ----------------------------------------------------------------------------

# Terminal control sequences, in their 7-bit (ESC ...) and 8-bit (C1) forms: strings such as
# OSC 52 (clipboard) and OSC 8 (hyperlink) up to their terminator, then CSI, then the rest.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)"
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]"
)
# Every other C0/C1 control except TAB and LF, DEL, and lone surrogates (cannot be sent).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Bidi embeddings, overrides and isolates can make text read backwards, including what a client
# renders after it (a fake header). Natural right-to-left scripts do not need them.
_BIDI_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
# Characters that render as nothing but are not whitespace to str.strip(). Trimmed at the ends
# only: inside the text they matter (ZWJ joins emoji, ZWSP breaks Thai lines).
_INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u2060\u2061\u2062\u2063\u2064\u206a\u206b\u206c\u206d\u206e\u206f"
    "\u2800\u3164\ufeff\uffa0"
)
_MANY_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n){3,}")


def clean_text(text: str) -> str:
    """Neutralise what could control a terminal or pass for a header; keep everything else.

    Line ends become LF; escape sequences, control characters and bidi overrides go; invisible
    characters and whitespace are trimmed at both ends; more than two blank lines become two.
    Letters, emoji (with their joiners) and every script are left exactly as they were.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[\x85\u2028\u2029]", "\n", text)
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _CONTROL.sub("", text)
    text = _BIDI_CONTROL.sub("", text)
    text = _MANY_BLANK_LINES.sub("\n\n\n", text)
    return _trim(text)


def _blank(char: str) -> bool:
    return char.isspace() or char in _INVISIBLE


def _trim(text: str) -> str:
    # A loop, not a regex: "\s+$" is quadratic on a long run of interior spaces.
    start, end = 0, len(text)
    while start < end and _blank(text[start]):
        start += 1
    while end > start and _blank(text[end - 1]):
        end -= 1
    return text[start:end]


# --- Identifiers inside text -----------------------------------------------------------------

# A host name with a letter somewhere (so "$5:00" is money), an IPv4 or an [IPv6], and a port.
_SERVER = (
    r"(?:(?=[A-Za-z0-9.\-]*[A-Za-z])[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*"
    r"|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
)
_TRAILING = r"[^\s.,;:!?)\]}>'\"]"
# matrix.to links, other permalinks (a client's own, https://app.element.io/#/room/!id:hs/$ev,
# or a custom permalink prefix, https://links.buurt.nl/#/@lid:hs), matrix: URIs, and uploads.
# The whole link goes: every part of it identifies something.
_LINK = (
    rf"(?:https?://)?matrix\.to/#/\S*{_TRAILING}"
    # Host and path segments are bounded and cannot overlap, so that a long run of "http://"
    # stays linear to scan.
    r"|https?://[^\s/#?]{1,253}(?:/[^\s/#?]{1,200}){0,8}/#/"
    rf"(?:room/|user/|group/|[@!#$+]|%40|%21|%23|%24)\S*{_TRAILING}"
    rf"|\bmatrix:(?:u|r|roomid|e)/\S*{_TRAILING}"
    rf"|\bmxc://\S*{_TRAILING}"
)
# @user:server, !room:server, #alias:server, $event:server, and the server-less room and event
# ids of newer room versions ("!" or "$" and 43 characters of base64).
_BARE_ID = (
    rf"(?<![\w@!$#])[@!#$][^\s:@!$#<>\"']+:{_SERVER}"
    r"|(?<![\w!$])[!$][A-Za-z0-9_\-+/]{20,}={0,2}(?!\w)"
)
_LINK_START = re.compile(_LINK, re.IGNORECASE)


class _MentionTexts(HTMLParser):
    """Collects the visible text of links that point at Matrix users, rooms or events (pills)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href") or ""
            self._current = [] if _LINK_START.match(href.strip()) else None

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.texts.append("".join(self._current))
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)


def _mention_texts(formatted_body: str) -> list[str]:
    parser = _MentionTexts()
    parser.feed(strip_mx_reply(formatted_body))
    parser.close()
    texts = {clean_text(text) for text in parser.texts}
    # Longest first, so that "Jan Jansen" goes before a pill that reads only "Jan".
    return sorted((text for text in texts if text), key=len, reverse=True)


def _remove_identifiers(text: str, mention_texts: list[str]) -> str:
    # One pass, so that a removal never creates or splits another match. A pill shows in `body`
    # as its visible text (a display name): it goes as a whole word.
    mentions = "|".join(re.escape(mention) for mention in mention_texts)
    mention = rf"|(?P<mention>(?<!\w)@?(?:{mentions})(?!\w))" if mentions else ""
    pattern = re.compile(rf"(?P<link>{_LINK}){mention}|{_BARE_ID}", re.IGNORECASE)
    return pattern.sub(lambda match: LINK_REMOVED if match.group("link") else MENTION_REMOVED, text)


# --- From an event to clean text -------------------------------------------------------------


def _is_reply(content: Mapping[str, Any]) -> bool:
    relates_to = content.get("m.relates_to")
    return isinstance(relates_to, Mapping) and "m.in_reply_to" in relates_to


def _relayable_text(content: Mapping[str, Any]) -> str | None:
    if content.get("msgtype") not in TEXT_MSGTYPES:
        return None
    body = content.get("body")
    if not isinstance(body, str):
        return None
    # Clean first, so that an invisible character before "> <@" cannot hide the fallback and an
    # escape sequence inside a link cannot hide the link.
    text = clean_text(body)
    if _is_reply(content) or text.startswith("> <@"):
        text = strip_reply_fallback(text)
    formatted = content.get("formatted_body")
    mentions = _mention_texts(formatted) if isinstance(formatted, str) else []
    # Clean again: what is left after the removals may be only whitespace.
    text = clean_text(_remove_identifiers(text, mentions))
    return text or None


def member_text(content: Mapping[str, Any]) -> str | None:
    """The member's own words from an `m.room.message` content, or None if nothing to relay.

    The words come from `body`; the HTML is read only to find the pills to remove. Removed:
    the reply fallback, links to Matrix users, rooms, events and uploads, pills and bare
    Matrix ids; then `clean_text`.
    None for other message types and for text that is empty or invisible. For an edit, pass
    the `m.new_content`.
    """
    return _relayable_text(content)


def coordinator_text(content: Mapping[str, Any]) -> str | None:
    """A coordinator's answer, reduced by the same rules as `member_text`.

    A coordinator's reply fallback names them and quotes the report: it never reaches a member.
    """
    return _relayable_text(content)


def image_caption(content: Mapping[str, Any]) -> str | None:
    """The cleaned caption of an `m.image`, or None.

    Since Matrix 1.10 `body` is a caption only when a separate `filename` is given and differs
    from it; otherwise `body` is the file name, which must never cross (it may name a street
    or a person: `IMG_20261201_Kerkstraat12_Jansen.jpg`).
    """
    body = content.get("body")
    filename = content.get("filename")
    if not isinstance(body, str) or not isinstance(filename, str) or body.strip() == filename:
        return None
    caption = {
        key: content[key] for key in ("body", "formatted_body", "m.relates_to") if key in content
    }
    return member_text({**caption, "msgtype": "m.text"})


def location_uri(content: Mapping[str, Any]) -> str | None:
    """The `geo:` URI of an `m.location` (classic field or the extensible-events one)."""
    for key in ("m.location", "org.matrix.msc3488.location"):
        value = content.get(key)
        if isinstance(value, Mapping) and isinstance(value.get("uri"), str):
            return str(value["uri"])
    uri = content.get("geo_uri")
    return uri if isinstance(uri, str) else None


# --- Building what the bot posts -------------------------------------------------------------


def defuse_room_mention(text: str) -> str:
    """Keep "@room" readable but stop it from notifying a whole room (WORD JOINER after @).

    Any "@room" that starts a word, in any case: more than the push rule matches, never less.
    E-mail addresses ("info@roomservice.nl") are left alone.
    """
    return re.sub(r"(?<!\w)@(?=room)", "@\u2060", text, flags=re.IGNORECASE)


def _html_lines(text: str) -> str:
    return "<br>".join(escape(line) for line in text.split("\n"))


def quoted_content(header: str, text: str, *, msgtype: str = "m.text") -> dict[str, Any]:
    """Event content for relayed words: the bot's header, then the text as a visible quote.

    Every line of `text` starts with "> " in `body` and sits in a `<blockquote>` in the HTML,
    so typed words can never pass for a header. The HTML is built here from plain text;
    `m.mentions` is empty, so nobody is notified.
    """
    header = " ".join(clean_text(header).split())
    text = defuse_room_mention(clean_text(text))
    lines = text.split("\n")
    return {
        "msgtype": msgtype,
        "body": header + "\n\n" + "\n".join("> " + line for line in lines),
        "format": "org.matrix.custom.html",
        "formatted_body": (
            f"<p><strong>{escape(header)}</strong></p><blockquote>{_html_lines(text)}</blockquote>"
        ),
        "m.mentions": {},
    }


def plain_content(text: str, *, msgtype: str = "m.notice") -> dict[str, Any]:
    """Event content for the bot's own words: plain text and the same text escaped as HTML."""
    text = defuse_room_mention(clean_text(text))
    return {
        "msgtype": msgtype,
        "body": text,
        "format": "org.matrix.custom.html",
        "formatted_body": _html_lines(text),
        "m.mentions": {},
    }


# --- Links in a coordinator's answer ---------------------------------------------------------

# A link with a scheme, a "www." host, or a bare host name with a top-level domain of letters,
# which every client turns into a clickable link. A unique link in an answer could reveal the
# member's IP address to whoever runs the server it points at, the moment the member clicks.
_URL = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.\-]{0,15}://[^\s<>\"']+"
    r"|\bwww\.[^\s<>\"']+"
    r"|(?<![\w@.\-/])(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![\w\-@])(?:[/?#][^\s<>\"']*)?",
    re.IGNORECASE,
)
_URL_TRAILING = ".,;:!?)]}'\""


def link_host(url: str) -> str | None:
    """The host a link leads to (lowercase), or None when it cannot be told safely.

    A link with user info (`https://politie.nl@elders.example/`), a backslash before the path
    (which browsers read as "/"), or a host that is not plain ASCII is never given a host.
    """
    rest = url
    if "://" in url:
        scheme, rest = url.split("://", 1)
        if scheme.lower() not in ("http", "https"):
            return None
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority or "\\" in authority or "%" in authority or not authority.isascii():
        return None
    host = authority.rsplit(":", 1)[0] if re.search(r":\d*$", authority) else authority
    host = host.lower().rstrip(".")
    if not re.fullmatch(r"[a-z0-9\-]+(?:\.[a-z0-9\-]+)+", host):
        return None
    return host


def allowed_link(url: str, allowed_domains: Iterable[str]) -> bool:
    """Whether a link points into one of `allowed_domains` (the domain or a subdomain of it)."""
    host = link_host(url)
    if host is None:
        return False
    for domain in allowed_domains:
        domain = domain.strip().lower().lstrip(".").rstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


def defang(url: str) -> str:
    """A link no client will make clickable, still readable: `hxxps://example[.]com/x[.]html`."""
    text = re.sub(r"^(h)tt(ps?)(?=://)", r"\1xx\2", url, flags=re.IGNORECASE)
    if not re.match(r"^hxxps?://", text, flags=re.IGNORECASE):
        text = text.replace("://", "[:]//", 1)
    return text.replace(".", "[.]")


def defang_links(text: str, allowed_domains: Iterable[str]) -> str:
    """Leave links into allow-listed domains alone; defang every other link in `text`."""
    domains = tuple(allowed_domains)

    def replace(match: re.Match[str]) -> str:
        url = match.group(0)
        stripped = url.rstrip(_URL_TRAILING)
        tail = url[len(stripped) :]
        if not stripped or allowed_link(stripped, domains):
            return url
        return defang(stripped) + tail

    return _URL.sub(replace, text)


# --- Long texts ------------------------------------------------------------------------------

# Characters that belong to the character before them: a cut never goes just before one of
# these (nor just after a joiner), so that an emoji or an accented letter is never split.
_JOINS_PREVIOUS = re.compile(
    r"[\u0300-\u036f\u200d\ufe00-\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]"
)


def _cut_point(text: str, limit: int) -> int:
    """Where to cut `text` (at most `limit` characters): after a line, a space, or a grapheme."""
    if limit >= len(text):
        return len(text)
    window = text[:limit]
    for separator in ("\n", " "):
        at = window.rfind(separator)
        if at >= limit // 2:
            return at + 1
    cut = limit
    while cut > 1 and (_JOINS_PREVIOUS.match(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1
    return cut


def split_text(text: str, fits: Callable[[str], bool], max_parts: int = 8) -> list[str] | None:
    """Split `text` into parts for which `fits(part)` holds; None if that takes too many.

    Parts end after a line break or a space where one is near, and never inside an emoji or
    an accented letter. Joined again (with the cut whitespace) they give the text back.
    """
    parts: list[str] = []
    rest = text
    while rest:
        if len(parts) == max_parts:
            return None
        if fits(rest):
            parts.append(rest)
            break
        low, high = 1, len(rest)  # fits(rest[:low]) is assumed; rest itself does not fit
        while low + 1 < high:
            middle = (low + high) // 2
            if fits(rest[:middle]):
                low = middle
            else:
                high = middle
        cut = _cut_point(rest, low)
        parts.append(rest[:cut])
        rest = rest[cut:]
    cleaned = [clean_text(part) for part in parts]
    return [part for part in cleaned if part] or None


# --- Locations -------------------------------------------------------------------------------

_GEO_URI = re.compile(
    r"^geo:(-?\d{1,3}(?:\.\d+)?),(-?\d{1,3}(?:\.\d+)?)(?:,-?\d+(?:\.\d+)?)?(?:;.*)?$"
)
LOCATION_DECIMALS = 3
"""Three decimals of a degree: about 110 m north-south and 70 m east-west in the Netherlands."""


def rounded_geo_uri(uri: str, decimals: int = LOCATION_DECIMALS) -> str | None:
    """A `geo:` URI rounded to `decimals` (no altitude, no uncertainty), or None if invalid."""
    match = _GEO_URI.match(uri.strip())
    if match is None:
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return f"geo:{lat:.{decimals}f},{lon:.{decimals}f}"


def is_live_location(event_type: str, content: Mapping[str, Any]) -> bool:
    """A live location share: a beacon (MSC3672/MSC3489) or a location flagged as live."""
    if "beacon" in event_type:
        return True
    for key in ("org.matrix.msc3488.asset", "m.asset"):
        asset = content.get(key)
        if isinstance(asset, Mapping) and asset.get("type") == "m.live":
            return True
    return "live" in content and content.get("live") is True
