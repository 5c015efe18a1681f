"""The bot's one-time and fallback keys: a burst of new members never finds none left.

Every member client that starts an Olm session with the bot claims one of its one-time keys.
nio tops them up after each sync, but it ignores a count of zero (so once every key was
claimed it never uploads again) and it has no fallback key (so a burst of claims between two
syncs finds nothing, and those members' first messages cannot be decrypted). Here the zero
count reaches nio, and the bot keeps a signed fallback key on the homeserver, which Synapse
hands out when the one-time keys run out.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import nio

from bridge.store import Store

log = logging.getLogger(__name__)

ALGORITHM = "signed_curve25519"
FALLBACK_UPLOADED_AT = "fallback_key_uploaded_at"
FALLBACK_ROTATE_AFTER_S = 3600.0
"""A fallback key that may have been handed out is replaced, but not more often than this:
the previous one stays usable for messages in flight, the one before that does not."""


def note_key_count(client: nio.AsyncClient, response: nio.SyncResponse) -> int | None:
    """Give nio the server's count of unclaimed one-time keys, zero included.

    Returns the count (None if the sync did not report one).
    """
    count = response.device_key_count.signed_curve25519
    if count is None or client.olm is None:
        return None
    if count == 0:
        # nio skips a falsy count and would keep believing the last (full) one.
        client.olm.uploaded_key_count = 0
    return int(count)


async def keep_fallback_key(client: nio.AsyncClient, store: Store, exhausted: bool) -> bool:
    """Upload a fallback key if none was, or replace it once the one-time keys ran out.

    Returns True when a key was uploaded. The private half is saved in the crypto store
    before the public half leaves the process, so a crash never publishes a key the bot
    cannot use.
    """
    olm = client.olm
    if olm is None or not olm.account.shared:
        return False
    account: Any = olm.account._account  # nio's wrapper does not expose fallback keys
    uploaded_at = store.get_meta(FALLBACK_UPLOADED_AT)
    stale = uploaded_at is None or (
        exhausted and time.time() - float(uploaded_at) > FALLBACK_ROTATE_AFTER_S
    )
    if not account.fallback_key:  # an unpublished one (a crash before its upload) goes first
        if not stale:
            return False
        account.generate_fallback_key()
        olm.save_account()
    fallback = {
        f"{ALGORITHM}:{key_id}": _signed(olm, client, key.to_base64(), fallback=True)
        for key_id, key in account.fallback_key.items()
    }
    # One-time keys generated but never published (a failed upload) go along, since marking
    # keys as published covers both kinds.
    one_time = {
        f"{ALGORITHM}:{key_id}": _signed(olm, client, key, fallback=False)
        for key_id, key in olm.account.one_time_keys["curve25519"].items()
    }
    body: dict[str, Any] = {"fallback_keys": fallback}
    if one_time:
        body["one_time_keys"] = one_time
    response = await client.send(
        "POST",
        "/_matrix/client/v3/keys/upload",
        nio.Api.to_json(body),
        headers={"Authorization": f"Bearer {client.access_token}"},
    )
    try:
        if response.status != 200:
            raise ConnectionError(f"uploading the fallback key failed: {response.status}")
        answer = await response.json(content_type=None)
    finally:
        response.release()
    account.mark_keys_as_published()
    olm.save_account()
    counts = answer.get("one_time_key_counts") if isinstance(answer, dict) else None
    if isinstance(counts, dict) and isinstance(counts.get(ALGORITHM), int):
        olm.uploaded_key_count = counts[ALGORITHM]
    store.set_meta(FALLBACK_UPLOADED_AT, repr(time.time()))
    log.info("fallback key uploaded")
    return True


def _signed(olm: Any, client: nio.AsyncClient, key: str, *, fallback: bool) -> dict[str, Any]:
    """A key object signed by the bot's device (`fallback` is part of what is signed)."""
    obj: dict[str, Any] = {"key": key}
    if fallback:
        obj["fallback"] = True
    signature = olm.sign_json(obj)
    obj["signatures"] = {client.user_id: {f"ed25519:{client.device_id}": signature}}
    return obj


def drop_own_user(client: nio.AsyncClient) -> None:
    """Do not query the bot's own device list again once it is known.

    The bot has one device (the identity guard refuses another), yet Synapse lists the bot's
    own user among `device_lists.changed` in nearly every sync once it is in many rooms
    (measured with 1,000 member rooms: 125 of 141 syncs), which cost a key query before every
    relayed message.
    """
    olm = client.olm
    if olm is not None and client.user_id in olm.tracked_users:
        olm.users_for_key_query.discard(client.user_id)


async def query_keys(client: nio.AsyncClient) -> None:
    """Ask for the device keys nio is missing, and start a new room key wherever someone
    gained a device (a coordinator's new client).

    nio keeps sharing an existing outbound session only with the devices it was first shared
    with, so without the rotation a coordinator who logs in on a new device would see nothing
    the bot posts until the weekly rotation.
    """
    before = _known_devices(client)
    await client.keys_query()
    new_users = {user for user, _ in _known_devices(client) - before}
    if not new_users:
        return
    for room in client.rooms.values():
        if new_users & set(room.users):
            client.invalidate_outbound_session(room.room_id)


def _known_devices(client: nio.AsyncClient) -> set[tuple[str, str]]:
    return {(d.user_id, d.id) for d in client.device_store if not d.deleted}
