"""Matrix cross-signing for nio: a stable identity (MSK, SSK, USK) that signs our own device."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nio import AsyncClient, KeysUploadError

__all__ = [
    "CrossSigningError",
    "CrossSigningKeys",
    "CrossSigningStatus",
    "canonical_json",
    "ensure_cross_signing",
    "load_keys",
    "save_keys",
    "sign_json",
    "sign_with_keys",
    "verify_device_chain",
    "verify_signed_json",
]

logger = logging.getLogger(__name__)

KEY_NAMES: Final = ("master", "self_signing", "user_signing")
_SEED_LENGTH: Final = 32
_MAX_SAFE_INT: Final = 2**53 - 1
_KEYS_QUERY: Final = "/_matrix/client/v3/keys/query"
_SIGNING_UPLOAD: Final = "/_matrix/client/v3/keys/device_signing/upload"
_SIGNATURES_UPLOAD: Final = "/_matrix/client/v3/keys/signatures/upload"


class CrossSigningError(Exception):
    """Cross-signing cannot be set up safely; the message says what is wrong and what to do."""


# --- encoding -------------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    """Unpadded standard base64, as Matrix uses for keys and signatures."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    """Decode base64 with or without padding; raises ValueError on anything else."""
    if not isinstance(text, str):
        raise ValueError("base64 value must be a string")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError("invalid base64") from exc


def _normalise(value: Any) -> Any:
    """Check a value fits Matrix canonical JSON: integers in the safe range, no real floats."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            raise ValueError(f"integer out of the canonical JSON range: {value}")
        return value
    if isinstance(value, float):
        # Python's json parses `1e10` and `-0.0` as floats; the spec treats them as integers.
        if value.is_integer() and -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            return int(value)
        raise ValueError(f"floats are not allowed in canonical JSON: {value!r}")
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"object keys must be strings, not {type(key).__name__}")
            out[key] = _normalise(item)
        return out
    if isinstance(value, list | tuple):
        return [_normalise(item) for item in value]
    raise ValueError(f"not a JSON value: {type(value).__name__}")


def canonical_json(obj: Any) -> bytes:
    """Encode `obj` as Matrix canonical JSON: sorted keys, no whitespace, raw UTF-8."""
    return json.dumps(
        _normalise(obj),
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
        allow_nan=False,
    ).encode("utf-8")


def _signable(obj: dict[str, Any]) -> bytes:
    """The bytes a Matrix signature covers: the object without `signatures` and `unsigned`."""
    return canonical_json({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})


# --- signing --------------------------------------------------------------------------------


