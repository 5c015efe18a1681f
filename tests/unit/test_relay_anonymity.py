"""The relay's anonymity decisions on a real store, without a homeserver (issue 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bridge.protocol import FIELD
from bridge.relay import Inbound, Relay, RelayedImage
from bridge.settings import BotSettings, BridgeSettings, RelaySettings, WijkSettings
from bridge.store import REDACTION, Member, PendingSend, Store

DESK = "!desk:hs.example"
CO = "@co:hs.example"
NOW = 1_800_000_000.0


class World:
    def __init__(self, tmp: Path, **relay: Any) -> None:
        self.settings = BridgeSettings(
            bot=BotSettings(user_id="@bot:hs.example", data_dir=tmp),
            relay=RelaySettings(**relay),
            wijken=[
                WijkSettings(slug="oost", name="Oost", join_code=SecretStr("c"), coordinators=[CO])
            ],
        )
        self.store = Store(tmp / "bridge.db")
        self.store.set_wijk_room("oost", "desk", DESK)
        self.relay = Relay(self.settings, self.store, b"secret")
        self.clock = NOW
        self.seq = 0

    def member(self, user_id: str) -> Member:
        key = self.relay.member_key(user_id)
        if self.store.member_by_key(key) is None:
            self.store.add_member(key, f"!room-{user_id}", "nl")
            with self.store.transaction() as db:
                self.store.update_member(key, db, wijk="oost")
        member = self.store.member_by_key(key)
        assert member is not None
        return member

    def event(self, sender: str, content: dict[str, Any], **extra: Any) -> Inbound:
        self.seq += 1
        self.clock += 1
        return Inbound(f"$ev{self.seq}", sender, content, True, self.clock, **extra)

    def say(self, user_id: str, text: str, **content: Any) -> Inbound:
        msg = self.event(user_id, {"msgtype": "m.text", "body": text, **content})
        self.handle(user_id, msg)
        return msg

    def handle(self, user_id: str, msg: Inbound) -> None:
        member = self.member(user_id)
        with self.store.transaction() as db:
            self.relay.handle_member_message(db, member, msg)

    def send_all(self) -> list[PendingSend]:
        """Pretend the homeserver accepted every queued send."""
        sends = self.store.pending_sends()
        for number, send in enumerate(sends):
            if send.event_type == REDACTION:
                assert send.mirror is not None
                for copy in self.store.mirror_copies(send.mirror):
                    self.store.forget_copy(send.mirror, copy)
                self.store.drop_send(send)
            else:
                self.store.complete_send(send, f"$bot{self.seq}-{number}")
        return sends

    def desk(self, sends: list[PendingSend]) -> list[PendingSend]:
        return [s for s in sends if s.room_id == DESK]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def bodies(sends: list[PendingSend]) -> list[str]:
    return [str(s.content.get("body", "")) for s in sends]


def test_an_edit_redacts_the_old_copy_and_posts_the_new_text_in_the_same_thread(
    world: World,
) -> None:
    original = world.say("@lid:hs", "Ik woon op Kerkstraat 12 en zag iets")
    world.send_all()
    edit = world.event(
        "@lid:hs",
        {
            "msgtype": "m.text",
            "body": "* Ik zag iets",
            "m.new_content": {"msgtype": "m.text", "body": "Ik zag iets"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original.event_id},
        },
    )
    world.handle("@lid:hs", edit)
    sends = world.desk(world.store.pending_sends())
    assert [s.event_type for s in sends] == [REDACTION, "m.room.message"]
    new_copy = sends[1]
    assert new_copy.in_thread and "m.relates_to" not in new_copy.content
    assert "Kerkstraat" not in str(new_copy.content)
    assert new_copy.content[FIELD]["edited"] is True
    assert new_copy.content[FIELD]["text"] == "Ik zag iets"
    mirror = world.relay.mirror_key(original.event_id)
    assert sends[0].mirror == mirror == new_copy.mirror
    world.send_all()
    # A second edit targets the original again and replaces the newest copy.
    assert len(world.store.mirror_copies(mirror)) == 1


def test_a_member_cannot_edit_or_delete_what_is_not_theirs(world: World) -> None:
    theirs = world.say("@ander:hs", "Andermans melding")
    world.say("@lid:hs", "Mijn melding")
    world.send_all()
    forged = world.event(
        "@lid:hs",
        {
            "msgtype": "m.text",
            "body": "* overgenomen",
            "m.new_content": {"msgtype": "m.text", "body": "overgenomen"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": theirs.event_id},
        },
    )
    world.handle("@lid:hs", forged)
    member = world.member("@lid:hs")
    with world.store.transaction() as db:
        world.relay.handle_member_redaction(db, member, "@lid:hs", theirs.event_id)
        # Nor can a coordinator withdraw a member's words by redacting "their" event id.
        wijk = world.settings.wijken[0]
        world.relay.handle_desk_redaction(db, wijk, CO, theirs.event_id)
    assert world.store.pending_sends() == []


def test_a_deletion_redacts_every_copy_of_a_message_sent_in_parts(world: World) -> None:
    long = world.say("@lid:hs", "woord " * 12_000)
    sends = world.desk(world.send_all())
    assert len(sends) > 1
    assert [s.content[FIELD].get("part") for s in sends] == list(range(1, len(sends) + 1))
    mirror = world.relay.mirror_key(long.event_id)
    assert len(world.store.mirror_copies(mirror)) == len(sends)
    member = world.member("@lid:hs")
    with world.store.transaction() as db:
        world.relay.handle_member_redaction(db, member, "@lid:hs", long.event_id)
    queued = world.desk(world.store.pending_sends())
    assert [s.event_type for s in queued] == [REDACTION]


def test_a_message_too_long_even_for_parts_is_refused_whole(world: World) -> None:
    world.say("@lid:hs", "\U0001f600" * 15_000)
    sends = world.store.pending_sends()
    assert world.desk(sends) == []
    assert "te lang" in bodies(sends)[0]


def test_a_coordinators_links_are_defanged_unless_allow_listed(world: World) -> None:
    world.say("@lid:hs", "Melding")
    world.send_all()
    conversation = world.store.latest_conversation(world.member("@lid:hs").member_key, "oost")
    assert conversation is not None and conversation.root_event_id is not None
    answer = world.event(
        CO,
        {
            "msgtype": "m.text",
            "body": "Zie https://www.politie.nl/x en https://t.example/abc",
            "m.relates_to": {"rel_type": "m.thread", "event_id": conversation.root_event_id},
        },
    )
    with world.store.transaction() as db:
        world.relay.handle_desk_message(db, world.settings.wijken[0], answer)
    (delivered,) = world.store.pending_sends()
    assert delivered.content[FIELD]["text"] == (
        "Zie https://www.politie.nl/x en hxxps://t[.]example/abc"
    )


def _desk_command(world: World, text: str) -> list[PendingSend]:
    command = world.event(CO, {"msgtype": "m.text", "body": text})
    with world.store.transaction() as db:
        world.relay.handle_desk_message(db, world.settings.wijken[0], command)
    return world.send_all()


def test_a_block_covers_later_conversations_until_it_is_lifted(world: World) -> None:
    world.say("@lid:hs", "Scheldpartij")
    world.send_all()
    sends = _desk_command(world, "!blokkeer m-0001")
    member = world.member("@lid:hs")
    assert any(s.room_id == member.room_id and "geblokkeerd" in s.content["body"] for s in sends)
    assert any(s.room_id == DESK and "!deblokkeer M-0001" in s.content["body"] for s in sends)
    world.say("@lid:hs", "!nieuw")
    world.say("@lid:hs", "Weer een scheldpartij")
    sends = world.send_all()
    assert world.desk(sends) == []
    assert "geblokkeerd" in bodies(sends)[-1]
    sends = _desk_command(world, "!deblokkeer M-0001")
    assert any(s.room_id == member.room_id and "opgeheven" in s.content["body"] for s in sends)
    world.say("@lid:hs", "Nu netjes")
    assert len(world.desk(world.send_all())) == 1


def test_the_desk_is_told_in_a_field_whether_the_member_behind_a_report_is_blocked(
    world: World,
) -> None:
    world.say("@lid:hs", "Scheldpartij")
    world.send_all()

    def announced(text: str) -> dict[str, object]:
        (desk,) = [s for s in _desk_command(world, text) if s.room_id == DESK]
        fields = desk.content[FIELD]
        assert isinstance(fields, dict)
        assert "@lid:hs" not in str(desk.content)  # who it is never crosses
        return fields

    assert announced("!blokkeer M-0001") | {"v": 0} == {
        "v": 0,
        "kind": "system",
        "wijk": "oost",
        "report": "M-0001",
        "blocked": True,
    }
    assert announced("!deblokkeer M-0001")["blocked"] is False
    assert announced("!deblokkeer M-0001")["blocked"] is False  # was not blocked: still False


def test_a_block_survives_leaving_and_joining_again(world: World) -> None:
    world.say("@lid:hs", "Scheldpartij")
    world.send_all()
    _desk_command(world, "!blokkeer M-0001")
    member = world.member("@lid:hs")
    with world.store.transaction() as db:  # the member leaves: everything about them erased
        db.execute("DELETE FROM members WHERE member_key=?", (member.member_key,))
    world.say("@lid:hs", "Ik ben terug")
    sends = world.send_all()
    assert world.desk(sends) == []
    assert "geblokkeerd" in bodies(sends)[0]


def test_a_block_expires_after_the_documented_period(tmp_path: Path) -> None:
    world = World(tmp_path, block_retention_days=1)
    world.say("@lid:hs", "Scheldpartij")
    world.send_all()
    _desk_command(world, "!blokkeer M-0001")
    world.clock += 86_400
    assert world.store.forget_expired_blocks(world.clock) == 1
    world.say("@lid:hs", "Na een dag")
    assert len(world.desk(world.send_all())) == 1


@pytest.mark.parametrize(
    ("text", "needle"), [("!blokkeer", "Gebruik"), ("!blokkeer M-0099", "ken ik niet")]
)
def test_a_wrong_block_command_gets_an_answer_in_the_desk(
    world: World, text: str, needle: str
) -> None:
    (answer,) = _desk_command(world, text)
    assert answer.room_id == DESK and needle in answer.content["body"]


def test_a_flood_is_throttled_with_one_notice_and_others_are_not_affected(world: World) -> None:
    for number in range(30):
        world.say("@lid:hs", f"bericht {number}")
    world.say("@ander:hs", "Ik ook")
    sends = world.send_all()
    lid = world.member("@lid:hs").room_id
    relayed = [s for s in world.desk(sends) if "bericht" in str(s.content[FIELD].get("text"))]
    assert len(relayed) == 10
    notices = [s for s in sends if s.room_id == lid and "veel berichten" in s.content["body"]]
    assert len(notices) == 1
    assert any(s.content[FIELD].get("text") == "Ik ook" for s in world.desk(sends))


def test_persoonlijk_explains_first_and_reveals_only_after_ja_in_one_conversation(
    world: World,
) -> None:
    world.say("@lid:hs", "Bel me maar")
    world.send_all()
    world.say("@lid:hs", "!persoonlijk")
    (explain,) = world.send_all()
    assert "@lid:hs" in explain.content["body"] and "!persoonlijk ja" in explain.content["body"]
    assert explain.room_id != DESK
    world.say("@lid:hs", "!persoonlijk ja")
    sends = world.send_all()
    (reveal,) = world.desk(sends)
    assert reveal.content[FIELD]["revealed"] is True
    assert reveal.content[FIELD]["user_id"] == "@lid:hs"
    assert reveal.in_thread and reveal.content["m.mentions"] == {}
    world.say("@lid:hs", "!persoonlijk ja")
    assert world.desk(world.send_all()) == []  # once only
    # The next conversation is anonymous again.
    world.say("@lid:hs", "!nieuw")
    world.say("@lid:hs", "Andere zaak")
    new = world.desk(world.send_all())
    assert "@lid" not in str(new)


@pytest.mark.parametrize(("mode", "same"), [("per_conversation", False), ("per_member", True)])
def test_pseudonyms_are_per_conversation_unless_the_operator_chooses_per_member(
    tmp_path: Path, mode: str, same: bool
) -> None:
    world = World(tmp_path, pseudonyms=mode)
    names = set()
    for number in range(4):
        world.say("@lid:hs", "!nieuw")
        world.say("@lid:hs", f"zaak {number}")
        for send in world.desk(world.send_all()):
            names.add(send.content[FIELD]["pseudonym"])
    assert (len(names) == 1) is same


def test_a_photo_is_posted_as_the_bots_copy_with_a_neutral_name(world: World) -> None:
    image = RelayedImage(
        file={"url": "mxc://hs/clean", "key": {"k": "x"}, "iv": "i", "hashes": {}, "v": "v2"},
        info={"mimetype": "image/jpeg", "size": 10, "w": 2, "h": 1},
    )
    msg = world.event(
        "@lid:hs",
        {
            "msgtype": "m.image",
            "body": "IMG_20261201_Kerkstraat12_Jansen.jpg",
            "file": {"url": "mxc://hs/original"},
            "info": {"thumbnail_file": {"url": "mxc://hs/thumb"}},
        },
        image=image,
    )
    world.handle("@lid:hs", msg)
    (copy,) = world.desk(world.store.pending_sends())
    assert copy.content["msgtype"] == "m.image"
    assert copy.content["filename"] == "foto-M-0001.jpg"
    assert copy.content["file"]["url"] == "mxc://hs/clean"
    assert "original" not in str(copy.content) and "Kerkstraat" not in str(copy.content)
    assert "thumb" not in str(copy.content)


@pytest.mark.parametrize(
    ("msgtype", "needle"),
    [("m.audio", "stem"), ("m.video", "Video"), ("m.file", "Bestanden")],
)
def test_voice_video_and_files_are_refused_with_a_reason(
    world: World, msgtype: str, needle: str
) -> None:
    msg = world.event("@lid:hs", {"msgtype": msgtype, "body": "x", "url": "mxc://hs/x"})
    world.handle("@lid:hs", msg)
    (notice,) = world.store.pending_sends()
    assert notice.room_id != DESK and needle in notice.content["body"]


def test_a_location_pin_is_relayed_rounded_only_after_ja(world: World) -> None:
    pin = world.event(
        "@lid:hs",
        {"msgtype": "m.location", "body": "Locatie", "geo_uri": "geo:51.689123,5.302987;u=5"},
    )
    world.handle("@lid:hs", pin)
    (ask,) = world.send_all()
    assert ask.room_id != DESK and "!ja" in ask.content["body"] and "51.689,5.303" in str(ask)
    world.say("@lid:hs", "!ja")
    (relayed,) = world.desk(world.send_all())
    assert relayed.content[FIELD]["media"] == "location"
    assert "geo:51.689,5.303" in relayed.content[FIELD]["text"]
    assert "51.689123" not in str(relayed.content)
    world.say("@lid:hs", "!ja")
    assert world.desk(world.send_all()) == []
