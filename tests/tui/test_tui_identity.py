"""The cross-signing identity: secret storage crypto, recovery keys, and the two dialogs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from bintui import secret_storage as ssss
from bintui.gateway import Identity
from bintui.screens.desk import DeskScreen
from bintui.screens.identity import AskRecoveryKeyScreen, RecoveryKeyScreen

from .fakes import FakeGateway, report
from .helpers import make_app, rendered


def test_a_recovery_key_round_trips_and_looks_like_elements() -> None:
    key = os.urandom(32)
    text = ssss.encode_recovery_key(key)
    assert text.startswith("Es")  # 0x8B 0x01 in base58, as Element's keys start
    groups = text.split(" ")
    assert all(len(g) == 4 for g in groups[:-1]) and len("".join(groups)) == 48
    assert ssss.decode_recovery_key(text) == key
    assert ssss.decode_recovery_key(text.replace(" ", "")) == key


def test_a_mistyped_recovery_key_is_refused_with_a_reason() -> None:
    text = ssss.encode_recovery_key(bytes(range(32)))
    wrong = text[:-1] + ("a" if text[-1] != "a" else "b")
    with pytest.raises(ValueError, match=r"mistyped|not a recovery key"):
        ssss.decode_recovery_key(wrong)
    with pytest.raises(ValueError, match="cannot be in a recovery key"):
        ssss.decode_recovery_key("0OIl")
    with pytest.raises(ValueError):
        ssss.decode_recovery_key("abcd")


def test_a_secret_opens_only_with_its_key_and_name() -> None:
    key, other = os.urandom(32), os.urandom(32)
    stored = ssss.encrypt_secret(key, "m.cross_signing.master", "c2VlZA")
    assert ssss.decrypt_secret(key, "m.cross_signing.master", stored) == "c2VlZA"
    iv = ssss._unb64(stored["iv"])
    assert iv[8] & 0x80 == 0  # bit 63 cleared
    for wrong_key, name in ((other, "m.cross_signing.master"), (key, "m.cross_signing.usk")):
        with pytest.raises(ValueError, match="does not open"):
            ssss.decrypt_secret(wrong_key, name, stored)
    description = ssss.key_description(key)
    assert description["algorithm"] == "m.secret_storage.v1.aes-hmac-sha2"
    assert ssss.key_matches(key, description)
    assert not ssss.key_matches(other, description)
    assert not ssss.key_matches(key, {"algorithm": "other"})


async def test_a_new_identitys_recovery_key_is_shown_once(tmp_path: Path) -> None:
    key = ssss.encode_recovery_key(bytes(32))
    gateway = FakeGateway([report(1, "A", "x")], identity=Identity("created", recovery_key=key))
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, RecoveryKeyScreen)
        await pilot.pause()
        assert str(app.screen.query_one("#recovery-key", Static).content) == key
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DeskScreen)


async def test_a_device_without_the_keys_asks_for_the_recovery_key(tmp_path: Path) -> None:
    gateway = FakeGateway([report(1, "A", "x")], identity=Identity("needs_recovery_key"))
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, AskRecoveryKeyScreen)
        await pilot.press(*"EsTx", "enter")
        await pilot.pause()
        assert isinstance(app.screen, AskRecoveryKeyScreen)
        error = rendered(app.screen.query_one("#recovery-error", Static))
        assert "does not fit" in error
        app.screen.query_one(Input).value = gateway.recovery_key
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DeskScreen)
        assert gateway.restores == ["EsTx", gateway.recovery_key]
        assert any("ondertekend" in n.message for n in app._notifications)


async def test_the_recovery_key_can_wait_until_later(tmp_path: Path) -> None:
    gateway = FakeGateway([report(1, "A", "x")], identity=Identity("needs_recovery_key"))
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DeskScreen)
        assert gateway.restores == []
        assert any("niet ondertekend" in n.message for n in app._notifications)