def _private_key(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != _SEED_LENGTH:
        raise ValueError("an ed25519 seed is 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def _public_b64(seed: bytes) -> str:
    return _b64encode(_private_key(seed).public_key().public_bytes_raw())


def sign_json(obj: dict[str, Any], seed: bytes, user_id: str, key_id: str) -> dict[str, Any]:
    """Return a copy of `obj` with an ed25519 signature by `seed` under `user_id`/`key_id`.

    Existing signatures are kept; `unsigned` is kept but not signed, as the spec requires.
    """
    signature = _b64encode(_private_key(seed).sign(_signable(obj)))
    signed = dict(obj)
    old = obj.get("signatures")
    signatures: dict[str, dict[str, str]] = (
        {user: dict(sigs) for user, sigs in old.items()} if isinstance(old, dict) else {}
    )
    signatures.setdefault(user_id, {})[key_id] = signature
    signed["signatures"] = signatures
    return signed


def verify_signed_json(obj: dict[str, Any], public_key_b64: str, user_id: str, key_id: str) -> bool:
    """True iff `obj` carries a valid signature by `public_key_b64` under `user_id`/`key_id`."""
    try:
        signature = _b64decode(obj["signatures"][user_id][key_id])
        public_key = Ed25519PublicKey.from_public_bytes(_b64decode(public_key_b64))
        public_key.verify(signature, _signable(obj))
    except (KeyError, TypeError, ValueError, InvalidSignature):
        return False
    return True


def _cross_signing_public_key(key: Any, user_id: str, usage: str) -> str:
    """The public key of a cross-signing key object, after the checks Synapse also makes."""
    if not isinstance(key, dict) or key.get("user_id") != user_id:
        raise ValueError(f"{usage} key does not belong to {user_id}")
    usages = key.get("usage")
    if not isinstance(usages, list) or usage not in usages:
        raise ValueError(f"{usage} key has the wrong usage")
    keys = key.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        raise ValueError(f"{usage} key must hold exactly one key")
    ((key_id, public),) = keys.items()
    if not isinstance(public, str) or key_id != f"ed25519:{public}":
        raise ValueError(f"{usage} key id does not match its key")
    return public


def verify_device_chain(
    keys_query_response: dict[str, Any],
    user_id: str,
    device_id: str,
    *,
    master_key: str | None = None,
) -> bool:
    """True iff, in a /keys/query response, device ← self-signing key ← master key all verify.

    The device must also be self-signed by its own ed25519 key. Pass `master_key` (unpadded
    base64) to pin the identity; without it, any master key the server returns is accepted as
    the root, which proves the chain is consistent but not whose it is.
    """
    try:
        msk = _cross_signing_public_key(
            keys_query_response["master_keys"][user_id], user_id, "master"
        )
        if master_key is not None and msk != master_key:
            return False
        ssk_obj = keys_query_response["self_signing_keys"][user_id]
        ssk = _cross_signing_public_key(ssk_obj, user_id, "self_signing")
        if not verify_signed_json(ssk_obj, msk, user_id, f"ed25519:{msk}"):
            return False
        device = keys_query_response["device_keys"][user_id][device_id]
        if device.get("user_id") != user_id or device.get("device_id") != device_id:
            return False
        device_key = device["keys"][f"ed25519:{device_id}"]
        return verify_signed_json(
            device, device_key, user_id, f"ed25519:{device_id}"
        ) and verify_signed_json(device, ssk, user_id, f"ed25519:{ssk}")
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


# --- keys and the key file ------------------------------------------------------------------


@dataclass(frozen=True)
class CrossSigningKeys:
    """The three private ed25519 seeds of a cross-signing identity. Never printed."""

    master: bytes = field(repr=False)
    self_signing: bytes = field(repr=False)
    user_signing: bytes = field(repr=False)

    def __post_init__(self) -> None:
        for name in KEY_NAMES:
            seed = getattr(self, name)
            if not isinstance(seed, bytes) or len(seed) != _SEED_LENGTH:
                raise CrossSigningError(f"the {name} key must be a 32-byte ed25519 seed")

    def __repr__(self) -> str:
        return f"CrossSigningKeys(master public key {self.public('master')})"

    @classmethod
    def generate(cls) -> CrossSigningKeys:
        """Three fresh random keys."""
        return cls(*(Ed25519PrivateKey.generate().private_bytes_raw() for _ in KEY_NAMES))

    def seed(self, which: str) -> bytes:
        """The private seed for "master", "self_signing" or "user_signing"."""
        if which not in KEY_NAMES:
            raise ValueError(f"unknown cross-signing key {which!r}; expected one of {KEY_NAMES}")
        seed: bytes = getattr(self, which)
        return seed

    def public(self, which: str) -> str:
        """The unpadded base64 public key for "master", "self_signing" or "user_signing"."""
        return _public_b64(self.seed(which))

    def to_json(self) -> dict[str, str]:
        """The seeds as unpadded base64, for the key file."""
        return {name: _b64encode(self.seed(name)) for name in KEY_NAMES}

    @classmethod
    def from_json(cls, data: Any) -> CrossSigningKeys:
        """Read what `to_json` wrote; raises CrossSigningError on anything else."""
        if not isinstance(data, dict):
            raise CrossSigningError("cross-signing key data must be a JSON object")
        seeds: list[bytes] = []
        for name in KEY_NAMES:
            try:
                seeds.append(_b64decode(data[name]))
            except (KeyError, ValueError) as exc:
                raise CrossSigningError(f"cross-signing key data has no valid {name!r}") from exc
        return cls(*seeds)

    def key_object(self, which: str, user_id: str) -> dict[str, Any]:
        """The unsigned public key object for upload: {user_id, usage, keys}."""
        public = self.public(which)
        return {"user_id": user_id, "usage": [which], "keys": {f"ed25519:{public}": public}}


def load_keys(path: Path) -> CrossSigningKeys | None:
    """Read the key file; None if it does not exist. Refuses a file others could read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CrossSigningError(
            f"cannot open cross-signing key file {path}: {exc.strerror}"
        ) from exc
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise CrossSigningError(f"cross-signing key file {path} is not a regular file")
        if mode & 0o077:
            raise CrossSigningError(
                f"cross-signing key file {path} is readable or writable by group or others "
                f"(mode {stat.S_IMODE(mode):04o}); it holds private keys. "
                f"Run `chmod 600 {path}` if nobody else could have read it, else treat the "
                "identity as compromised."
            )
        raw = handle.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CrossSigningError(f"cross-signing key file {path} is not valid JSON") from exc
    try:
        return CrossSigningKeys.from_json(data)
    except CrossSigningError as exc:
        raise CrossSigningError(f"cross-signing key file {path}: {exc}") from exc


def save_keys(path: Path, keys: CrossSigningKeys) -> None:
    """Write the key file atomically with mode 0600 (a new parent directory gets 0700)."""
    parent = path.parent
    if not parent.exists():
        parent.mkdir(mode=0o700, parents=True)
        os.chmod(parent, 0o700)  # mkdir's mode is filtered by the umask
    data = json.dumps(keys.to_json(), indent=2, sort_keys=True).encode("utf-8") + b"\n"
    tmp = parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # Make the rename itself durable.
    dir_fd = os.open(parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# --- talking to the homeserver --------------------------------------------------------------


@dataclass(frozen=True)
class CrossSigningStatus:
    """What `ensure_cross_signing` found or did."""

    master_key: str
    self_signing_key: str
    device_signed: bool  # always True when returned: ensure_cross_signing raises otherwise
    created: bool  # the cross-signing keys were uploaded during this call


async def _request(client: AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST JSON with the client's session and token; raise CrossSigningError on failure."""
    response = await client.send(
        "POST",
        path,
        data=json.dumps(body),
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
    if status == 401 and isinstance(data, dict) and "flows" in data:
        raise CrossSigningError(
            f"the homeserver wants interactive authentication (a password) for {path}; it "
            "accepts new cross-signing keys without it only when the account has none yet"
        )
    if status != 200 or not isinstance(data, dict):
        errcode = data.get("errcode", "") if isinstance(data, dict) else ""
        error = data.get("error", "") if isinstance(data, dict) else ""
        raise CrossSigningError(f"{path} failed: HTTP {status} {errcode} {error}".rstrip())
    return data


async def _query_own_keys(client: AsyncClient) -> dict[str, Any]:
    return await _request(client, _KEYS_QUERY, {"device_keys": {client.user_id: []}})


def _check_failures(response: dict[str, Any], what: str) -> None:
    failures = response.get("failures")
    if failures:
        raise CrossSigningError(f"the homeserver rejected {what}: {json.dumps(failures)}")


def _server_key(state: dict[str, Any], field_name: str, user_id: str, usage: str) -> str | None:
    """Our public cross-signing key of one kind as the server has it, or None."""
    key = state.get(field_name, {}).get(user_id)
    if key is None:
        return None
    try:
        return _cross_signing_public_key(key, user_id, usage)
    except ValueError as exc:
        raise CrossSigningError(f"the homeserver returned a malformed {usage} key: {exc}") from exc


def _check_same_identity(
    state: dict[str, Any], user_id: str, keys: CrossSigningKeys | None, key_file: Path | None
) -> CrossSigningKeys:
    """Refuse to go on when the server's identity is not the one in our key file (or, with no
    key file, not the one whose keys we were given)."""
    server = {
        name: _server_key(state, f"{name}_keys", user_id, name)
        for name in KEY_NAMES  # master_keys, self_signing_keys, user_signing_keys
    }
    if keys is None:
        raise CrossSigningError(
            f"{user_id} already has cross-signing keys on the homeserver (master key "
            f"{server['master']}) but the key file {key_file} does not exist. Restore the key "
            "file from a backup; replacing the identity is a deliberate act that needs the "
            "account password and makes every member see a new, unverified identity."
        )
    for name in KEY_NAMES:
        if server[name] != keys.public(name) and key_file is None:
            raise CrossSigningError(
                f"the {name.replace('_', '-')} key of {user_id} on the homeserver "
                f"({server[name] or 'missing'}) is not the one given ({keys.public(name)}): "
                "these keys belong to another identity than the account's current one"
            )
        if server[name] != keys.public(name):
            raise CrossSigningError(
                f"the {name.replace('_', '-')} key of {user_id} on the homeserver "
                f"({server[name] or 'missing'}) is not the one in {key_file} "
                f"({keys.public(name)}). The identity will not be replaced silently: restore the "
                "matching key file, or reset cross-signing deliberately with the account "
                "password."
            )
    return keys


def _device_signed(olm: Any, obj: dict[str, Any], user_id: str, device_id: str) -> dict[str, Any]:
    """`obj` signed by the device's own ed25519 key, which only nio's olm account holds."""
    signature: str = olm.sign_json(obj)  # nio signs its own canonical JSON of `obj`
    signed = {**obj, "signatures": {user_id: {f"ed25519:{device_id}": signature}}}
    # Synapse does not check a device signature on an uploaded master key, so check it here.
    key_id = f"ed25519:{device_id}"
    if not verify_signed_json(signed, olm.account.identity_keys["ed25519"], user_id, key_id):
        raise CrossSigningError("nio's device signature does not verify; refusing to upload it")
    return signed


async def ensure_cross_signing(client: AsyncClient, key_file: Path) -> CrossSigningStatus:
    """Make sure our identity exists on the server and our device is signed by it.

    The client must be logged in with encryption loaded. Device keys are uploaded first if nio
    has not done so. Uploads only what is missing; never replaces existing cross-signing keys.
    Returns only when /keys/query shows device ← self-signing key ← our master key; raises
    CrossSigningError otherwise (network errors propagate as aiohttp exceptions).
    The private keys are read from `key_file`; a new identity's keys are saved there first.
    """
    return await _ensure(client, key_file, None)


async def sign_with_keys(client: AsyncClient, keys: CrossSigningKeys) -> CrossSigningStatus:
    """`ensure_cross_signing` with keys held in memory: nothing is read or written on disk.

    For a client that keeps the private keys elsewhere (bintui: in secret storage on the
    homeserver) and drops them once its device is signed. If the account has no identity yet,
    `keys` are uploaded as its identity: the caller must have put them somewhere safe first.
    """
    return await _ensure(client, None, keys)


async def _ensure(
    client: AsyncClient, key_file: Path | None, given: CrossSigningKeys | None
) -> CrossSigningStatus:
    """`ensure_cross_signing` from `key_file`, or with `given` keys when key_file is None."""
    user_id: str = client.user_id
    device_id: str = client.device_id
    olm = client.olm
    if olm is None:
        raise CrossSigningError(
            "the client has no encryption loaded (encryption_enabled and load_store first)"
        )
    if client.should_upload_keys:
        upload = await client.keys_upload()
        if isinstance(upload, KeysUploadError):
            raise CrossSigningError(f"uploading the device keys failed: {upload.message}")
    device_ed25519: str = olm.account.identity_keys["ed25519"]

    keys = load_keys(key_file) if key_file is not None else given
    state = await _query_own_keys(client)
    created = False
    uploaded = False

    if _server_key(state, "master_keys", user_id, "master") is None:
        if keys is None:
            assert key_file is not None  # sign_with_keys always gives keys
            keys = CrossSigningKeys.generate()
            # Saved before the upload: a key on the server we no longer hold is worse than a
            # saved key the server never got (the next run simply uploads it again).
            save_keys(key_file, keys)
        master = _device_signed(olm, keys.key_object("master", user_id), user_id, device_id)
        master_id = f"ed25519:{keys.public('master')}"
        body = {
            "master_key": master,
            "self_signing_key": sign_json(
                keys.key_object("self_signing", user_id), keys.master, user_id, master_id
            ),
            "user_signing_key": sign_json(
                keys.key_object("user_signing", user_id), keys.master, user_id, master_id
            ),
        }
        await _request(client, _SIGNING_UPLOAD, body)
        logger.info("uploaded new cross-signing keys, master key %s", keys.public("master"))
        created = uploaded = True
        state = await _query_own_keys(client)

    keys = _check_same_identity(state, user_id, keys, key_file)
    msk = keys.public("master")
    ssk = keys.public("self_signing")

    device = state.get("device_keys", {}).get(user_id, {}).get(device_id)
    if not isinstance(device, dict):
        raise CrossSigningError(
            f"the homeserver has no device keys for {device_id}; upload them (keys_upload) first"
        )
    if device.get("keys", {}).get(f"ed25519:{device_id}") != device_ed25519 or not (
        verify_signed_json(device, device_ed25519, user_id, f"ed25519:{device_id}")
    ):
        raise CrossSigningError(
            f"the device keys the homeserver has for {device_id} are not the ones in our "
            "encryption store; refusing to sign them (is the store from another login?)"
        )

    to_upload: dict[str, Any] = {}
    if not verify_signed_json(device, ssk, user_id, f"ed25519:{ssk}"):
        bare = {k: v for k, v in device.items() if k not in ("signatures", "unsigned")}
        to_upload[device_id] = sign_json(bare, keys.self_signing, user_id, f"ed25519:{ssk}")
    server_master = state["master_keys"][user_id]
    if not verify_signed_json(server_master, device_ed25519, user_id, f"ed25519:{device_id}"):
        # A device that joins an existing identity vouches for it, as the first one did.
        bare = {k: v for k, v in server_master.items() if k not in ("signatures", "unsigned")}
        to_upload[msk] = _device_signed(olm, bare, user_id, device_id)
    if to_upload:
        response = await _request(client, _SIGNATURES_UPLOAD, {user_id: to_upload})
        _check_failures(response, "our signatures")
        logger.info("signed device %s with the self-signing key", device_id)
        uploaded = True
        state = await _query_own_keys(client)

    if not verify_device_chain(state, user_id, device_id, master_key=msk):
        raise CrossSigningError(
            f"the homeserver does not show {device_id} signed by our self-signing key {ssk}"
            + (" even after uploading the signature" if uploaded else "")
        )
    return CrossSigningStatus(
        master_key=msk, self_signing_key=ssk, device_signed=True, created=created
    )
