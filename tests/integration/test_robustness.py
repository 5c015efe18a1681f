"""One bad event never stops the bot, unencrypted rooms carry no reports, logs betray nobody."""

from __future__ import annotations

import logging
import re
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import nio
import pytest

from bridge.homeserver import EmbeddedHomeserver
from bridge.leakscan import MemberTrace, assert_no_leaks
from bridge.logs import NOISY_LOGGERS, mask, setup_logging
from bridge.relay import Inbound, Relay
from bridge.store import Member as StoredMember
from tests.conftest import MakeAccount
from tests.integration.harness import (
    Member,
    Received,
    World,
    client_api,
    make_user,
    running_world,
)

pytestmark = pytest.mark.integration


def desk_texts(world: World) -> list[str]:
    """The member texts the coordinator has seen in the oost desk, in order."""
    desk = world.room("oost", "desk")
    return [e.fields["text"] for e in world.coordinator("oost").in_room(desk) if "text" in e.fields]


async def answer_to(member: Member, content: dict[str, Any], needle: str) -> Received:
    """Send `content` in the private room; wait for the bot's notice containing `needle`."""
    user, room = member.user, member.private_room
    before = len(user.in_room(room))
    await user.send(room, content)
    hit: Received = await user.wait_for(
        lambda: next((e for e in user.in_room(room)[before:] if needle in e.body), None),
        what=f"an answer containing {needle!r}",
    )
    return hit


async def send_raw_encrypted(member: Member, payload: dict[str, Any]) -> None:
    """Encrypt a hand-made plaintext payload (not just content) the way a hostile client could.

    The member's Megolm session must already be shared with the bot (send one message first).
    """
    client, room = member.user.client, member.private_room
    encrypted = client.olm.group_encrypt(room, payload)
    status, body = await client_api(
        client.homeserver,
        client.access_token,
        "PUT",
        f"/_matrix/client/v3/rooms/{quote(room)}/send/m.room.encrypted/{uuid.uuid4().hex}",
        encrypted,
    )
    assert status == 200, body


