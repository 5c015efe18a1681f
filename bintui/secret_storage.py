"""Matrix secret storage (SSSS, `m.secret_storage.v1.aes-hmac-sha2`) and recovery keys (pure).

The coordinator's cross-signing keys are kept on the homeserver encrypted with a key that only
the coordinator holds, written down as a *recovery key* ("EsT… …", 48 base58 characters in
groups of four), as Element does it. With the recovery key, a new device reads the keys back
and signs itself. Only what the spec describes is implemented here:

- a secret named N is encrypted with keys from HKDF-SHA256(key, salt = 32 zero bytes, info = N):
  AES-256-CTR with a random 16-byte IV (bit 63 cleared) and HMAC-SHA256 over the ciphertext;
- the key's description holds the encryption of 32 zero bytes under the name "" to check a
  typed key before anything is decrypted;
- a recovery key is 0x8B 0x01, the 32-byte key and a parity byte (XOR of all bytes before it),
  in the Bitcoin base58 alphabet, shown in groups of four.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALGORITHM = "m.secret_storage.v1.aes-hmac-sha2"
DEFAULT_KEY = "m.secret_storage.default_key"
KEY_PREFIX = "m.secret_storage.key."
CROSS_SIGNING_SECRETS = {
    "master": "m.cross_signing.master",
    "self_signing": "m.cross_signing.self_signing",
    "user_signing": "m.cross_signing.user_signing",
}
_HEADER = b"\x8b\x01"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not a base64 string")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _keys(key: bytes, name: str) -> tuple[bytes, bytes]:
    derived = HKDF(algorithm=hashes.SHA256(), length=64, salt=bytes(32), info=name.encode()).derive(
        key
    )
    return derived[:32], derived[32:]


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CTR(iv))
    transform = cipher.encryptor()
    return transform.update(data) + transform.finalize()


def _new_iv() -> bytes:
    iv = bytearray(os.urandom(16))
    iv[8] &= 0x7F  # the spec clears bit 63 so the counter cannot wrap
    return bytes(iv)


def encrypt_secret(
    key: bytes, name: str, secret: str, *, iv: bytes | None = None
) -> dict[str, str]:
    """The `{iv, ciphertext, mac}` object for one secret (its plaintext is a string)."""
    aes_key, mac_key = _keys(key, name)
    iv = iv if iv is not None else _new_iv()
    ciphertext = _ctr(aes_key, iv, secret.encode("utf-8"))
    mac = hmac.new(mac_key, ciphertext, hashlib.sha256).digest()
    return {"iv": _b64(iv), "ciphertext": _b64(ciphertext), "mac": _b64(mac)}


def decrypt_secret(key: bytes, name: str, encrypted: Any) -> str:
    """The plaintext of one secret; ValueError when the key or the data is wrong."""
    if not isinstance(encrypted, dict):
        raise ValueError("no encrypted secret")
    aes_key, mac_key = _keys(key, name)
    iv, ciphertext, mac = (_unb64(encrypted.get(k)) for k in ("iv", "ciphertext", "mac"))
    expected = hmac.new(mac_key, ciphertext, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, mac):
        raise ValueError("the key does not open this secret")
    return _ctr(aes_key, iv, ciphertext).decode("utf-8")


def key_description(key: bytes, name: str = "bintui") -> dict[str, str]:
    """The account data that describes a new key (with the check value for typed keys)."""
    check = encrypt_secret(key, "", "\0" * 32)
    return {"algorithm": ALGORITHM, "name": name, "iv": check["iv"], "mac": check["mac"]}


def key_matches(key: bytes, description: Any) -> bool:
    """Whether `key` is the key this description was made for."""
    if not isinstance(description, dict) or description.get("algorithm") != ALGORITHM:
        return False
    try:
        check = encrypt_secret(key, "", "\0" * 32, iv=_unb64(description.get("iv")))
        return hmac.compare_digest(_unb64(check["mac"]), _unb64(description.get("mac")))
    except ValueError:
        return False


def _base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _BASE58[rest] + out
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + out


def _unbase58(text: str) -> bytes:
    number = 0
    for char in text:
        index = _BASE58.find(char)
        if index < 0:
            raise ValueError(f"{char!r} cannot be in a recovery key")
        number = number * 58 + index
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def encode_recovery_key(key: bytes) -> str:
    """The recovery key to write down: 48 characters in groups of four."""
    if len(key) != 32:
        raise ValueError("a secret storage key has 32 bytes")
    data = _HEADER + key
    parity = 0
    for byte in data:
        parity ^= byte
    text = _base58(data + bytes([parity]))
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def decode_recovery_key(text: str) -> bytes:
    """The key from a typed recovery key (spaces ignored); ValueError with a reason if wrong."""
    data = _unbase58("".join(text.split()))
    if len(data) != 35 or not data.startswith(_HEADER):
        raise ValueError("this is not a recovery key (wrong length or start)")
    parity = 0
    for byte in data:
        parity ^= byte
    if parity != 0:
        raise ValueError("a character of the recovery key is mistyped")
    return data[2:34]
