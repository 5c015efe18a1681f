"""A wijk broadcast in the js client, and replies to it as Element and older clients send them."""

from __future__ import annotations

from pathlib import Path

from bridge.homeserver import EmbeddedHomeserver
from tests.conftest import MakeAccount
from tests.integration.harness import running_world
from tests.integration.js_harness import (
    assert_bot_leaks_nothing,
    assert_renders_like_element,
    desk_event,
    js_member,
)
from tests.js.resident import JsResident

TEXT = "Let op: er gaan babbeltrucs rond in de wijk. Laat niemand binnen die je niet kent."


async def test_a_js_resident_receives_a_broadcast_and_its_replies_arrive_as_reactions(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with (
        running_world(homeserver, make_account, tmp_path, broadcast_undo_seconds=0) as world,
        JsResident.running() as js,
    ):
        member = await js_member(world, make_account, js)
        coordinator = world.coordinator("oost")
        wijk_room = world.room("oost", "wijk")

        await coordinator.say(wijk_room, f"!publiceer waarschuwing: {TEXT}")
        preview = await coordinator.wait_for_event(
            lambda e: e.room_id == wijk_room and "Voorbeeld" in e.body and TEXT in e.body,
            what="the preview",
        )
        label = str(preview.fields["report"])
        await coordinator.say(wijk_room, "!ja")
        broadcast = await js.wait_for(
            room_id=member.private_room, kind="broadcast", decrypted=True, timeout=30
        )
        assert TEXT in broadcast.body
        assert broadcast.fields["report"] == label
        assert coordinator.user_id not in str(broadcast.source)
        assert_renders_like_element(broadcast)

        replies = {
            "element": "Bij ons hebben ze gisteren ook aangebeld",
            "legacy": "Het was een man met een hesje van de gemeente",
        }
        for style, text in replies.items():
            event_id, _ = await js.reply(member.private_room, broadcast.event_id, text, style)
            member.sent.append(event_id)
            reaction = await desk_event(world, "report", text, f"the {style} reaction")
            assert reaction.fields.get("reaction_to") == label, reaction.fields
            assert reaction.body.startswith(f"Reactie op {label} · "), reaction.body
            assert reaction.content["m.mentions"] == {}
            for leftover in ("In reply to", "mx-reply", "matrix.to", "babbeltrucs"):
                assert leftover not in str(reaction.content), f"{leftover!r} crossed ({style})"

        assert_bot_leaks_nothing(world, member, "In reply to")
