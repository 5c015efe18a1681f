"""With an admin token the bot purges a member's original photo and, after !afmelden, their
private room from the homeserver."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import quote

import nio
from PIL import Image
from pydantic import SecretStr

from bridge.homeserver import EmbeddedHomeserver
from tests.conftest import MakeAccount
from tests.integration.harness import client_api, running_world


def admin_bot(make_account: MakeAccount) -> MakeAccount:
    """Register the world's bot as a homeserver admin (the operator's choice in production)."""

    def make(prefix: str = "user", **kwargs: object) -> object:
        if prefix == "bin-bot":
            kwargs["admin"] = True
        return make_account(prefix, **kwargs)  # type: ignore[arg-type]

    return make  # type: ignore[return-value]


async def test_the_original_photo_and_a_leavers_private_room_are_purged(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, admin_bot(make_account), tmp_path) as world:
        # The operator hands the bot an admin token (here: the bot is an admin itself).
        token = world.settings.bot.access_token
        assert isinstance(token, SecretStr)
        world.settings.bot.admin_token = token
        await world.restart_bot()
        assert world.bridge.purger is not None
        member = await world.signed_up_member(make_account, "oost")
        anna = world.coordinator("oost")
        desk = world.room("oost", "desk")

        picture = io.BytesIO()
        Image.new("RGB", (32, 32), (200, 10, 10)).save(picture, "JPEG")
        data = picture.getvalue()
        upload, keys = await member.user.client.upload(
            io.BytesIO(data),
            content_type="image/jpeg",
            filename="x.jpg",
            encrypt=True,
            filesize=len(data),
        )
        assert isinstance(upload, nio.UploadResponse) and keys is not None
        await member.user.send(
            member.private_room,
            {
                "msgtype": "m.image",
                "body": "x.jpg",
                "info": {"mimetype": "image/jpeg", "size": len(data)},
                "file": {**keys, "url": upload.content_uri},
            },
        )
        await anna.wait_for_event(
            lambda e: e.room_id == desk and e.content.get("msgtype") == "m.image",
            what="the cleaned photo",
        )
        server, media_id = upload.content_uri.removeprefix("mxc://").split("/", 1)
        path = f"/_matrix/client/v1/media/download/{server}/{media_id}"
        for _ in range(40):
            status, _ = await client_api(
                homeserver.url, member.user.account.access_token, "GET", path
            )
            if status == 404:
                break
            await member.user.sync(wait_ms=250)
        assert status == 404

        await member.user.say(member.private_room, "!afmelden ja")
        room_path = f"/_synapse/admin/v1/rooms/{quote(member.private_room, safe='')}"
        for _ in range(60):
            status, _ = await client_api(homeserver.url, token.get_secret_value(), "GET", room_path)
            if status == 404:
                break
            await member.user.sync(wait_ms=250)
        assert status == 404
