"""Cases C01, C02, C03, C07, C08 and C15 from shared/cases on a real Synapse with E2EE on."""

from __future__ import annotations

from pathlib import Path

from bridge.homeserver import EmbeddedHomeserver
from bridge.leakscan import MemberTrace, assert_no_leaks
from tests.conftest import MakeAccount
from tests.integration.harness import Member, World, running_world


def trace(member: Member, *event_ids: str) -> MemberTrace:
    display = member.user.client.rooms[member.private_room].user_name(member.user_id)
    return MemberTrace(
        user_id=member.user_id,
        display_name=display if display != member.user_id else None,
        room_ids=[member.private_room, member.dm_room],
        event_ids=list(event_ids),
    )


def outside(world: World, member: Member) -> list[dict[str, object]]:
    return [s.content for s in world.sent if s.room_id not in (member.private_room, member.dm_room)]


async def test_c01_c03_c07_c08_c15_hostile_member_text_crosses_clean(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        anna = world.coordinator("oost")
        desk = world.room("oost", "desk")
        room = member.private_room
        bot = world.settings.bot.user_id

        first = await member.user.say(room, "Eerste melding")
        await anna.wait_for_event(lambda e: e.room_id == desk and e.fields.get("kind") == "report")
        confirmation = await member.user.wait_for_event(
            lambda e: e.room_id == room and "M-0001" in e.body, what="the confirmation"
        )

        # C01: Element's reply to the bot's message, fallback and all.
        c01 = await member.user.send(
            room,
            {
                "msgtype": "m.text",
                "body": f"> <{bot}> {confirmation.body.splitlines()[0]}\n\n"
                "Nog een detail: blauwe jas",
                "format": "org.matrix.custom.html",
                "formatted_body": "<mx-reply><blockquote>"
                f'<a href="https://matrix.to/#/{room}/{confirmation.event_id}">In reply to</a> '
                f'<a href="https://matrix.to/#/{bot}">{bot}</a><br>quoted</blockquote></mx-reply>'
                "Nog een detail: blauwe jas",
                "m.relates_to": {"m.in_reply_to": {"event_id": confirmation.event_id}},
            },
        )
        copy = await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("text") == "Nog een detail: blauwe jas",
            what="C01 in the desk",
        )
        assert copy.fields["report"] == "M-0001"

        # C03: @room, a pill to a coordinator, and m.mentions naming them.
        c03 = await member.user.send(
            room,
            {
                "msgtype": "m.text",
                "body": f"@room kijk uit, {anna.user_id} weet ervan",
                "format": "org.matrix.custom.html",
                "formatted_body": f'@room kijk uit, <a href="https://matrix.to/#/{anna.user_id}">'
                "Anna</a> weet ervan",
                "m.mentions": {"user_ids": [anna.user_id], "room": True},
            },
        )
        pinged = await anna.wait_for_event(
            lambda e: e.room_id == desk and "kijk uit" in str(e.fields.get("text")),
            what="C03 in the desk",
        )
        assert pinged.content["m.mentions"] == {}
        assert anna.user_id not in str(pinged.content)
        assert "@room" not in pinged.body  # defused: no legacy room ping either

        # C07: a forged label with CR/LF framing stays quoted; the real label is structured.
        c07 = await member.user.say(
            room, "Melding M-0003 · Blauwe Reiger:\r\n\r\nIk ben het, bel me"
        )
        forged = await anna.wait_for_event(
            lambda e: e.room_id == desk and "Ik ben het" in str(e.fields.get("text")),
            what="C07 in the desk",
        )
        assert forged.fields["report"] == "M-0001"
        assert forged.fields["pseudonym"] != "Blauwe Reiger"
        quoted = forged.body.split("\n\n", 1)[1]
        assert all(line.startswith(">") for line in quoted.splitlines())
        assert "\r" not in forged.body

        # C08: hostile HTML: nothing of it survives, the words do.
        c08 = await member.user.send(
            room,
            {
                "msgtype": "m.text",
                "body": "Let op de bus",
                "format": "org.matrix.custom.html",
                "formatted_body": '<script>alert(1)</script><img src="mxc://evil/x">'
                '<a href="javascript:alert(1)">Let</a> <font data-mx-color="#f00">op</font> '
                + "<b>" * 60
                + "de bus"
                + "</b>" * 60,
            },
        )
        html = await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("text") == "Let op de bus",
            what="C08 in the desk",
        )
        formatted = str(html.content.get("formatted_body", ""))
        for bad in ("<script", "<img", "javascript:", "mxc://", "data-mx-color", "<b>"):
            assert bad not in formatted

        # C15: empty and invisible messages are not relayed and get a hint.
        before = len(anna.in_room(desk))
        for body in ("", "   ", "\u200b\u200b\u2060"):
            await member.user.send(room, {"msgtype": "m.text", "body": body})
            await member.user.wait_for(
                lambda: sum("leeg" in e.body for e in member.user.in_room(room)) >= 1,
                what="the empty-message hint",
            )
        await anna.sync(wait_ms=500)
        new_in_desk = [e for e in anna.in_room(desk)[before:] if e.sender == bot]
        assert not any(e.fields.get("kind") in ("report", "member_message") for e in new_in_desk)

        assert_no_leaks(outside(world, member), trace(member, first, c01, c03, c07, c08))


async def test_c02_a_coordinators_quoted_reply_reaches_the_member_without_name_or_quote(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        anna = world.coordinator("oost")
        desk = world.room("oost", "desk")
        await member.user.say(member.private_room, "Wie heeft mijn fiets gezien?")
        report = await anna.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report", what="the report"
        )
        await anna.send(
            desk,
            {
                "msgtype": "m.text",
                "body": f"> <{world.settings.bot.user_id}> {report.body.splitlines()[0]}\n"
                "> Wie heeft mijn fiets gezien?\n\nWe vragen het na bij de buren.",
                "format": "org.matrix.custom.html",
                "formatted_body": "<mx-reply><blockquote>quoted</blockquote></mx-reply>"
                "We vragen het na bij de buren.",
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": report.event_id,
                    "is_falling_back": False,
                    "m.in_reply_to": {"event_id": report.event_id},
                },
            },
        )
        answer = await member.user.wait_for_event(
            lambda e: e.room_id == member.private_room and e.fields.get("kind") == "answer",
            what="the answer",
        )
        assert answer.fields["text"] == "We vragen het na bij de buren."
        assert anna.user_id not in str(answer.source)
        assert anna.user_id.split(":")[0][1:] not in str(answer.source)
        assert "fiets gezien" not in answer.body
