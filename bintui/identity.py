"""The coordinator's cross-signing identity signs this bintui device (reusing the bot's code).

Police and coordinators on Element (which is moving to exclude unverified devices) only keep
encrypting to a device that its owner's identity signed. The identity's three private keys
(master, self-signing, user-signing) live on the homeserver in secret storage, encrypted with
the coordinator's recovery key; bintui holds them in memory only while it signs its own device
and never writes them to disk. What it keeps is `identity.json` (0600, no secrets): the device
it signed and the identity's public master key. At start-up, after the first sync:

- the account has no identity yet: bintui creates one (`bridge.crosssign`), stores its keys in
  secret storage under a new recovery key, signs this device, and shows the coordinator that
  recovery key once, to write down;
- `identity.json` names this device and the homeserver still shows this device signed by that
  master key's self-signing key (and the device's key is the one in our encryption store):
  signed, without any private key;
- otherwise (a new device, or the identity was reset): bintui asks for the recovery key, reads
  the keys from secret storage, signs itself, and forgets the keys again.

A folder from an older bintui may still hold the private keys in `cross-signing.json`: they
are used once to make sure the device is signed, then the file is deleted (a file whose keys
are no longer the account's identity is deleted too).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from nio import AsyncClient

from bridge.crosssign import (
    CrossSigningError,
    CrossSigningKeys,
    load_keys,
    sign_with_keys,
    verify_device_chain,
)

from . import secret_storage as ssss
from .gateway import Identity
from .local_cache import write_private

__all__ = ["KEY_FILE", "MARKER_FILE", "Identity", "ensure_identity", "restore_with_recovery_key"]

KEY_FILE = "cross-signing.json"
"""Where bintui before `identity.json` kept the private keys; now only read once, then deleted."""
MARKER_FILE = "identity.json"
"""Which device bintui signed, and with which identity (public keys only)."""


async def _call(client: AsyncClient, method: str, path: str, body: Any = None) -> Any:
    response = await client.send(
        method,
        path,
        data=None if body is None else json.dumps(body),
        headers={
            "Authorization": f"Bearer {client.access_token}",
            "Content-Type": "application/json",
        },
    )
    try:
        status = int(response.status)
        try:
            data = await response.json(content_type=None)
        except (ValueError, UnicodeDecodeError):
            data = None
    finally:
        response.release()
    if status == 404 and method == "GET":
        return None
    if status != 200:
        errcode = data.get("errcode", "") if isinstance(data, dict) else ""
        raise CrossSigningError(f"{method} {path.split('?')[0]} failed: HTTP {status} {errcode}")
    return data


def _account_data_path(client: AsyncClient, kind: str) -> str:
    user = quote(client.user_id, safe="")
    return f"/_matrix/client/v3/user/{user}/account_data/{quote(kind, safe='')}"


async def _get(client: AsyncClient, kind: str) -> Any:
    return await _call(client, "GET", _account_data_path(client, kind))


async def _put(client: AsyncClient, kind: str, content: dict[str, Any]) -> None:
    await _call(client, "PUT", _account_data_path(client, kind), content)


async def _query_own_keys(client: AsyncClient) -> dict[str, Any]:
    state = await _call(
        client, "POST", "/_matrix/client/v3/keys/query", {"device_keys": {client.user_id: []}}
    )
    return state if isinstance(state, dict) else {}


def _server_master_key(client: AsyncClient, state: dict[str, Any]) -> str | None:
    """The public master key the homeserver shows for our account, if any."""
    master = state.get("master_keys", {}).get(client.user_id)
    keys = master.get("keys") if isinstance(master, dict) else None
    if not isinstance(keys, dict) or len(keys) != 1:
        return None
    (public,) = keys.values()
    return public if isinstance(public, str) else None


async def _sign_and_forget(client: AsyncClient, folder: Path, keys: CrossSigningKeys) -> None:
    """Sign this device with `keys` (in memory), then keep only the public marker on disk."""
    status = await sign_with_keys(client, keys)
    marker = {
        "user_id": client.user_id,
        "device_id": client.device_id,
        "master_key": status.master_key,
    }
    write_private(folder / MARKER_FILE, json.dumps(marker, indent=2).encode("utf-8") + b"\n")
    _remove_key_file(folder)


def _remove_key_file(folder: Path) -> None:
    """Delete the private keys an older bintui kept here (and any half-written copy)."""
    (folder / KEY_FILE).unlink(missing_ok=True)
    for leftover in folder.glob(f".{KEY_FILE}.*.tmp"):  # bridge.crosssign.save_keys' temp files
        leftover.unlink(missing_ok=True)


def _marked_signed(client: AsyncClient, folder: Path, state: dict[str, Any]) -> bool:
    """Whether `identity.json` names this device and the server still shows it signed by that
    identity; a marker that no longer holds is deleted."""
    marker_file = folder / MARKER_FILE
    try:
        marker = json.loads(marker_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError, ValueError):
        marker = None
    if _marker_holds(client, marker, state):
        return True
    marker_file.unlink(missing_ok=True)
    return False


def _marker_holds(client: AsyncClient, marker: Any, state: dict[str, Any]) -> bool:
    user_id: str = client.user_id
    device_id: str = client.device_id
    if not isinstance(marker, dict) or client.olm is None:
        return False
    master = marker.get("master_key")
    if marker.get("user_id") != user_id or marker.get("device_id") != device_id:
        return False
    if not isinstance(master, str):
        return False
    try:
        server_device_key = state["device_keys"][user_id][device_id]["keys"][f"ed25519:{device_id}"]
    except (KeyError, TypeError):
        return False
    # The key the server has for this device is the one in our encryption store, and it is
    # signed by the self-signing key of the identity we signed it with (still the account's).
    return server_device_key == client.olm.account.identity_keys["ed25519"] and verify_device_chain(
        state, user_id, device_id, master_key=master
    )


async def _store_in_secret_storage(client: AsyncClient, keys: CrossSigningKeys) -> str:
    """Put the three private keys in secret storage under a new key; its recovery key."""
    key = os.urandom(32)
    key_id = secrets.token_urlsafe(16)
    await _put(client, ssss.KEY_PREFIX + key_id, ssss.key_description(key))
    for which, name in ssss.CROSS_SIGNING_SECRETS.items():
        plaintext = keys.to_json()[which]
        await _put(client, name, {"encrypted": {key_id: ssss.encrypt_secret(key, name, plaintext)}})
    await _put(client, ssss.DEFAULT_KEY, {"key": key_id})
    return ssss.encode_recovery_key(key)


async def ensure_identity(client: AsyncClient, folder: Path) -> Identity:
    """Sign this device with the coordinator's identity, creating the identity if needed.

    No private key stays on disk: "signed" on a later start comes from `identity.json` and the
    homeserver's own account of the signatures; "needs_recovery_key" when those do not hold.
    """
    try:
        state = await _query_own_keys(client)
        server_master = _server_master_key(client, state)
        if client.user_id not in state.get("master_keys", {}):
            keys = CrossSigningKeys.generate()
            # In secret storage before the upload: the identity never exists without them.
            recovery_key = await _store_in_secret_storage(client, keys)
            await _sign_and_forget(client, folder, keys)
            return Identity("created", recovery_key=recovery_key)
        old_keys = load_keys(folder / KEY_FILE)  # an older bintui's key file, if any
        if old_keys is not None and old_keys.public("master") == server_master:
            await _sign_and_forget(client, folder, old_keys)
            return Identity("signed")
        _remove_key_file(folder)  # none, or an identity the account no longer has
        if _marked_signed(client, folder, state):
            return Identity("signed")
        return Identity("needs_recovery_key")
    except CrossSigningError as exc:
        return Identity("failed", message=str(exc))


async def restore_with_recovery_key(client: AsyncClient, folder: Path, typed: str) -> Identity:
    """Read the identity's keys from secret storage with the recovery key, sign this device
    with them, and keep only `identity.json` (the keys are never written to disk)."""
    try:
        key = ssss.decode_recovery_key(typed)
    except ValueError as exc:
        return Identity("needs_recovery_key", message=str(exc))
    try:
        default = await _get(client, ssss.DEFAULT_KEY)
        key_id = default.get("key") if isinstance(default, dict) else None
        if not isinstance(key_id, str):
            return Identity("failed", message="the account has no secret storage")
        if not ssss.key_matches(key, await _get(client, ssss.KEY_PREFIX + key_id)):
            return Identity("needs_recovery_key", message="this recovery key does not fit")
        seeds: dict[str, str] = {}
        for which, name in ssss.CROSS_SIGNING_SECRETS.items():
            stored = await _get(client, name)
            encrypted = stored.get("encrypted", {}) if isinstance(stored, dict) else {}
            seeds[which] = ssss.decrypt_secret(key, name, encrypted.get(key_id))
        await _sign_and_forget(client, folder, CrossSigningKeys.from_json(seeds))
        return Identity("signed")
    except (CrossSigningError, ValueError) as exc:
        return Identity("failed", message=str(exc))
