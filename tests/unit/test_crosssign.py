"""Cross-signing without a server: canonical JSON, signatures, the key file and the trust chain."""

from __future__ import annotations

import copy
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from bridge.crosssign import (
    CrossSigningError,
    CrossSigningKeys,
    canonical_json,
    load_keys,
    save_keys,
    sign_json,
    verify_device_chain,
    verify_signed_json,
)

USER = "@bot:bin.local"
DEVICE = "BOTDEVICE"

# The examples from the spec's appendix "Canonical JSON", parsed the way a server would.
SPEC_EXAMPLES = [
    ("{}", "{}"),
    ('{"one": 1, "two": "Two"}', '{"one":1,"two":"Two"}'),
    ('{"b": "2", "a": "1"}', '{"a":"1","b":"2"}'),
    ('{"b":"2","a":"1"}', '{"a":"1","b":"2"}'),
    (
        """{"auth": {"success": true, "mxid": "@john.doe:example.com", "profile": {
            "display_name": "John Doe", "three_pids": [
            {"medium": "email", "address": "john.doe@example.org"},
            {"medium": "msisdn", "address": "123456789"}]}}}""",
        '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe",'
        '"three_pids":[{"address":"john.doe@example.org","medium":"email"},'
        '{"address":"123456789","medium":"msisdn"}]},"success":true}}',
    ),
    ('{"a": "日本語"}', '{"a":"日本語"}'),
    ('{"本": 2, "日": 1}', '{"日":1,"本":2}'),
    ('{"a": "\\u65E5"}', '{"a":"日"}'),
    ('{"a": null}', '{"a":null}'),
    ('{"a": -0, "b": 1e10}', '{"a":0,"b":10000000000}'),
]


@pytest.mark.parametrize(("source", "expected"), SPEC_EXAMPLES)
def test_canonical_json_matches_the_spec_examples(source: str, expected: str) -> None:
    assert canonical_json(json.loads(source)) == expected.encode("utf-8")


@pytest.mark.parametrize("bad", [{"a": 1.5}, {"a": 2**53}, {"a": -(2**53)}, {1: "x"}, {"a": {1}}])
def test_canonical_json_refuses_what_the_spec_does_not_allow(bad: Any) -> None:
    with pytest.raises(ValueError):
        canonical_json(bad)


def _device_keys(seed: bytes, device_id: str = DEVICE, user_id: str = USER) -> dict[str, Any]:
    """Device keys as a client uploads them: self-signed by the device's ed25519 key."""
    public = CrossSigningKeys(seed, seed, seed).public("master")
    device = {
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "device_id": device_id,
        "user_id": user_id,
        "keys": {f"curve25519:{device_id}": "Y3VydmU", f"ed25519:{device_id}": public},
    }
    return sign_json(device, seed, user_id, f"ed25519:{device_id}")


def test_a_signature_verifies_with_the_matching_public_key() -> None:
    keys = CrossSigningKeys.generate()
    obj = {"hello": "wereld", "n": 3}
    key_id = f"ed25519:{keys.public('master')}"
    signed = sign_json(obj, keys.master, USER, key_id)
    assert obj == {"hello": "wereld", "n": 3}, "sign_json must not change its argument"
    assert verify_signed_json(signed, keys.public("master"), USER, key_id)
    assert not verify_signed_json(signed, keys.public("self_signing"), USER, key_id)
    assert not verify_signed_json(signed, keys.public("master"), "@other:bin.local", key_id)
    assert "=" not in signed["signatures"][USER][key_id], "signatures are unpadded base64"


def test_signing_ignores_unsigned_and_keeps_existing_signatures() -> None:
    keys = CrossSigningKeys.generate()
    first = sign_json({"a": 1, "unsigned": {"x": 1}}, keys.master, USER, "ed25519:one")
    both = sign_json(first, keys.self_signing, USER, "ed25519:two")
    both["unsigned"] = {"device_display_name": "changed afterwards"}
    assert verify_signed_json(both, keys.public("master"), USER, "ed25519:one")
    assert verify_signed_json(both, keys.public("self_signing"), USER, "ed25519:two")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda o: o.update(a=2),
        lambda o: o.update(extra=True),
        lambda o: o["signatures"][USER].update({"ed25519:k": "AAAA"}),
        lambda o: o.pop("signatures"),
        lambda o: o["signatures"][USER].update({"ed25519:k": "not base64!"}),
    ],
    ids=["changed value", "added field", "wrong signature", "no signatures", "garbage"],
)
def test_a_tampered_object_fails_verification(tamper: Any) -> None:
    keys = CrossSigningKeys.generate()
    signed = sign_json({"a": 1}, keys.master, USER, "ed25519:k")
    tamper(signed)
    assert not verify_signed_json(signed, keys.public("master"), USER, "ed25519:k")


