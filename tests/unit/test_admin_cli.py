"""The operator CLI reads the bridge's store: list, rotate a join code, figures."""

from __future__ import annotations

import io
from pathlib import Path

from pydantic import SecretStr

from bridge import admin
from bridge.bot import load_or_create_secret
from bridge.membership import Membership
from bridge.settings import BotSettings, BridgeSettings, WijkSettings
from bridge.store import Store


def settings_in(tmp_path: Path) -> BridgeSettings:
    return BridgeSettings(
        bot=BotSettings(user_id="@bin:example.nl", data_dir=tmp_path / "bot"),
        wijken=[
            WijkSettings(
                slug="oost",
                name="Oost",
                join_code=SecretStr("OOST-1"),
                coordinators=["@anna:example.nl"],
            )
        ],
    )


def test_admin_lists_wijken_with_counts(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    out = io.StringIO()
    assert admin.list_wijken(settings, out) == 0
    assert "oost" in out.getvalue()
    assert "@anna:example.nl" in out.getvalue()


def test_a_rotated_code_replaces_the_configured_one_and_is_kept_only_as_a_digest(
    tmp_path: Path,
) -> None:
    settings = settings_in(tmp_path)
    out = io.StringIO()
    assert admin.rotate_code(settings, "oost", out) == 0
    code = out.getvalue().split(": ", 1)[1].split()[0]
    store = Store(settings.bot.data_dir / "bridge.db")
    try:
        membership = Membership(
            settings, store, load_or_create_secret(settings), lambda *a, **k: None, lambda *a: None
        )
        assert membership.wijk_by_code(code) is not None
        assert membership.wijk_by_code(code.lower()) is not None
        assert membership.wijk_by_code("OOST-1") is None
        stored = [str(r[1]) for r in store.query_all("SELECT wijk, digest FROM join_codes")]
        assert code not in stored and code.lower() not in stored
    finally:
        store.close()


def test_rotating_an_unknown_wijk_is_refused(tmp_path: Path) -> None:
    assert admin.rotate_code(settings_in(tmp_path), "west", io.StringIO()) == 2


def test_admin_stats_hide_small_counts(tmp_path: Path) -> None:
    out = io.StringIO()
    assert admin.stats(settings_in(tmp_path), None, out) == 0
    assert "Leden: 0" in out.getvalue()


def test_doctor_names_every_setting_that_weakens_anonymity_in_plain_words(tmp_path: Path) -> None:
    from bridge.doctor import weakened_anonymity

    settings = settings_in(tmp_path)
    defaults = " ".join(weakened_anonymity(settings))
    assert "no relay delay" in defaults
    assert "no admin token" in defaults
    assert "stable pseudonyms" not in defaults

    settings.relay.pseudonyms = "per_member"
    settings.relay.max_delay_seconds = 30
    settings.log_level = "DEBUG"
    weakened = " ".join(weakened_anonymity(settings))
    assert "stable pseudonyms" in weakened
    assert "DEBUG logging" in weakened
    assert "no relay delay" not in weakened
