"""Purging what the homeserver still keeps about a member, through Synapse's admin API.

Only when the operator gives the bot an admin token (`bot.admin_token`): after a photo was
relayed as a clean copy, the member's original upload is deleted; after a member left, their
private room is deleted and purged from the database. Without a token nothing happens here,
and `docs/threat-model.md` says what then stays on the homeserver.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlparse

import aiohttp

log = logging.getLogger(__name__)


class Purger:
    """Calls the admin API of the bot's own homeserver."""

    def __init__(self, homeserver: str, admin_token: str, server_name: str) -> None:
        self.homeserver = homeserver.rstrip("/")
        self.token = admin_token
        self.server_name = server_name

    async def _call(self, method: str, path: str, body: dict[str, object] | None = None) -> int:
        headers = {"Authorization": f"Bearer {self.token}"}
        timeout = aiohttp.ClientTimeout(total=60)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, self.homeserver + path, json=body, headers=headers) as r,
        ):
            await r.read()
            return r.status

    async def media(self, mxc_url: str) -> bool:
        """Delete a member's original upload, if it lives on this homeserver."""
        parsed = urlparse(mxc_url)
        media_id = parsed.path.lstrip("/")
        if parsed.scheme != "mxc" or parsed.netloc != self.server_name or not media_id:
            return False  # another server's media: not ours to delete
        status = await self._call(
            "DELETE",
            f"/_synapse/admin/v1/media/{quote(parsed.netloc)}/{quote(media_id, safe='')}",
        )
        if status != 200:
            log.warning("purging a member's original media failed (HTTP %d)", status)
        return status == 200

    async def room(self, room_id: str) -> bool:
        """Delete and purge a room the bot has left (a member's private room after !afmelden)."""
        status = await self._call(
            "DELETE",
            f"/_synapse/admin/v2/rooms/{quote(room_id, safe='')}",
            {"purge": True, "block": False},
        )
        if status != 200:
            log.warning("purging a member's private room failed (HTTP %d)", status)
        return status == 200


def original_media_url(content: dict[str, object]) -> str | None:
    """The mxc URL of a member's image (encrypted `file.url` or plain `url`)."""
    file = content.get("file")
    if isinstance(file, dict) and isinstance(file.get("url"), str):
        return str(file["url"])
    url = content.get("url")
    return url if isinstance(url, str) else None
