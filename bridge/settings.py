"""The bot's settings: one typed model read from a TOML file and `BIN_`-prefixed variables.

The file path comes from `--config` or the `BIN_BRIDGE_CONFIG` variable. Any field can be
overridden by an environment variable, nested with `__`: `BIN_BOT__PASSWORD=...`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "BIN_BRIDGE_CONFIG"
_S = TypeVar("_S", bound=BaseSettings)
USER_ID_RE = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d+)?$")
SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


class ConfigError(Exception):
    """A configuration file is missing or invalid; the message names the file and field."""


def _check_user_id(value: str) -> str:
    if not USER_ID_RE.match(value):
        raise ValueError(f"not a Matrix user id: {value!r} (expected @name:server)")
    return value


# Validated per item, so that an error names the list position: `wijken.0.coordinators.1`.
UserId = Annotated[str, AfterValidator(_check_user_id)]


class HomeserverSettings(BaseModel):
    """Where the bot's homeserver is."""

    url: str = "http://127.0.0.1:8008"
    """Client-server API base URL, e.g. https://matrix.example.nl."""
    registration_shared_secret_file: Path | None = None
    """Synapse's registration shared secret (a file, mode 0600): lets `bin-bridge setup-bot`
    and the sign-up page create accounts. Only on the homeserver's own machine."""
    synapse_config: Path | None = None
    """Synapse's homeserver.yaml, for `bin-bridge doctor` to check its privacy settings."""


class BotSettings(BaseModel):
    """The bot's own account and where it keeps its state."""

    user_id: str
    """The bot's Matrix user id, e.g. @bin:example.nl."""
    device_id: str = "BINBRIDGE"
    """A stable device id: the bot never silently creates a new device."""
    password: SecretStr | None = None
    """Used once, for the first login; afterwards the stored session is used."""
    access_token: SecretStr | None = None
    """Alternative to a password: an existing session's token (with `device_id`)."""
    display_name: str = "BIN"
    """The name members see for the bot."""
    data_dir: Path = Path("var/bot")
    """Session, crypto store, bridge state and cross-signing keys (keep it private, back it up)."""
    secret_key: SecretStr | None = None
    """HMAC key for pseudonyms and digests. If unset, one is generated in `data_dir` (mode 0600)."""
    admin_token: SecretStr | None = None
    """Optional homeserver admin token: lets the bot purge members' original photos and the
    private rooms of members who left (Synapse admin API). Prefer BIN_BOT__ADMIN_TOKEN."""
    cross_signing_key_file: Path | None = None
    """Where the private cross-signing keys are kept; default `data_dir/cross-signing.json`."""
    language: str = "nl"
    """Default language for members and coordinators: nl or en."""

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str) -> str:
        return _check_user_id(value)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in ("nl", "en"):
            raise ValueError("language must be 'nl' or 'en'")
        return value

    @property
    def key_file(self) -> Path:
        """Path of the cross-signing private keys."""
        return self.cross_signing_key_file or self.data_dir / "cross-signing.json"


class WijkSettings(BaseModel):
    """One neighbourhood: its rooms, its people and its join code."""

    slug: str
    """Short id used in commands and fields, e.g. `oost`."""
    name: str
    """Display name, e.g. `Sint-Michielsgestel Oost`."""
    join_code: SecretStr
    """The code a resident sends to the bot to join this wijk."""
    coordinators: list[UserId] = Field(default_factory=list)
    """Coordinators' Matrix user ids: the first is primary, the second reserve."""
    police: list[UserId] = Field(default_factory=list)
    """Police and gemeente contacts' Matrix user ids (the police room)."""
    approval: bool = False
    """New members wait until a coordinator admits them (`!toelaten Naam`), without anyone
    learning who they are."""

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_RE.match(value):
            raise ValueError(
                "slug must be lowercase letters, digits and '-', starting with a letter"
            )
        return value


DEFAULT_ALLOWED_LINK_DOMAINS = (
    "politie.nl",
    "112.nl",
    "meldmisdaadanoniem.nl",
    "rijksoverheid.nl",
    "overheid.nl",
)


