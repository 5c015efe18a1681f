"""World helpers for the js resident's scenarios: a js member of a running world, desk checks."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bridge.homeserver import Account, EmbeddedHomeserver
from bridge.leakscan import MemberTrace, assert_no_leaks
from bridge.settings import BotSettings, BridgeSettings, HomeserverSettings, RelaySettings
from tests.conftest import MakeAccount
from tests.integration.harness import (
    Received,
    User,
    World,
    client_api,
    make_user,
    wijk_settings,
)
from tests.js.resident import JsEvent, JsResident

ELEMENT_HTML_TAGS = frozenset(
    {"font", "del", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "a", "ul", "ol"}
    | {"sup", "sub", "li", "b", "i", "u", "strong", "em", "s", "strike", "code", "hr", "br"}
    | {"div", "table", "thead", "caption", "tbody", "tr", "th", "td", "pre", "span", "img"}
    | {"details", "summary"}
)
"""The tags Element's sanitiser keeps (matrix-react-sdk HtmlUtils); anything else is dropped."""
_VOID_TAGS = frozenset({"br", "hr", "img"})


@dataclass
class JsMember:
    """A resident logged in with the js client, with their DM and the bot's private room."""

    js: JsResident
    account: Account
    display_name: str
    dm_room: str
    private_room: str
    sent: list[str] = field(default_factory=list)
    """Event ids of everything this resident sent."""
    uploads: list[str] = field(default_factory=list)
    """The mxc:// URLs of this resident's uploads."""
    file_names: list[str] = field(default_factory=list)
    """The names of the files this resident sent."""

    async def say(self, text: str) -> str:
        event_id = await self.js.send(self.private_room, text)
        self.sent.append(event_id)
        return event_id

    async def send_photo(
        self, path: Path, width: int, height: int, caption: str | None = None
    ) -> dict[str, Any]:
        """Send an encrypted JPEG as m.image, the way Element does."""
        result = await self.js.send_image(self.private_room, path, width, height, caption)
        self.sent.append(str(result["event_id"]))
        self.uploads.extend(str(url) for url in result["mxc"])
        self.file_names.append(path.name)
        return result

    async def notice_after(self, mark: int, needle: str) -> JsEvent:
        """The bot's next message in the private room (after seq `mark`) containing `needle`."""
        return await self.js.wait_for(room_id=self.private_room, body=needle, after=mark)

    def trace(self, *extra: str) -> MemberTrace:
        """Everything about this resident that must never leave their own rooms."""
        own_rooms = (self.private_room, self.dm_room)
        return MemberTrace(
            user_id=self.account.user_id,
            display_name=self.display_name,
            room_ids=list(own_rooms),
            # Every event of their rooms: theirs, and the bot's answers they could reply to.
            event_ids=sorted(
                {*self.sent, *(e.event_id for e in self.js.events if e.room_id in own_rooms)}
            ),
            mxc_urls=list(self.uploads),
            file_names=list(self.file_names),
            extra=list(extra),
        )


async def js_member(
    world: World, register: MakeAccount, js: JsResident, *, sign_up: bool = True
) -> JsMember:
    """Log a new resident in with the js client, start a DM with the bot, join the bot's room."""
    display_name = f"Jopie Jansen {uuid.uuid4().hex[:4]}"
    account = register("jslid", displayname=display_name)
    await js.login(world.homeserver.url, account.user_id, account.password)
    dm_room = await js.start_dm(world.settings.bot.user_id)
    private_room = await js.wait_for_invite(not_room=dm_room)
    await js.join(private_room)
    await js.wait_for(room_id=private_room, kind="notice", body="aanmeldcode")
    member = JsMember(js, account, display_name, dm_room, private_room)
    if sign_up:
        mark = js.last_seq
        await member.say(world.join_code("oost"))
        await member.notice_after(mark, "aangemeld")
    return member


