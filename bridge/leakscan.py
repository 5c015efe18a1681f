"""Leak scanner: find a member's identifiers, in any encoding, anywhere in events (tests, demo)."""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

# Opaque parts of room and event ids this long are unique enough to look for on their own.
_MIN_OPAQUE = 8
_MIN_LOCALPART = 4


@dataclass
class MemberTrace:
    """Everything that identifies one member (or anything else that must not cross)."""

    user_id: str
    display_name: str | None = None
    room_ids: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    mxc_urls: list[str] = field(default_factory=list)
    file_names: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    """Anything else: quoted text, an address, a phone number."""

    def _identifiers(self) -> list[str]:
        found = [self.user_id, self.display_name or ""]
        found += [*self.room_ids, *self.event_ids, *self.mxc_urls, *self.file_names, *self.extra]
        localpart = self.user_id.removeprefix("@").split(":", 1)[0]
        if len(localpart) >= _MIN_LOCALPART:
            found.append(localpart)
        # "!abc…:hs" and "$xyz…" are also leaked by their opaque part alone (re-encoded, say).
        for value in (*self.room_ids, *self.event_ids):
            opaque = value[1:].split(":", 1)[0]
            if len(opaque) >= _MIN_OPAQUE:
                found.append(opaque)
        for url in self.mxc_urls:
            media_id = url.rstrip("/").rsplit("/", 1)[-1]
            if len(media_id) >= _MIN_OPAQUE:
                found.append(media_id)
        return found

    def needles(self) -> list[str]:
        """Every identifier raw, lowercased, URL-encoded, HTML-escaped and JSON-escaped."""
        out: dict[str, None] = {}  # ordered and without duplicates
        for value in self._identifiers():
            if not value:
                continue
            forms = (
                value,
                value.lower(),
                quote(value, safe=""),
                quote(value),
                quote_plus(value),
                html.escape(value),
                html.escape(value, quote=False),
                json.dumps(value)[1:-1],
                json.dumps(value, ensure_ascii=False)[1:-1].replace("/", "\\/"),
            )
            for form in forms:
                out.setdefault(form, None)
        return list(out)


def _strings(obj: Any, path: str, seen: set[int]) -> Iterable[tuple[str, str]]:
    """(path, text) for every string in `obj`, dict keys included."""
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, bytes | bytearray):
        yield path, bytes(obj).decode("utf-8", errors="replace")
    elif obj is None or isinstance(obj, bool | int | float) or id(obj) in seen:
        return  # nothing to read, or read already (a cycle)
    elif isinstance(obj, Mapping):
        seen.add(id(obj))
        for key, value in obj.items():
            child = f"{path}.{key}" if path else str(key)
            yield f"{child} (key)", str(key)
            yield from _strings(value, child, seen)
    elif isinstance(obj, list | tuple | set | frozenset):
        seen.add(id(obj))
        for index, item in enumerate(obj):
            yield from _strings(item, f"{path}[{index}]", seen)
    elif isinstance(getattr(obj, "source", None), Mapping):
        # A nio event: its `source` is the whole event as the server sent it.
        seen.add(id(obj))
        yield from _strings(obj.source, f"{path}.source" if path else "source", seen)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        seen.add(id(obj))
        for item in dataclasses.fields(obj):
            child = f"{path}.{item.name}" if path else item.name
            yield from _strings(getattr(obj, item.name), child, seen)
    else:
        yield path, str(obj)


def find_leaks(obj: Any, trace: MemberTrace) -> list[str]:
    """Descriptions ("content.body: '@lid:hs'") of every place where `trace` shows in `obj`.

    Case-insensitive. Where several needles match in one place, only the longest is reported
    (the user id, not also its localpart).
    """
    needles = list(dict.fromkeys(needle.casefold() for needle in trace.needles()))
    leaks: list[str] = []
    for path, text in _strings(obj, "", set()):
        haystack = text.casefold()
        matched = [needle for needle in needles if needle in haystack]
        for needle in matched:
            if not any(needle != other and needle in other for other in matched):
                leaks.append(f"{path or '<root>'}: {needle!r}")
    return leaks


def assert_no_leaks(events: Iterable[Any], trace: MemberTrace) -> None:
    """Fail, listing every leak, if any identifier of `trace` shows in any of `events`."""
    leaks = [
        f"event {index}: {leak}"
        for index, event in enumerate(events)
        for leak in find_leaks(event, trace)
    ]
    if leaks:
        raise AssertionError(f"{len(leaks)} leak(s) of {trace.user_id}:\n" + "\n".join(leaks))