def test_keys_survive_a_json_round_trip_and_never_print_their_seeds() -> None:
    keys = CrossSigningKeys.generate()
    assert CrossSigningKeys.from_json(keys.to_json()) == keys
    assert len({keys.public(name) for name in ("master", "self_signing", "user_signing")}) == 3
    for seed in keys.to_json().values():
        assert seed not in repr(keys)
    with pytest.raises(ValueError):
        keys.public("root")
    with pytest.raises(CrossSigningError):
        CrossSigningKeys.from_json({"master": "AAAA"})


def test_the_key_file_is_private_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "new" / "cross-signing.json"
    keys = CrossSigningKeys.generate()
    save_keys(path, keys)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_keys(path) == keys
    assert [p.name for p in path.parent.iterdir()] == ["cross-signing.json"], "no temp files left"


def test_saving_replaces_the_key_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "cross-signing.json"
    save_keys(path, CrossSigningKeys.generate())
    newer = CrossSigningKeys.generate()
    save_keys(path, newer)
    assert load_keys(path) == newer


def test_a_missing_key_file_means_no_keys(tmp_path: Path) -> None:
    assert load_keys(tmp_path / "absent.json") is None


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "cross-signing.json"
    save_keys(path, CrossSigningKeys.generate())
    os.chmod(path, mode)
    with pytest.raises(CrossSigningError, match="chmod 600"):
        load_keys(path)


def test_a_corrupt_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cross-signing.json"
    path.write_text("{not json")
    os.chmod(path, 0o600)
    with pytest.raises(CrossSigningError, match="not valid JSON"):
        load_keys(path)


# --- the chain device ← self-signing key ← master key ---------------------------------------


def _keys_query(keys: CrossSigningKeys, device_seed: bytes, user_id: str = USER) -> dict[str, Any]:
    """A /keys/query response as Synapse returns it for a cross-signed device."""
    msk, ssk = keys.public("master"), keys.public("self_signing")
    master = {"user_id": user_id, "usage": ["master"], "keys": {f"ed25519:{msk}": msk}}
    self_signing = sign_json(
        {"user_id": user_id, "usage": ["self_signing"], "keys": {f"ed25519:{ssk}": ssk}},
        keys.master,
        user_id,
        f"ed25519:{msk}",
    )
    device = sign_json(
        _device_keys(device_seed, user_id=user_id), keys.self_signing, user_id, f"ed25519:{ssk}"
    )
    device["unsigned"] = {"device_display_name": "BIN bot"}
    return {
        "failures": {},
        "device_keys": {user_id: {DEVICE: device}},
        "master_keys": {user_id: master},
        "self_signing_keys": {user_id: self_signing},
    }


@pytest.fixture
def keys() -> CrossSigningKeys:
    return CrossSigningKeys.generate()


@pytest.fixture
def good(keys: CrossSigningKeys) -> dict[str, Any]:
    return _keys_query(keys, os.urandom(32))


def test_a_good_chain_verifies(keys: CrossSigningKeys, good: dict[str, Any]) -> None:
    assert verify_device_chain(good, USER, DEVICE)
    assert verify_device_chain(good, USER, DEVICE, master_key=keys.public("master"))


def test_the_chain_fails_against_another_pinned_master_key(good: dict[str, Any]) -> None:
    other = CrossSigningKeys.generate().public("master")
    assert not verify_device_chain(good, USER, DEVICE, master_key=other)


def _break_device_signature(r: dict[str, Any]) -> None:
    sigs = r["device_keys"][USER][DEVICE]["signatures"][USER]
    ssk_id = next(k for k in sigs if k != f"ed25519:{DEVICE}")
    sigs[ssk_id] = sigs[f"ed25519:{DEVICE}"]  # a real signature, by the wrong key


