"""Issue 3 on a real Synapse with E2EE: edits, deletions, photos, refusals, reveal, blocks."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import nio
import pytest
from nio.crypto.attachments import decrypt_attachment
from PIL import Image

from bridge.homeserver import EmbeddedHomeserver
from bridge.leakscan import MemberTrace, assert_no_leaks
from tests.conftest import MakeAccount
from tests.integration.harness import Member, Sent, User, World, running_world
from tests.integration.test_relay_flow import assert_bot_leaks_nothing, trace_of
from tests.unit.test_media import phone_photo


async def redacted(user: User, room_id: str, event_id: str, timeout: float = 20) -> bool:  # noqa: ASYNC109
    """Wait until `user` reads the event back with no content left."""

    async def check() -> bool:
        response = await user.client.room_get_event(room_id, event_id)
        return isinstance(response, nio.RoomGetEventResponse) and not response.event.source.get(
            "content"
        )

    for _ in range(int(timeout * 2)):
        if await check():
            return True
        await user.sync(wait_ms=500)
    return False


def edit(original: str, text: str) -> dict[str, Any]:
    return {
        "msgtype": "m.text",
        "body": f"* {text}",
        "m.new_content": {"msgtype": "m.text", "body": text},
        "m.relates_to": {"rel_type": "m.replace", "event_id": original},
    }


def in_desk(world: World, member: Member) -> list[dict[str, Any]]:
    return [s.content for s in world.sent if s.room_id == world.room("oost", "desk")]


async def test_an_edit_then_a_deletion_leave_nothing_readable_in_the_desk_and_answers_follow(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path, coordinators_per_wijk=1) as world:
        member = await world.signed_up_member(make_account, "oost")
        desk = world.room("oost", "desk")
        co = world.coordinator("oost")
        room = member.private_room

        original = await member.user.say(room, "Ik woon op Kerkstraat 12 en zag een inbraak")
        report = await co.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report", what="the report"
        )
        edit_id = await member.user.send(room, edit(original, "Ik zag een inbraak"))
        new = await co.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("edited") is True, what="the new version"
        )
        assert new.fields["text"] == "Ik zag een inbraak"
        assert new.content["m.relates_to"]["rel_type"] == "m.thread"  # never an m.replace
        assert new.content["m.relates_to"]["event_id"] == report.event_id
        assert await redacted(co, desk, report.event_id), "the old copy is still readable"
        await member.user.wait_for_event(
            lambda e: e.room_id == room and "bewerking is doorgegeven" in e.body
        )

        # The coordinator answers, edits the answer, then withdraws it.
        answer_id = await co.reply_in_thread(desk, report.event_id, "Welk huisnummer?")
        answer = await member.user.wait_for_event(
            lambda e: e.room_id == room and e.fields.get("kind") == "answer", what="the answer"
        )
        await co.send(desk, edit(answer_id, "Dank je, we kijken ernaar."))
        new_answer = await member.user.wait_for_event(
            lambda e: e.room_id == room and e.fields.get("edited") is True, what="edited answer"
        )
        assert new_answer.fields["text"] == "Dank je, we kijken ernaar."
        assert await redacted(member.user, room, answer.event_id)
        await co.client.room_redact(desk, answer_id)
        assert await redacted(member.user, room, new_answer.event_id)

        # The member deletes their message: the newest desk copy goes too.
        await member.user.client.room_redact(room, original)
        assert await redacted(co, desk, new.event_id), "the edited copy is still readable"
        await member.user.wait_for_event(lambda e: e.room_id == room and "verwijderd" in e.body)

        assert not any("m.replace" in str(c.get("m.relates_to")) for c in in_desk(world, member))
        assert_bot_leaks_nothing(world, member, original, edit_id)


async def test_a_photo_crosses_as_clean_pixels_and_voice_files_and_live_location_do_not(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path, coordinators_per_wijk=1) as world:
        member = await world.signed_up_member(make_account, "oost")
        desk = world.room("oost", "desk")
        co = world.coordinator("oost")
        room = member.private_room
        name = "IMG_20261201_Kerkstraat12_Jansen.jpg"
        photo = phone_photo()
        uploaded, keys = await member.user.client.upload(
            io.BytesIO(photo), content_type="image/jpeg", encrypt=True, filesize=len(photo)
        )
        assert isinstance(uploaded, nio.UploadResponse) and keys is not None
        original_mxc = uploaded.content_uri
        sent_id = await member.user.send(
            room,
            {
                "msgtype": "m.image",
                "body": name,
                "file": {"url": original_mxc, **keys},
                "info": {"mimetype": "image/jpeg", "size": len(photo), "w": 40, "h": 20},
            },
        )
        copy = await co.wait_for_event(
            lambda e: e.room_id == desk and e.content.get("msgtype") == "m.image",
            what="the photo in the desk",
        )
        file = copy.content["file"]
        assert copy.content["filename"] == "foto-M-0001.jpg"
        assert file["url"] != original_mxc and file["key"]["k"] != keys["key"]["k"]
        assert "url" not in copy.content and "thumbnail_file" not in copy.content["info"]
        assert copy.fields["media"] == "image" and copy.fields["kind"] == "report"
        downloaded = await co.client.download(mxc=file["url"])
        assert isinstance(downloaded, nio.DownloadResponse)
        pixels = decrypt_attachment(
            downloaded.body, file["key"]["k"], file["hashes"]["sha256"], file["iv"]
        )
        for sentinel in (b"SENTINEL", b"Exif", b"Jansen"):
            assert sentinel not in pixels
        with Image.open(io.BytesIO(pixels)) as image:
            assert image.size == (20, 40) and not image.getexif()

        async def refused(content: dict[str, Any], needle: str) -> None:
            before = len(member.user.in_room(room))
            await member.user.send(room, content)
            await member.user.wait_for(
                lambda: any(needle in e.body for e in member.user.in_room(room)[before:]),
                what=f"a refusal containing {needle!r}",
            )

        await refused({"msgtype": "m.audio", "body": "spraak.ogg", "url": "mxc://x/y"}, "stem")
        await refused(
            {"msgtype": "m.file", "body": "aangifte-Jansen.pdf", "url": "mxc://x/z"}, "Bestanden"
        )
        await refused(
            {
                "msgtype": "m.location",
                "body": "live",
                "geo_uri": "geo:51.6891,5.3029",
                "org.matrix.msc3488.asset": {"type": "m.live"},
            },
            "live locatie",
        )
        await refused(
            {"msgtype": "m.location", "body": "Locatie", "geo_uri": "geo:51.689123,5.302987"},
            "!ja",
        )
        await member.user.say(room, "!ja")
        place = await co.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("media") == "location", what="the place"
        )
        assert "geo:51.689,5.303" in place.fields["text"]
        assert "51.689123" not in str(place.source)

        desk_kinds = [c.get("msgtype") for c in in_desk(world, member)]
        assert desk_kinds == ["m.image", "m.text"]  # the photo and the confirmed place only
        trace = trace_of(member, sent_id)
        trace.mxc_urls.append(original_mxc)
        trace.file_names += [name, "aangifte-Jansen.pdf", "spraak.ogg"]
        trace.extra += [keys["key"]["k"], "51.689123", "Kerkstraat12"]
        assert_no_leaks([s.content for s in world.sent if s.room_id == desk], trace)
        assert_no_leaks([e.source for e in co.events if e.room_id == desk], trace)


async def test_blocks_reveals_links_long_texts_and_floods_on_a_real_homeserver(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(
        homeserver, make_account, tmp_path, coordinators_per_wijk=1, rate_limit_per_minute=8
    ) as world:
        member = await world.signed_up_member(make_account, "oost")
        other = await world.signed_up_member(make_account, "oost", name="ander")
        desk = world.room("oost", "desk")
        co = world.coordinator("oost")
        room = member.private_room

        # C09: the longest text a member's encrypted event can hold (~45,000 bytes once
        # Megolm's base64 is added) arrives in clean parts, all of them, in one thread.
        long = ("Lange melding over de buurt. " * 2100)[:45_000]
        await member.user.say(room, long)
        parts = await co.wait_for(
            lambda: (
                found
                if len(found := [e for e in co.in_room(desk) if e.fields.get("parts")]) > 1
                and len(found) == found[0].fields["parts"]
                else None
            ),
            what="every part of the long message",
        )
        assert "".join(p.fields["text"] for p in parts).replace(" ", "") == long.replace(" ", "")
        root = parts[0]
        assert root.fields["kind"] == "report"

        # Links: only allow-listed domains stay clickable for the member.
        await co.reply_in_thread(
            desk, root.event_id, "Zie https://www.politie.nl/x of https://t.example/a?u=1"
        )
        answer = await member.user.wait_for_event(
            lambda e: e.room_id == room and e.fields.get("kind") == "answer"
        )
        assert "https://www.politie.nl/x" in answer.body
        assert "hxxps://t[.]example/a?u=1" in answer.body and "t.example" not in answer.body

        # Choosing to be known: explained first, only `ja` reveals, in this thread only.
        await member.user.say(room, "!persoonlijk")
        explain = await member.user.wait_for_event(
            lambda e: e.room_id == room and "!persoonlijk ja" in e.body
        )
        assert member.user_id in explain.body
        assert not [e for e in co.in_room(desk) if e.fields.get("revealed")]
        await member.user.say(room, "!persoonlijk ja")
        reveal = await co.wait_for_event(lambda e: e.room_id == desk and e.fields.get("revealed"))
        assert reveal.fields["user_id"] == member.user_id
        assert reveal.content["m.relates_to"]["event_id"] == root.event_id
        assert reveal.content["m.mentions"] == {}

        # Blocks: the member behind M-0001 is blocked without anyone learning who it is.
        await co.say(desk, "!blokkeer M-0001")
        await member.user.wait_for_event(
            lambda e: e.room_id == room and "geblokkeerd" in e.body, what="the block notice"
        )
        await member.user.say(room, "!nieuw")
        await member.user.say(room, "Nog een melding")
        await member.user.wait_for(
            lambda: sum("geblokkeerd" in e.body for e in member.user.in_room(room)) >= 2,
            what="the second block notice",
        )

        # C14: a flood from one member is throttled with one notice; the other is unaffected.
        for number in range(12):
            await other.user.say(other.private_room, f"flood {number}")
        await other.user.wait_for_event(
            lambda e: e.room_id == other.private_room and "veel berichten" in e.body
        )
        await other.user.say(other.private_room, "!hulp")
        await co.sync(wait_ms=1000)
        floods = {e.fields.get("text") for e in co.in_room(desk) if "flood" in str(e.fields)}
        assert 1 <= len(floods) <= 8
        notices = [e for e in other.user.in_room(other.private_room) if "veel" in e.body]
        assert len(notices) == 1
        assert not any(e.fields.get("text") == "Nog een melding" for e in co.in_room(desk))

        # Nothing else about either member crossed: the reveal is the one intended exception.
        intended = [s.content for s in world.sent if s.room_id == desk and "revealed" not in str(s)]
        assert_no_leaks(intended, trace_of(member))
        assert_no_leaks(intended, trace_of(other))
        outside: list[Any] = [
            e.source for e in co.events if e.room_id == desk and not e.fields.get("revealed")
        ]
        assert_no_leaks(outside, trace_of(member))
        assert_no_leaks(outside, MemberTrace(user_id=other.user_id))


async def test_the_scan_every_world_ends_with_catches_a_member_identifier_outside_their_room(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    """The check `running_world` runs after every test sees each member and each identifier."""
    async with running_world(homeserver, make_account, tmp_path) as world:
        member = await world.signed_up_member(make_account, "oost")
        report = await member.user.say(member.private_room, "Er staat een busje voor nr. 4")
        desk = world.room("oost", "desk")
        await world.coordinator("oost").wait_for_event(
            lambda e: e.room_id == desk and "busje" in e.body, what="the report in the desk"
        )
        world.assert_no_member_leaks()  # what the bot really sent is clean
        assert member.display_name
        for identifier in (member.user_id, member.display_name, member.private_room, report):
            world.sent.append(Sent(desk, "m.room.message", {"body": f"zie {identifier}"}))
            with pytest.raises(AssertionError):
                world.assert_no_member_leaks()
            world.sent.pop()
