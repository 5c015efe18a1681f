"""On the real homeserver with the real bot: a member's photo fetched and decrypted by the
client, drafts kept encrypted on disk, and a logout that ends the device and wipes the folder."""

from __future__ import annotations

import asyncio
import io
import stat
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import nio
import pytest
from PIL import Image

from bintui.gateway import GatewayError, Report
from bintui.local_cache import DRAFTS_FILE
from bintui.matrix_gateway import SESSION_FILE, MatrixGateway, account_dir
from bintui.media_view import half_blocks
from bintui.settings import ClientSettings
from bridge.homeserver import EmbeddedHomeserver
from tests.conftest import MakeAccount
from tests.integration.harness import client_api, running_world

pytestmark = pytest.mark.integration


async def eventually(check: Callable[[], Any], timeout: float = 20) -> Any:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)
    return result


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (10, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


async def test_a_photo_is_fetched_from_the_homeserver_and_logout_ends_the_device(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path, coordinators_per_wijk=1) as world:
        coordinator = world.coordinator("oost")
        settings = ClientSettings(
            homeserver=homeserver.url,
            user_id=coordinator.user_id,
            password=coordinator.account.password,
            data_dir=tmp_path / "bintui",
            bot_user_id=world.settings.bot.user_id,
            cross_signing=False,
        )
        gateway = MatrixGateway(settings, sync_timeout_ms=500)
        await gateway.start(lambda: None)
        folder = account_dir(tmp_path / "bintui", coordinator.user_id)
        try:
            member = await world.signed_up_member(make_account, "oost")
            data = photo()
            uploaded, keys = await member.user.client.upload(
                io.BytesIO(data), content_type="image/jpeg", encrypt=True, filesize=len(data)
            )
            assert isinstance(uploaded, nio.UploadResponse) and keys is not None
            await member.user.send(
                member.private_room,
                {
                    "msgtype": "m.image",
                    "body": "IMG_0001.jpg",
                    "file": {"url": uploaded.content_uri, **keys},
                    "info": {"mimetype": "image/jpeg", "size": len(data)},
                },
            )
            report: Report = await eventually(lambda: gateway.reports() and gateway.reports()[0])
            (item,) = [i for i in report.items if i.media == "image"]
            assert item.file is not None and item.file.url != uploaded.content_uri
            pixels = await gateway.fetch_media(item.file)
            with Image.open(io.BytesIO(pixels)) as image:
                assert image.size == (40, 20)
            assert "▀" in half_blocks(pixels, 20, 5).plain
            # Only the homeserver's own media: another server's address is not even tried.
            with pytest.raises(GatewayError, match="own homeserver"):
                await gateway.fetch_media(replace(item.file, url="mxc://elders.example/abc"))

            # An unsent answer is on disk only encrypted, readable by its owner only.
            gateway.save_drafts({report.root_event_id: "Concept over de Beekstraat"})
            blob = (folder / DRAFTS_FILE).read_bytes()
            assert b"Beekstraat" not in blob
            assert stat.S_IMODE((folder / DRAFTS_FILE).stat().st_mode) == 0o600
            assert gateway.load_drafts() == {report.root_event_id: "Concept over de Beekstraat"}
            token = gateway._client.access_token if gateway._client else ""

            await gateway.logout()
        finally:
            await gateway.close()

        assert not folder.exists()  # session, crypto store, drafts: all gone
        status, body = await client_api(
            homeserver.url, token, "GET", "/_matrix/client/v3/account/whoami"
        )
        assert (status, body.get("errcode")) == (401, "M_UNKNOWN_TOKEN")
        assert not (tmp_path / "bintui" / SESSION_FILE).exists()