async def test_an_event_that_keeps_failing_is_retried_a_bounded_number_of_times_then_skipped(
    homeserver: EmbeddedHomeserver,
    make_account: MakeAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """BOEM fails every time: 3 attempts, then skipped, answered once and counted; WANKEL
    fails twice and then goes through: relayed exactly once, no apology; the loop relays on."""
    original = Relay.handle_member_message
    calls: Counter[str] = Counter()

    def exploding(relay: Relay, db: sqlite3.Connection, member: StoredMember, msg: Inbound) -> None:
        body = str(msg.content.get("body"))
        word = next((w for w in ("BOEM", "WANKEL") if w in body), None)
        if word is not None:
            calls[word] += 1
            if word == "BOEM" or calls[word] <= 2:
                raise RuntimeError(f"kapot bij {msg.content['body']} van {msg.sender}")
        original(relay, db, member, msg)

    monkeypatch.setattr(Relay, "handle_member_message", exploding)
    caplog.set_level(logging.INFO)
    async with running_world(homeserver, make_account, tmp_path) as world:
        assert world.settings.relay.failing_event_attempts == 3  # the default
        member = await world.signed_up_member(make_account, "oost")
        private = member.private_room

        apology = await answer_to(
            member, {"msgtype": "m.text", "body": "BOEM geheim adres 12"}, "referentie"
        )
        match = re.search(r"referentie ([0-9a-f]{8})", apology.body)
        assert match, apology.body
        assert "ging bij mij iets mis" in apology.body
        assert "112" in apology.body
        ref = match.group(1)
        assert calls["BOEM"] == 3

        await member.user.say(private, "WANKEL maar het lukt wel")
        await member.user.say(private, "Daarna gewoon een melding")
        await world.coordinator("oost").wait_for(
            lambda: desk_texts(world) == ["WANKEL maar het lukt wel", "Daarna gewoon een melding"],
            what="the wobbly and the next report",
        )
        for _ in range(3):  # a duplicate, or a second apology, would arrive now
            await member.user.sync(wait_ms=300)
            await world.coordinator("oost").sync(wait_ms=300)
        assert calls == Counter({"BOEM": 3, "WANKEL": 3})
        assert desk_texts(world) == ["WANKEL maar het lukt wel", "Daarna gewoon een melding"]
        apologies = [e for e in member.user.in_room(private) if "referentie" in e.body]
        assert len(apologies) == 1
        assert world.bot_running
        status = world.bridge.status()
        assert (status["skipped_events"], status["event_retries"], status["errors"]) == (1, 4, 1)
        assert world.bridge.last_error == "RuntimeError"

        # The skip is for good and its count survives a restart: nothing is tried again.
        await world.restart_bot()
        await member.user.say(private, "Na de herstart")
        await world.coordinator("oost").wait_for(
            lambda: "Na de herstart" in desk_texts(world), what="the report after the restart"
        )
        assert calls == Counter({"BOEM": 3, "WANKEL": 3})
        assert world.bridge.status()["skipped_events"] == 1

        logged = [r.getMessage() for r in caplog.records if r.name.startswith("bridge")]
        assert any(ref in line and "RuntimeError" in line for line in logged), logged
        assert any(ref in line and "skipped after 3 failed attempts" in line for line in logged)
        retries = [line for line in logged if "attempt" in line and "trying again" in line]
        assert len(retries) == 4, retries
        everything = "\n".join(logged)  # the bot's own records (third-party: see below)
        for secret in ("BOEM", "WANKEL", "geheim adres", member.user_id, private):
            assert secret not in everything
        assert [s for s in world.sent if "BOEM" in str(s.content)] == []
        display = member.user.client.rooms[private].user_name(member.user_id)
        trace = MemberTrace(
            user_id=member.user_id,
            display_name=display if display != member.user_id else None,
            room_ids=[private, member.dm_room],
            event_ids=[
                e.event_id for e in member.user.in_room(private) if e.sender == member.user_id
            ],
        )
        assert_no_leaks([s.content for s in world.sent if s.room_id != private], trace)


async def test_malformed_member_events_get_an_answer_and_the_bot_keeps_relaying(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")

        await answer_to(member, {"body": "geen msgtype"}, "alleen tekst")
        await answer_to(member, {"msgtype": "m.text", "body": 12345}, "leeg")
        await answer_to(member, {"msgtype": "m.text", "body": ["een", "lijst"]}, "leeg")
        # A payload whose envelope nio cannot parse ("unsigned" is not an object): it must not
        # make every later sync fail on the same event.
        for unsigned in (5, ["x"], "tekst"):
            await send_raw_encrypted(
                member,
                {
                    "type": "m.room.message",
                    "content": {"msgtype": "m.text", "body": f"Rare envelop {unsigned!r}"},
                    "unsigned": unsigned,
                },
            )
        await member.user.say(member.private_room, "En nu een gewone melding")

        await world.coordinator("oost").wait_for(
            lambda: "En nu een gewone melding" in desk_texts(world), what="the normal report"
        )
        assert world.bot_running
        assert desk_texts(world) == [
            "Rare envelop 5",
            "Rare envelop ['x']",
            "Rare envelop 'tekst'",
            "En nu een gewone melding",
        ]
        assert world.bridge.errors == 0


async def test_an_unencrypted_dm_gets_a_pointer_and_an_encrypted_room_and_nothing_is_relayed(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        account = make_account("lid", displayname="Onversleutelde Buur")
        user = await make_user(account, homeserver.url, tmp_path / "members" / account.user_id)
        world.users.append(user)
        dm = await user.client.room_create(is_direct=True, invite=[world.settings.bot.user_id])
        assert isinstance(dm, nio.RoomCreateResponse)
        await user.sync()
        assert not user.client.rooms[dm.room_id].encrypted
        secret_report = "Onversleuteld: de buurman deelt drugs"
        await user.say(dm.room_id, world.join_code("oost"))
        await user.say(dm.room_id, secret_report)

        pointer = await user.wait_for_event(
            lambda e: e.room_id == dm.room_id and "niet versleuteld" in e.body,
            what="the pointer in the unencrypted DM",
        )
        assert pointer.sender == world.settings.bot.user_id
        assert "uitnodiging" in pointer.body
        welcome = await user.wait_for_event(
            lambda e: e.room_id != dm.room_id and "Welkom bij BIN" in e.body,
            what="the welcome in the bot's own room",
        )
        private = welcome.room_id
        assert user.client.rooms[private].encrypted
        assert welcome.source["type"] == "m.room.message"  # decrypted by the harness
        # The bot left the unencrypted DM: nothing typed there can reach it any more.
        await user.wait_for(
            lambda: world.settings.bot.user_id not in user.client.rooms[dm.room_id].users,
            what="the bot leaving the DM",
        )
        # Nothing from the DM was taken as a sign-up or relayed.
        await user.say(private, "Nog een melding")
        await user.wait_for_event(
            lambda e: e.room_id == private and "nog niet aangemeld" in e.body,
            what="the sign-up hint in the encrypted room",
        )
        desk = world.room("oost", "desk")
        assert world.sent_to(desk) == []

        # Signed up in the encrypted room, a clear-text message there is refused too.
        await user.say(private, world.join_code("oost"))
        await user.wait_for_event(lambda e: e.room_id == private and "aangemeld bij" in e.body)
        before = len(user.in_room(private))
        status, _ = await client_api(
            homeserver.url,
            account.access_token,
            "PUT",
            f"/_matrix/client/v3/rooms/{quote(private)}/send/m.room.message/{uuid.uuid4().hex}",
            {"msgtype": "m.text", "body": "Onversleuteld in de eigen kamer"},
        )
        assert status == 200
        await user.wait_for(
            lambda: any("niet versleuteld" in e.body for e in user.in_room(private)[before:]),
            what="the refusal of clear text",
        )
        await user.say(private, "Versleutelde melding")
        await world.coordinator("oost").wait_for(
            lambda: desk_texts(world) == ["Versleutelde melding"], what="the encrypted report"
        )
        assert all(secret_report not in str(s.content) for s in world.sent)
        assert all("Onversleuteld in de eigen kamer" not in str(s.content) for s in world.sent)
        # The bot sent exactly one event into the DM: the pointer.
        assert [s.content["msgtype"] for s in world.sent_to(dm.room_id)] == ["m.notice"]


@pytest.fixture
def bot_log(tmp_path: Path) -> Iterator[Path]:
    """The bot's own logging set-up at DEBUG, writing to a file; restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_noisy = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    path = tmp_path / "bot.log"
    setup_logging("DEBUG", str(path))
    try:
        yield path
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        for name, level in saved_noisy.items():
            logging.getLogger(name).setLevel(level)


def encodings(value: str) -> set[str]:
    return {value, value.lower(), quote(value, safe=""), quote(value), quote_plus(value)}


async def test_a_full_flow_at_debug_level_logs_no_member_identity_text_or_secret(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path, bot_log: Path
) -> None:
    sentinel = "SENTINEL-8f3a tekst"
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        display_name = member.user.client.rooms[member.private_room].user_name(member.user_id)
        desk = world.room("oost", "desk")
        coordinator = world.coordinator("oost")

        await member.user.say(member.private_room, f"{sentinel} bij de school")
        report = await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report", what="the report"
        )
        await coordinator.reply_in_thread(desk, report.event_id, "Antwoord ANTWOORD-77c1")
        await member.user.wait_for_event(
            lambda e: e.room_id == member.private_room and e.fields.get("kind") == "answer",
            what="the answer",
        )
        # Malformed content makes nio log a schema error that quotes the whole event.
        await answer_to(member, {"msgtype": "m.text", "body": [sentinel]}, "leeg")
        # What nio logs when a room key is late names the private room.
        logging.getLogger("nio.crypto.olm_machine").warning(
            "Error decrypting megolm event, no session found with session id abc for room %s",
            member.private_room,
        )
        bot_token = world.settings.bot.access_token
        assert bot_token is not None
        secrets = [
            bot_token.get_secret_value(),
            member.user.client.access_token,
            coordinator.client.access_token,
            world.bridge.secret.hex(),
            world.join_code("oost"),
        ]

    for handler in logging.getLogger().handlers:
        handler.flush()
    log = bot_log.read_text(encoding="utf-8")  # noqa: ASYNC240 (after the bot stopped)
    assert "bot ready" in log  # the file really is the bot's log
    forbidden = [
        member.user_id,
        member.user_id.removeprefix("@").split(":")[0],
        display_name,
        member.private_room,
        member.dm_room,
        sentinel,
        "SENTINEL-8f3a",
        "ANTWOORD-77c1",
        *secrets,
    ]
    found = [
        f"{value!r} as {form!r}" for value in forbidden for form in encodings(value) if form in log
    ]
    assert found == [], found
    assert "Error validating event (details withheld" in log
    masked = mask(f"room {member.private_room} and {quote(member.private_room, safe='')}")
    assert masked == "room <id> and <id>"