def bot_events_of(js: JsResident, world: World, room_id: str) -> list[JsEvent]:
    return [
        e
        for e in js.in_room(room_id)
        if e.sender == world.settings.bot.user_id
        and e.type in ("m.room.message", "m.room.encrypted")
    ]


def assert_bot_leaks_nothing(world: World, member: JsMember, *extra: str) -> None:
    """Scan all the bot sent outside the resident's rooms, and what coordinators decrypted."""
    own_rooms = (member.private_room, member.dm_room)
    outside = [s.content for s in world.sent if s.room_id not in own_rooms]
    assert outside, "the bot sent nothing outside the resident's rooms"
    trace = member.trace(*extra)
    assert_no_leaks(outside, trace)
    for coordinator in world.coordinators.values():
        seen = [e.source for e in coordinator.events if e.sender == world.settings.bot.user_id]
        assert_no_leaks(seen, trace)


async def desk_event(
    world: World, kind: str, text: str | None = None, what: str = "a desk event"
) -> Received:
    desk = world.room("oost", "desk")
    return await world.coordinator("oost").wait_for_event(
        lambda e: (
            e.room_id == desk
            and e.fields.get("kind") == kind
            and (text is None or e.fields.get("text") == text)
        ),
        what=what,
    )


async def desk_copy_redacted(world: World, event_id: str, timeout: float = 20) -> None:  # noqa: ASYNC109
    """Wait until a desk event reads as redacted (content gone) to the coordinators."""
    coordinator = world.coordinator("oost")
    path = f"/_matrix/client/v3/rooms/{world.room('oost', 'desk')}/event/{event_id}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status, event = await client_api(
            world.homeserver.url, coordinator.account.access_token, "GET", path
        )
        assert status == 200, (status, event)
        if not event.get("content") and "redacted_because" in event.get("unsigned", {}):
            return
        if loop.time() > deadline:
            raise AssertionError(f"desk event {event_id} was not redacted within {timeout}s")
        await asyncio.sleep(0.2)


# --- a coordinator on the js client --------------------------------------------------------


@contextlib.asynccontextmanager
async def running_world_with_coordinators(
    homeserver: EmbeddedHomeserver,
    register: Callable[..., Account],
    tmp: Path,
    extra_coordinators: dict[str, list[Account]],
    wijken: tuple[str, ...] = ("oost",),
    coordinators_per_wijk: int = 2,
    **relay: Any,
) -> AsyncIterator[World]:
    """`harness.running_world`, with accounts of other clients listed as coordinators too.

    The extra accounts (registered by the caller, e.g. for the js client) are in the bot's
    config before it starts, after the world's own nio coordinators, so `world.coordinator(w, i)`
    still means the nio ones; they are not in `world.coordinators`, which holds nio users only.
    """
    unknown = set(extra_coordinators) - set(wijken)
    assert not unknown, f"extra coordinators for wijken that are not in the world: {unknown}"
    bot_account = register("bin-bot", displayname="BIN")
    staff: dict[str, User] = {}
    police: dict[str, User] = {}
    wijk_list = []
    for slug in wijken:
        cos = []
        for i in range(coordinators_per_wijk):
            acc = register(f"co{i}-{slug}")
            staff[acc.user_id] = await make_user(acc, homeserver.url, tmp / "staff" / acc.user_id)
            cos.append(acc.user_id)
        cos += [acc.user_id for acc in extra_coordinators.get(slug, [])]
        acc = register(f"politie-{slug}")
        police[acc.user_id] = await make_user(acc, homeserver.url, tmp / "staff" / acc.user_id)
        wijk_list.append(wijk_settings(slug, cos, [acc.user_id]))
    settings = BridgeSettings(
        homeserver=HomeserverSettings(url=homeserver.url),
        bot=BotSettings(
            user_id=bot_account.user_id,
            device_id=bot_account.device_id,
            access_token=SecretStr(bot_account.access_token),
            data_dir=tmp / "bot",
        ),
        wijken=wijk_list,
        relay=RelaySettings(**relay),
    )
    world = World(homeserver, settings, staff, police, tmp)
    try:
        await world.start_bot()
        for user in [*staff.values(), *police.values()]:
            await user.sync()  # accept the invites to the wijk rooms
        for user in [*staff.values(), *police.values()]:
            await user.sync()  # and see the rooms as joined
        yield world
    finally:
        if world.task is not None:
            world.stop.set()
            await asyncio.wait({world.task}, timeout=30)
            world.task = None
        for user in [*staff.values(), *police.values(), *world.users]:
            await user.close()