class RelaySettings(BaseModel):
    """How member messages are grouped and relayed."""

    conversation_window_days: float = 14
    """A message joins the member's open conversation if it was active within this window."""
    welcome_dm_notice: bool = True
    """Post a pointer in a member-created DM before leaving it."""
    pseudonyms: Literal["per_conversation", "per_member"] = "per_conversation"
    """One pseudonym per conversation (default: coordinators cannot link a member's
    conversations), or one that stays the same for a member (weaker: conversations link up)."""
    allowed_link_domains: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_LINK_DOMAINS)
    )
    """Links in a coordinator's answer pass only into these domains (and their subdomains);
    every other link reaches the member defanged (`hxxps://example[.]com`). Add the gemeente's
    own site here, e.g. "sint-michielsgestel.nl"."""
    rate_limit_per_minute: int = Field(default=10, ge=1)
    """At most this many messages of one member are handled per minute; more get one notice."""
    block_retention_days: float = Field(default=365, gt=0)
    """How long the keyed digest of a blocked account is kept (so re-joining keeps the block)."""
    max_image_pixels: int = Field(default=40_000_000, ge=1)
    """Larger images are refused unread (decompression bombs)."""
    max_media_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    """Larger uploads are refused without being processed."""
    max_delay_seconds: float = Field(default=0, ge=0)
    """Optional random delay (0 up to this many seconds) before a member's message appears in
    the desk. It makes timing correlation by the homeserver operator harder, at the cost of
    slower reports; 0 (off) is the default. See docs/threat-model.md."""
    broadcast_undo_seconds: float = 30
    """After `!ja`, a broadcast waits this long before delivery; `!stop` cancels it."""
    recent_broadcasts_days: float = 14
    """A member who signs up receives the broadcasts of this many past days."""
    retention_days: float = Field(default=90, gt=0)
    """After this many days without activity a report is redacted from the desk and police
    rooms and its link to the member is deleted."""
    escalate_after_days: float = 3
    """A report without a first answer for this long is put before the reserve coordinator."""
    broadcast_concurrency: int = 8
    """How many member rooms a broadcast sends to at once (SQLite Synapse gains little above 8)."""
    undecryptable_ask_after_seconds: float = Field(default=3600, gt=0)
    """A member's message that the bot still cannot decrypt after this long (its room key never
    arrived, case C13) gets one notice asking the member to send it again. The message is kept
    and still relayed if the key comes later."""
    failing_event_attempts: int = Field(default=3, ge=1)
    """How often the bot tries to handle one event that keeps failing before it skips it for
    good (logged without content, counted in the status file, and the member is told)."""


class SignupSettings(BaseModel):
    """The anonymous sign-up page (`bin-bridge signup-page`): accounts for residents."""

    listen_host: str = "127.0.0.1"
    """Address the page listens on; put a TLS reverse proxy in front of it."""
    listen_port: int = Field(default=8090, ge=1, le=65535)
    """Port the page listens on."""
    client_url: str = "https://matrix.example.nl"
    """The homeserver URL residents enter in their Matrix app (the public one)."""
    public_url: str | None = None
    """Where residents open the page through the proxy, e.g. https://matrix.example.nl/aanmelden/
    (`bin-bridge doctor` checks that it answers)."""
    secure_cookies: bool = True
    """Mark the form cookie `Secure` (the page is served over HTTPS). Off only for tests."""
    privacy_file: Path | None = None
    """The privacy statement (Markdown) shown at `privacy`; without it the link goes to
    `privacy_url`."""
    privacy_url: str | None = None
    """Where the privacy statement lives, if not served by the page itself."""
    min_password_length: int = Field(default=10, ge=8)
    """Shorter passwords are refused."""
    attempts_per_minute: float = Field(default=20, gt=0)
    """All form submissions together (no per-address limits: the page keeps no addresses)."""
    accounts_per_hour_per_wijk: float = Field(default=60, gt=0)
    """Accounts one join code may create per hour (a leaked code cannot flood the server)."""


class BridgeSettings(BaseSettings):
    """Everything the bot needs; see config/bridge.example.toml for a commented example."""

    model_config = SettingsConfigDict(
        env_prefix="BIN_",
        env_nested_delimiter="__",
        extra="forbid",
    )
    _toml_file: ClassVar[Path | None] = None

    homeserver: HomeserverSettings = Field(default_factory=HomeserverSettings)
    bot: BotSettings
    relay: RelaySettings = Field(default_factory=RelaySettings)
    wijken: list[WijkSettings] = Field(default_factory=list)
    signup: SignupSettings | None = None
    """The sign-up page; only `bin-bridge signup-page` reads it."""
    log_level: str = "INFO"
    """Python log level; no level ever logs message text or member identifiers."""

    @model_validator(mode="after")
    def _unique(self) -> BridgeSettings:
        slugs = [w.slug for w in self.wijken]
        if len(set(slugs)) != len(slugs):
            raise ValueError("wijk slugs must be unique")
        codes = [w.join_code.get_secret_value().strip().lower() for w in self.wijken]
        if len(set(codes)) != len(codes):
            raise ValueError("join codes must be unique across wijken")
        return self

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

    def wijk(self, slug: str) -> WijkSettings | None:
        """The wijk with this slug, if configured."""
        return next((w for w in self.wijken if w.slug == slug), None)


def load_settings(path: Path | str | None = None) -> BridgeSettings:
    """Load the bot's settings from a TOML file (and the environment).

    Raises ConfigError with the file name and the failing field in plain words.
    """
    raw = path if path is not None else os.environ.get(CONFIG_ENV)
    if raw is None:
        raise ConfigError(f"no config file given: use --config FILE or set {CONFIG_ENV}")
    file = Path(raw)
    if not file.is_file():
        raise ConfigError(f"{file}: config file not found")
    return _load(BridgeSettings, file)


def _load(model: type[_S], file: Path) -> _S:
    """Read `model` from `file`, turning every failure into one readable ConfigError."""
    try:
        model._toml_file = file  # type: ignore[attr-defined]
        return model()
    except ValidationError as exc:
        raise ConfigError(f"{file}: {format_validation_error(exc)}") from None
    except (OSError, ValueError) as exc:  # TOML syntax errors are ValueErrors
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    finally:
        model._toml_file = None  # type: ignore[attr-defined]


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: the dotted field path and what is wrong."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"field '{where}': {err['msg']}")
    return "; ".join(lines)


def dump_toml_value(value: Any) -> str:
    """Render a simple value as TOML (for generated config files)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(dump_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
