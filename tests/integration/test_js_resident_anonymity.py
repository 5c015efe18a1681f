"""The js resident's photos, edits and deletions as Element sends them, cleaned at the desk."""

from __future__ import annotations

import io
from pathlib import Path

import nio
from nio.crypto.attachments import decrypt_attachment
from PIL import Image

from bridge.homeserver import EmbeddedHomeserver
from bridge.leakscan import assert_no_leaks
from tests.conftest import MakeAccount
from tests.integration.harness import running_world
from tests.integration.js_harness import (
    assert_bot_leaks_nothing,
    desk_copy_redacted,
    desk_event,
    js_member,
)
from tests.js.resident import JsResident

PHOTO_NAME = "IMG_20261201_Kerkstraat12_Jansen.jpg"
EXIF_SECRETS = ("SENTINELMAKE", "Pixel 7 Pro", "2026:12:01 09:15:00")


def phone_photo(path: Path) -> Path:
    """A 64x48 JPEG as a phone writes it: camera, time, GPS, and 'rotate 90° to view'."""
    image = Image.new("RGB", (64, 48), (30, 60, 200))
    exif = Image.Exif()
    exif[0x010F] = EXIF_SECRETS[0]  # Make
    exif[0x0110] = EXIF_SECRETS[1]  # Model
    exif[0x0132] = EXIF_SECRETS[2]  # DateTime
    exif[0x0112] = 6  # Orientation: the pixels must be turned to be seen upright
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 5.0, 13.0), 3: "E", 4: (4.0, 18.0, 7.0)})
    image.save(path, format="JPEG", exif=exif)
    assert Image.open(path).getexif().get_ifd(0x8825), "the test photo lost its GPS"
    return path


async def test_a_js_residents_photo_with_gps_reaches_the_desk_only_as_a_clean_new_upload(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with (
        running_world(homeserver, make_account, tmp_path) as world,
        JsResident.running() as js,
    ):
        member = await js_member(world, make_account, js)
        coordinator = world.coordinator("oost")
        sent = await member.send_photo(phone_photo(tmp_path / PHOTO_NAME), 64, 48)

        report = await desk_event(world, "report", what="the photo in the desk")
        content = report.content
        assert content["msgtype"] == "m.image"
        assert report.fields.get("media") == "image"
        file = content["file"]
        assert file["url"] not in sent["mxc"], "the resident's upload was reused"
        assert file["key"]["k"] != sent["content"]["file"]["key"]["k"], "the key was reused"
        info = content.get("info", {})
        assert not {"thumbnail_file", "thumbnail_info", "thumbnail_url"} & set(info), info
        assert "blurhash" not in str(content).lower(), "Element's blurhash crossed"
        assert content.get("filename") == "foto-M-0001.jpg"
        for part in ("IMG_", "Kerkstraat", "Jansen"):
            assert part not in str(content), f"{part!r} of the file name crossed"

        download = await coordinator.client.download(mxc=file["url"])
        assert isinstance(download, nio.DownloadResponse), download
        data = decrypt_attachment(
            download.body, file["key"]["k"], file["hashes"]["sha256"], file["iv"]
        )
        clean = Image.open(io.BytesIO(data))
        assert clean.size == (48, 64), "the orientation was not applied to the pixels"
        assert not clean.getexif(), f"EXIF crossed: {dict(clean.getexif())}"
        for secret in EXIF_SECRETS:
            assert secret.encode() not in data, f"{secret!r} crossed in the bytes"

        assert_bot_leaks_nothing(world, member, "Kerkstraat12", *EXIF_SECRETS)


async def test_a_js_residents_edit_replaces_the_desk_copy_and_a_deletion_removes_it(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with (
        running_world(homeserver, make_account, tmp_path) as world,
        JsResident.running() as js,
    ):
        member = await js_member(world, make_account, js)
        original = "Ik woon op Kerkstraat 12 en zag iemand bij de achterdeur van nummer 14"
        edited = "Ik zag iemand bij de achterdeur van nummer 14"

        first_id = await member.say(original)
        first = await desk_event(world, "report", original, "the report")

        mark = js.last_seq
        before_edit = len(world.sent)
        edit_id = await js.edit(member.private_room, first_id, edited)
        member.sent.append(edit_id)
        copy = await desk_event(world, "member_message", edited, "the edited copy")
        assert copy.fields.get("edited") is True
        assert copy.fields["report"] == "M-0001"
        relation = copy.content["m.relates_to"]
        assert relation["rel_type"] == "m.thread", "an edit must never be an m.replace"
        assert relation["event_id"] == first.event_id
        assert "m.new_content" not in copy.content
        assert " * " not in copy.fields["text"], "Element's ' * ' edit fallback crossed"
        await desk_copy_redacted(world, first.event_id)
        await member.notice_after(mark, "bewerking")

        mark = js.last_seq
        member.sent.append(await js.redact(member.private_room, first_id))
        await desk_copy_redacted(world, copy.event_id)
        await member.notice_after(mark, "verwijderd")

        assert_bot_leaks_nothing(world, member)
        # The address was in the first copy only (redacted above): nothing sent since has it.
        own_rooms = (member.private_room, member.dm_room)
        since = [s.content for s in world.sent[before_edit:] if s.room_id not in own_rooms]
        assert since, "the bot sent nothing to the desk after the edit"
        assert_no_leaks(since, member.trace("Kerkstraat 12"))