def _drop_device_signature(r: dict[str, Any]) -> None:
    sigs = r["device_keys"][USER][DEVICE]["signatures"][USER]
    for key_id in [k for k in sigs if k != f"ed25519:{DEVICE}"]:
        del sigs[key_id]


def _break_self_signing_signature(r: dict[str, Any]) -> None:
    # The self-signing key object carries a signature under the master key's id, by another key.
    ssk = r["self_signing_keys"][USER]
    ((key_id, _),) = ssk["signatures"][USER].items()
    r["self_signing_keys"][USER] = sign_json(
        {k: v for k, v in ssk.items() if k != "signatures"},
        CrossSigningKeys.generate().master,
        USER,
        key_id,
    )


def _swap_self_signing_key(r: dict[str, Any]) -> None:
    # A rogue self-signing key signs the device; the master key never signed that key.
    rogue = CrossSigningKeys.generate()
    rogue_ssk = rogue.public("self_signing")
    msk = r["master_keys"][USER]["keys"]
    ((msk_id, _),) = msk.items()
    r["self_signing_keys"][USER] = sign_json(
        {"user_id": USER, "usage": ["self_signing"], "keys": {f"ed25519:{rogue_ssk}": rogue_ssk}},
        rogue.master,
        USER,
        msk_id,
    )
    device = r["device_keys"][USER][DEVICE]
    device["signatures"][USER] = {
        f"ed25519:{DEVICE}": device["signatures"][USER][f"ed25519:{DEVICE}"]
    }
    r["device_keys"][USER][DEVICE] = sign_json(
        device, rogue.self_signing, USER, f"ed25519:{rogue_ssk}"
    )


def _swap_master_key(r: dict[str, Any]) -> None:
    other = CrossSigningKeys.generate().public("master")
    r["master_keys"][USER]["keys"] = {f"ed25519:{other}": other}


def _break_device_self_signature(r: dict[str, Any]) -> None:
    r["device_keys"][USER][DEVICE]["keys"][f"ed25519:{DEVICE}"] = (
        CrossSigningKeys.generate().public("master")
    )


def _wrong_usage(r: dict[str, Any]) -> None:
    r["self_signing_keys"][USER]["usage"] = ["user_signing"]


def _foreign_master(r: dict[str, Any]) -> None:
    r["master_keys"][USER]["user_id"] = "@mallory:bin.local"


def _device_claims_other_id(r: dict[str, Any]) -> None:
    r["device_keys"][USER][DEVICE]["device_id"] = "OTHER"


@pytest.mark.parametrize(
    "breakage",
    [
        _break_device_signature,
        _drop_device_signature,
        _break_self_signing_signature,
        _swap_self_signing_key,
        _swap_master_key,
        _break_device_self_signature,
        _wrong_usage,
        _foreign_master,
        _device_claims_other_id,
        lambda r: r.pop("master_keys"),
        lambda r: r.pop("self_signing_keys"),
        lambda r: r["device_keys"][USER].pop(DEVICE),
        lambda r: r["device_keys"][USER][DEVICE].update(algorithms=["m.olm.v1.tampered"]),
    ],
    ids=[
        "device signed by the wrong key",
        "device not signed by the self-signing key",
        "self-signing key's signature broken",
        "self-signing key not signed by the master key",
        "master key replaced",
        "device not self-signed",
        "self-signing key with the wrong usage",
        "master key of another user",
        "device keys for another device id",
        "no master key",
        "no self-signing key",
        "no such device",
        "device keys changed after signing",
    ],
)
def test_a_broken_link_breaks_the_chain(good: dict[str, Any], breakage: Any) -> None:
    broken = copy.deepcopy(good)
    breakage(broken)
    assert not verify_device_chain(broken, USER, DEVICE)


def test_garbage_never_verifies() -> None:
    assert not verify_device_chain({}, USER, DEVICE)
    assert not verify_device_chain({"master_keys": {USER: "x"}}, USER, DEVICE)
    assert not verify_device_chain({"master_keys": []}, USER, DEVICE)
