"""The client's settings: one typed model read from a TOML file and `BINTUI_`-prefixed variables.

The file path comes from `--config` or the `BINTUI_CONFIG` variable; without either the client
runs on defaults and asks for a login. Any field can be overridden by an environment variable,
e.g. `BINTUI_PASSWORD=...` (nested models, when there are any, with `__`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bridge.settings import USER_ID_RE, ConfigError, format_validation_error

from .keys import BINDING_IDS

CONFIG_ENV = "BINTUI_CONFIG"
DEFAULT_DATA_DIR = Path("~/.local/share/bintui")


def check_user_id(value: str) -> str:
    """Return `value` if it is a full Matrix user id (@name:server), else raise ValueError."""
    if not USER_ID_RE.match(value):
        raise ValueError(f"not a Matrix user id: {value!r} (expected @name:server)")
    return value


def check_homeserver(value: str) -> str:
    """Return the URL without a trailing slash if it is http(s), else raise ValueError."""
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value.rstrip("/")


class ClientSettings(BaseSettings):
    """Everything bintui needs; see config/bintui.example.toml for a commented example."""

    model_config = SettingsConfigDict(
        env_prefix="BINTUI_",
        env_nested_delimiter="__",
        extra="forbid",
        use_attribute_docstrings=True,
    )
    _toml_file: ClassVar[Path | None] = None

    homeserver: str = "http://127.0.0.1:8008"
    """Client-server API base URL of the homeserver, e.g. https://matrix.example.nl."""
    user_id: str | None = None
    """The coordinator's Matrix user id, e.g. @anna:example.nl; asked at login when unset."""
    password: SecretStr | None = None
    """Used once, for the first login; afterwards the stored session is used. Prefer the
    login screen or `BINTUI_PASSWORD` over writing it in a file."""
    device_id: str = "BINTUI"
    """The device id asked for at the first login; it stays the same across restarts."""
    data_dir: Path = DEFAULT_DATA_DIR
    """Session and encryption keys, one subdirectory per account (kept private, mode 0700)."""
    bot_user_id: str | None = None
    """The BIN bot's user id. When set, only its invitations are accepted and only its
    messages count as reports; when unset, any inviter and any report sender is trusted."""
    language: Literal["nl", "en"] = "nl"
    """Language of the interface: nl (Dutch) or en (English)."""
    bell: bool = False
    """Ring the terminal bell when a member writes in a report."""
    cross_signing: bool = True
    """Sign this device with your cross-signing identity (created, with a recovery key to
    write down, when the account has none), so that Element keeps encrypting to it."""
    keys: dict[str, str] = {}
    """Other keys for actions, by binding id: e.g. "desk.claim" = "t" (see the help screen,
    F1, for every action and its id); several keys separated by commas."""

    @field_validator("keys")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(BINDING_IDS))
        if unknown:
            raise ValueError(f"unknown action {unknown[0]!r} (known: {', '.join(BINDING_IDS)})")
        if any(not keys.strip() for keys in value.values()):
            raise ValueError("every action needs a key")
        return value

    @field_validator("homeserver")
    @classmethod
    def _homeserver(cls, value: str) -> str:
        return check_homeserver(value)

    @field_validator("user_id", "bot_user_id")
    @classmethod
    def _user_id(cls, value: str | None) -> str | None:
        return None if value is None else check_user_id(value)

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls._toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._toml_file))
        return tuple(sources)

    def with_login(self, homeserver: str, user_id: str, password: str) -> ClientSettings:
        """A copy with what the coordinator typed on the login screen."""
        return self.model_copy(
            update={
                "homeserver": check_homeserver(homeserver),
                "user_id": check_user_id(user_id),
                "password": SecretStr(password),
            }
        )


def load_client_settings(path: Path | str | None = None) -> ClientSettings:
    """Load the client's settings from a TOML file (or `BINTUI_CONFIG`) and the environment.

    Without a file, only the environment and the defaults are used. Raises ConfigError naming
    the file and the failing field.
    """
    raw = path if path is not None else os.environ.get(CONFIG_ENV)
    where = "environment" if raw is None else str(raw)
    file = None if raw is None else Path(raw)
    if file is not None and not file.is_file():
        raise ConfigError(f"{file}: config file not found")
    try:
        ClientSettings._toml_file = file
        return ClientSettings()
    except ValidationError as exc:
        raise ConfigError(f"{where}: {format_validation_error(exc)}") from None
    except (OSError, ValueError) as exc:  # TOML syntax errors are ValueErrors
        raise ConfigError(f"{where}: cannot read: {exc}") from None
    finally:
        ClientSettings._toml_file = None
