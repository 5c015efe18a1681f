"""Client settings: the example file loads, bad files name the field, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from bintui.settings import ClientSettings, load_client_settings
from bridge.settings import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "bintui.example.toml"


def test_the_example_file_loads() -> None:
    settings = load_client_settings(EXAMPLE)
    assert settings.homeserver == "https://matrix.example.nl"
    assert settings.user_id == "@anna:example.nl"
    assert settings.password is None
    assert settings.device_id == "BINTUI"
    assert settings.data_dir == Path("~/.local/share/bintui").expanduser()
    assert settings.language == "nl"
    assert settings.bell is False


def test_every_setting_has_a_docstring_and_appears_in_the_example() -> None:
    example = EXAMPLE.read_text(encoding="utf-8")
    for name, field in ClientSettings.model_fields.items():
        assert field.description, f"{name} has no docstring"
        assert name in example, f"{name} is not in the example file"


def test_defaults_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BINTUI_CONFIG", raising=False)
    settings = load_client_settings()
    assert settings.user_id is None
    assert settings.language == "nl"


def test_the_config_variable_and_the_environment_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "bintui.toml"
    file.write_text('user_id = "@co:localhost"\nlanguage = "en"\n', encoding="utf-8")
    monkeypatch.setenv("BINTUI_CONFIG", str(file))
    monkeypatch.setenv("BINTUI_PASSWORD", "from-env")
    monkeypatch.setenv("BINTUI_BELL", "true")
    settings = load_client_settings()
    assert settings.user_id == "@co:localhost"
    assert settings.language == "en"
    assert settings.bell is True
    assert settings.password is not None
    assert settings.password.get_secret_value() == "from-env"
    assert "from-env" not in repr(settings)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ('language = "de"\n', "language"),
        ('user_id = "anna"\n', "user_id"),
        ('homeserver = "matrix.example.nl"\n', "homeserver"),
        ("bell = 3\n", "bell"),
        ('bot_user_id = "bin"\n', "bot_user_id"),
        ('passwrod = "x"\n', "passwrod"),
    ],
)
def test_a_bad_file_gives_a_config_error_naming_the_file_and_the_field(
    tmp_path: Path, content: str, field: str
) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_client_settings(file)
    message = str(caught.value)
    assert str(file) in message
    assert f"field '{field}'" in message


def test_a_missing_or_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_client_settings(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("user_id = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.toml: cannot read"):
        load_client_settings(broken)


def test_login_details_replace_the_account_in_a_copy() -> None:
    settings = ClientSettings(homeserver="http://127.0.0.1:8008")
    updated = settings.with_login("http://localhost:8448/", "@co:localhost", "pw")
    assert (updated.homeserver, updated.user_id) == ("http://localhost:8448", "@co:localhost")
    assert updated.password is not None and updated.password.get_secret_value() == "pw"
    assert settings.user_id is None
