"""The commented example configuration files load as they are shipped."""

from __future__ import annotations

from pathlib import Path

from bridge.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_bridge_example_config_loads_with_two_wijken() -> None:
    settings = load_settings(ROOT / "config" / "bridge.example.toml")
    assert settings.bot.user_id == "@bin:example.nl"
    assert [w.slug for w in settings.wijken] == ["oost", "west"]
    assert settings.wijken[0].coordinators[0] == "@anna:example.nl"
    assert settings.relay.conversation_window_days == 14
