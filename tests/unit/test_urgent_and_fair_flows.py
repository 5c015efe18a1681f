"""Urgent member messages and unfair broadcasts in the relay, on a real store (issue 4, items 7, 8).

No homeserver: the queued sends are read back from the store's outbox.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bridge.protocol import FIELD, BinFields, Kind
from bridge.relay import Inbound, Relay
from bridge.settings import BotSettings, BridgeSettings, WijkSettings
from bridge.store import PendingSend, Store

DESK = "!desk:hs.example"
WIJK = "!wijk:hs.example"
CO = "@co:hs.example"
MEMBER = "@lid:hs.example"
NOW = 1_800_000_000.0
URGENT = "help er staat een auto in brand bij de school"


class Bridge:
    def __init__(self, tmp: Path) -> None:
        settings = BridgeSettings(
            bot=BotSettings(user_id="@bot:hs.example", data_dir=tmp),
            wijken=[
                WijkSettings(slug="oost", name="Oost", join_code=SecretStr("c"), coordinators=[CO])
            ],
        )
        self.store = Store(tmp / "bridge.db")
        self.store.set_wijk_room("oost", "desk", DESK)
        self.store.set_wijk_room("oost", "wijk", WIJK)
        self.relay = Relay(settings, self.store, b"secret")
        key = self.relay.member_key(MEMBER)
        self.store.add_member(key, "!private:hs.example", "nl")
        with self.store.transaction() as db:
            self.store.update_member(key, db, wijk="oost", joined=1)
        self.seq = 0

    def say(self, text: str) -> list[PendingSend]:
        """A member message; returns what the bot queued for it."""
        self.seq += 1
        member = self.store.member_by_key(self.relay.member_key(MEMBER))
        assert member is not None
        msg = Inbound(f"$m{self.seq}", MEMBER, {"msgtype": "m.text", "body": text}, True, NOW)
        with self.store.transaction() as db:
            self.relay.handle_member_message(db, member, msg)
        return self.flush()

    def command(self, text: str) -> list[PendingSend]:
        """A coordinator's command in the wijk room; returns what the bot said there."""
        self.seq += 1
        msg = Inbound(f"$c{self.seq}", CO, {"msgtype": "m.text", "body": text}, True, NOW)
        with self.store.transaction() as db:
            self.relay.handle_wijk_message(db, self.relay.settings.wijken[0], msg)
        return self.flush()

    def flush(self) -> list[PendingSend]:
        sends = self.store.pending_sends()
        for number, send in enumerate(sends):
            self.store.complete_send(send, f"$bot{self.seq}-{number}")
        return sends

    def state(self, label: str) -> str:
        row = self.store.query_one(
            "SELECT state FROM broadcasts WHERE wijk='oost' AND number=?", (int(label[2:]),)
        )
        assert row is not None
        return str(row[0])


@pytest.fixture
def bridge(tmp_path: Path) -> Bridge:
    return Bridge(tmp_path)


def body(send: PendingSend) -> str:
    return str(send.content.get("body", ""))


def test_an_urgent_report_tells_the_member_112_first_and_is_flagged_in_the_desk(
    bridge: Bridge,
) -> None:
    sends = bridge.say(URGENT)
    to_member = [s for s in sends if s.room_id != DESK]
    assert "112" in body(to_member[0]) and "0900-8844" in body(to_member[0])
    assert sends.index(to_member[0]) == 0, "the 112 notice goes out before anything else"
    [report] = [s for s in sends if s.room_id == DESK]
    assert report.content[FIELD]["urgent"] is True
    assert report.content[FIELD]["kind"] == "report"
    assert body(report).startswith("⚠ DRINGEND? · Melding M-0001 · ")


def test_the_112_notice_comes_once_per_conversation_but_every_urgent_message_is_flagged(
    bridge: Bridge,
) -> None:
    bridge.say(URGENT)
    again = bridge.say("nu ook rook uit het dak van de school!!")
    assert not [s for s in again if s.room_id != DESK and "112" in body(s)]
    [follow_up] = [s for s in again if s.room_id == DESK]
    assert follow_up.content[FIELD]["urgent"] is True
    assert body(follow_up).startswith("⚠ DRINGEND? · M-0001 · ")


def test_an_ordinary_report_is_not_flagged(bridge: Bridge) -> None:
    sends = bridge.say("Vorige week is er bij ons ingebroken, wie heeft iets gezien?")
    [report] = [s for s in sends if s.room_id == DESK]
    assert "urgent" not in report.content[FIELD]
    assert body(report).startswith("Melding M-0001 · ")
    assert not [s for s in sends if s.room_id != DESK and "112" in body(s)]


def test_the_urgent_field_round_trips_and_is_left_out_when_unset() -> None:
    fields = BinFields(kind=Kind.REPORT, urgent=True)
    assert BinFields.from_content({FIELD: fields.to_content()}) == fields
    assert "urgent" not in BinFields(kind=Kind.REPORT).to_content()


def test_a_broadcast_describing_origin_is_flagged_in_the_preview_and_needs_ja_zeker(
    bridge: Bridge,
) -> None:
    [preview] = bridge.command("!publiceer Let op: een donkere man probeert deuren")
    assert '"donkere man"' in body(preview)
    assert "alleen feiten: kleding, voertuig, richting" in body(preview).lower()
    assert "!ja zeker" in body(preview)

    [refused] = bridge.command("!ja")
    assert "niet verstuurd" in body(refused)
    assert bridge.state("W-0001") == "draft"

    [confirmed] = bridge.command("!ja zeker")
    assert "W-0001 gaat over" in body(confirmed)
    assert bridge.state("W-0001") == "confirmed"


def test_a_rewritten_broadcast_goes_with_a_plain_ja(bridge: Bridge) -> None:
    bridge.command("!publiceer Let op: een donkere man probeert deuren")
    [preview] = bridge.command("!publiceer Let op: man in een donkere jas probeert deuren")
    assert "afkomst" not in body(preview)
    [confirmed] = bridge.command("!ja")
    assert "W-0002 gaat over" in body(confirmed)


def test_each_step_of_a_broadcast_carries_its_phase_and_counts_in_fields(bridge: Bridge) -> None:
    """The client reads the preview, refusal, confirmation and cancellation from fields."""

    def fields(send: PendingSend) -> dict[str, object]:
        value = send.content[FIELD]
        assert isinstance(value, dict)
        return {k: v for k, v in value.items() if k not in ("v", "kind", "text")}

    [preview] = bridge.command("!publiceer Let op: een donkere man probeert deuren")
    assert fields(preview) == {
        "wijk": "oost",
        "report": "W-0001",
        "phase": "preview",
        "recipients": 1,
    }
    [refused] = bridge.command("!ja")
    assert fields(refused) == {"wijk": "oost", "report": "W-0001", "phase": "refused"}
    [confirmed] = bridge.command("!ja zeker")
    assert fields(confirmed)["phase"] == "confirmed"
    assert isinstance(fields(confirmed)["undo_seconds"], int)
    [cancelled] = bridge.command("!stop")
    assert fields(cancelled) == {"wijk": "oost", "report": "W-0001", "phase": "cancelled"}
    [usage] = bridge.command("!publiceer")
    assert fields(usage) == {}  # a plain notice: no broadcast to speak of