async def join_wijk_rooms(js: JsResident, world: World, wijk: str) -> dict[str, str]:
    """Wait for the bot's invites to the wijk's desk, police and wijk rooms; join them all.

    Returns {role: room id}."""
    rooms = {role: world.room(wijk, role) for role in ("desk", "police", "wijk")}

    def invited() -> bool:
        seen = {m["room_id"] for m in js.memberships if m["membership"] == "invite"}
        return set(rooms.values()) <= seen

    await js.wait_until(invited, what=f"the invites to the rooms of {wijk}")
    for change in js.memberships:
        if change["room_id"] in rooms.values() and change["membership"] == "invite":
            assert change["inviter"] == world.settings.bot.user_id, change
    for room_id in rooms.values():
        await js.join(room_id)
    return rooms


# --- what Element makes of the bot's HTML ----------------------------------------------------


class _HtmlCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.open: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self.misnested: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")
        if tag == "br":
            self.text.append("\n")
        elif tag not in _VOID_TAGS:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "br":
            self.text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID_TAGS:
            return
        if not self.open or self.open.pop() != tag:
            self.misnested.append(tag)
        if tag in ("p", "blockquote"):
            self.text.append("\n")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _words(text: str) -> list[str]:
    return text.split()


def assert_renders_like_element(event: JsEvent, thread_root: str | None = None) -> None:
    """A bot message as Element shows it: decrypted, no shield, sane HTML, nobody pinged.

    With `thread_root`, it belongs in that thread (js-sdk groups it there, as Element does);
    without, it relates to nothing (the private room has no threads).
    """
    where = f"bot event {event.event_id} ({event.fields.get('kind')})"
    assert event.encrypted, f"{where} was sent unencrypted"
    assert event.decryption_failure is None, f"{where}: {event.decryption_failure}"
    assert event.shield == {"colour": "NONE", "reason": None}, f"{where}: shield {event.shield}"
    content = event.content
    assert content.get("m.mentions") == {}, f"{where} may ping: {content.get('m.mentions')}"
    assert not re.search(r"(?<!\w)@room", event.body, re.IGNORECASE), f"{where} pings @room"
    assert content.get("format") == "org.matrix.custom.html", where
    html = content.get("formatted_body")
    assert isinstance(html, str) and html, f"{where} has no HTML"
    check = _HtmlCheck()
    check.feed(html)
    check.close()
    assert set(check.tags) <= ELEMENT_HTML_TAGS, f"{where}: Element drops {set(check.tags)}"
    assert not check.open and not check.misnested, f"{where}: unbalanced HTML {html!r}"
    assert not check.links, f"{where} links to {check.links}"
    # The HTML says what the body says (Element shows the HTML, notifications the body).
    plain = re.sub(r"(?m)^> ?", "", event.body)
    assert _words("".join(check.text)) == _words(plain), f"{where}: HTML and body differ"
    relation = content.get("m.relates_to")
    if thread_root is None:
        assert relation is None, f"{where} relates to something: {relation}"
    else:
        assert event.thread_root == thread_root, f"{where} is not in thread {thread_root}"
        # Threads-unaware clients show it as a reply to the root, without a reply quote.
        assert relation == {
            "rel_type": "m.thread",
            "event_id": thread_root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": thread_root},
        }, f"{where}: {relation}"
