"""The coordinator's cross-signing identity signs this bintui device (reusing the bot's code).

Police and coordinators on Element (which is moving to exclude unverified devices) only keep
encrypting to a device that its owner's identity signed. At start-up, after the first sync:

- the account has no identity yet: bintui creates one (`bridge.crosssign`), keeps its keys in
  the account's private folder (0600), stores them on the homeserver in secret storage under
  a new recovery key, and shows the coordinator that recovery key once, to write down;
- the account has one and this folder holds its keys: the device is signed (if not yet);
- the account has one but this device does not have the keys: bintui asks for the recovery
  key, reads the keys from secret storage and signs itself.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from nio import AsyncClient

from bridge.crosssign import CrossSigningError, CrossSigningKeys, ensure_cross_signing, save_keys

from . import secret_storage as ssss
from .gateway import Identity

__all__ = ["KEY_FILE", "Identity", "ensure_identity", "restore_with_recovery_key"]

KEY_FILE = "cross-signing.json"


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


async def _has_identity(client: AsyncClient) -> bool:
    state = await _call(
        client, "POST", "/_matrix/client/v3/keys/query", {"device_keys": {client.user_id: []}}
    )
    return isinstance(state, dict) and client.user_id in state.get("master_keys", {})


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
    """Sign this device with the coordinator's identity, creating the identity if needed."""
    key_file = folder / KEY_FILE
    try:
        if not await _has_identity(client):
            keys = CrossSigningKeys.generate()
            save_keys(key_file, keys)
            recovery_key = await _store_in_secret_storage(client, keys)
            await ensure_cross_signing(client, key_file)
            return Identity("created", recovery_key=recovery_key)
        if not key_file.exists():
            return Identity("needs_recovery_key")
        await ensure_cross_signing(client, key_file)
        return Identity("signed")
    except CrossSigningError as exc:
        return Identity("failed", message=str(exc))


async def restore_with_recovery_key(client: AsyncClient, folder: Path, typed: str) -> Identity:
    """Read the identity's keys from secret storage with the recovery key; sign this device."""
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
        keys = CrossSigningKeys.from_json(seeds)
        key_file = folder / KEY_FILE
        save_keys(key_file, keys)
        try:
            await ensure_cross_signing(client, key_file)
        except CrossSigningError:
            key_file.unlink(missing_ok=True)  # keys that do not match the server are no use
            raise
        return Identity("signed")
    except (CrossSigningError, ValueError) as exc:
        return Identity("failed", message=str(exc))
