"""`bin-bridge init` and `setup-bot`: a production BIN — Synapse on PostgreSQL with federation,
the bot's config, `.well-known` delegation, a TLS reverse proxy and systemd units — generated
from a few answers, with every secret made here and written only to files of mode 0600.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import secrets
import sys
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml
from signedjson.key import generate_signing_key, write_signing_keys

from bridge.membership import new_code
from bridge.settings import SLUG_RE, BridgeSettings, dump_toml_value

__all__ = [
    "InitError",
    "InitOptions",
    "generate",
    "main_init",
    "parse_wijk",
    "synapse_config",
]

SYNAPSE_DIR = "synapse"
BRIDGE_DIR = "bridge"
WELL_KNOWN_DIR = "www/.well-known/matrix"
SHARED_SECRET_NAME = "registration_shared_secret"

# Privacy-minded retention: how long Synapse keeps what it must keep at all.
REDACTION_RETENTION = "1d"
"""Redacted event content (Synapse's default is 7 days)."""
USER_IPS_MAX_AGE = "1d"
"""Client IP addresses and user agents per device (Synapse's default is 28 days)."""
MESSAGE_RETENTION = "365d"
"""Server-side purge of old (encrypted) events in every room (Synapse keeps them forever)."""
LOCAL_MEDIA_LIFETIME = "365d"
REMOTE_MEDIA_LIFETIME = "14d"

HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(:\d{1,5})?$"
)
LOCALPART_RE = re.compile(r"^[a-z0-9._=\-/]+$")
DB_IDENT_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class InitError(Exception):
    """The answers are incomplete or invalid, or the output would overwrite secrets."""


@dataclass
class InitOptions:
    """Everything `bin-bridge init` needs; secrets that are not given are generated."""

    server_name: str
    """The Matrix server name: the part after the colon in user ids (`example.nl`)."""
    public_url: str
    """Where clients and other servers reach Synapse, through the reverse proxy."""
    wijken: list[tuple[str, str]]
    """(slug, display name) per wijk."""
    out_dir: Path
    """Where the files are written; the generated files refer to each other here."""
    db_host: str = "127.0.0.1"
    db_port: int = 5432
    db_name: str = "synapse"
    db_user: str = "synapse"
    db_password: str | None = field(default=None, repr=False)
    synapse_data_dir: Path = Path("/var/lib/bin-synapse")
    bridge_data_dir: Path = Path("/var/lib/bin-bridge")
    install_dir: Path = Path("/opt/bin-matrix")
    """The clone with its `.venv` (systemd units start the programs from there)."""
    listen_port: int = 8008
    """Synapse's plain-HTTP listener on 127.0.0.1, behind the TLS reverse proxy."""
    signup_port: int = 8090
    bot_localpart: str = "bin"
    force: bool = False
    """Overwrite an earlier `init` in the same directory (replaces every secret)."""

    @property
    def public_host(self) -> str:
        return urllib.parse.urlsplit(self.public_url).hostname or ""

    @property
    def public_port(self) -> int:
        parts = urllib.parse.urlsplit(self.public_url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def bot_user_id(self) -> str:
        return f"@{self.bot_localpart}:{self.server_name}"

    @property
    def synapse_dir(self) -> Path:
        return self.out_dir / SYNAPSE_DIR

    @property
    def bridge_dir(self) -> Path:
        return self.out_dir / BRIDGE_DIR

    def validate(self) -> None:
        problems = []
        if not HOSTNAME_RE.match(self.server_name):
            problems.append(f"server name {self.server_name!r} is not a host name")
        parts = urllib.parse.urlsplit(self.public_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            problems.append(f"public URL {self.public_url!r} must look like https://host")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            problems.append("the public URL must have no path: Synapse serves from the root")
        if not self.wijken:
            problems.append("at least one wijk is needed (--wijk slug:name)")
        slugs = [slug for slug, _ in self.wijken]
        if len(set(slugs)) != len(slugs):
            problems.append("wijk slugs must be unique")
        for slug, name in self.wijken:
            if not SLUG_RE.match(slug) or not name.strip():
                problems.append(f"wijk {slug!r}: slug a-z0-9- (starting with a letter) and a name")
        if not LOCALPART_RE.match(self.bot_localpart):
            problems.append(f"bot name {self.bot_localpart!r}: lowercase letters and digits")
        for label, ident in (("database name", self.db_name), ("database user", self.db_user)):
            if not DB_IDENT_RE.match(ident):
                problems.append(f"{label} {ident!r}: lowercase letters, digits and _")
        if problems:
            raise InitError("; ".join(problems))


@dataclass
class InitResult:
    """What `generate` wrote, and the join codes (shown once, then only in bridge.toml)."""

    files: list[Path]
    join_codes: dict[str, str] = field(repr=False)
    warnings: list[str]


def parse_wijk(spec: str) -> tuple[str, str]:
    """`oost:Sint-Michielsgestel Oost` -> ("oost", "Sint-Michielsgestel Oost")."""
    slug, sep, name = spec.partition(":")
    if not sep or not slug.strip() or not name.strip():
        raise InitError(f"wijk {spec!r}: expected slug:name, e.g. oost:Sint-Michielsgestel Oost")
    return slug.strip(), name.strip()


# -- the files ---------------------------------------------------------------------------------


def synapse_config(
    options: InitOptions, secrets_: dict[str, str]
) -> list[tuple[str, dict[str, Any]]]:
    """Synapse's homeserver.yaml as commented sections (comment, mapping)."""
    syn = options.synapse_dir
    data = options.synapse_data_dir
    return [
        (
            "Identity of this homeserver. The server name is the part after ':' in user ids;\n"
            "clients and other servers find the public URL through .well-known.",
            {
                "server_name": options.server_name,
                "public_baseurl": options.public_url.rstrip("/") + "/",
                "serve_server_wellknown": False,
                "pid_file": str(data / "homeserver.pid"),
            },
        ),
        (
            "Plain HTTP on loopback only: the reverse proxy terminates TLS and forwards the\n"
            "client and federation APIs here (x_forwarded: rate limits per client address).",
            {
                "listeners": [
                    {
                        "port": options.listen_port,
                        "bind_addresses": ["127.0.0.1"],
                        "type": "http",
                        "tls": False,
                        "x_forwarded": True,
                        "resources": [{"names": ["client", "federation"], "compress": False}],
                    }
                ]
            },
        ),
        (
            "PostgreSQL (the database must use the C collation; see postgres-setup.sql).",
            {
                "database": {
                    "name": "psycopg2",
                    "args": {
                        "user": options.db_user,
                        "password": secrets_["db_password"],
                        "dbname": options.db_name,
                        "host": options.db_host,
                        "port": options.db_port,
                        "cp_min": 5,
                        "cp_max": 10,
                        "keepalives_idle": 10,
                        "keepalives_interval": 10,
                        "keepalives_count": 3,
                    },
                }
            },
        ),
        (
            "Files and keys.",
            {
                "log_config": str(syn / "log.config.yaml"),
                "media_store_path": str(data / "media"),
                "max_upload_size": "20M",
                "signing_key_path": str(syn / "signing.key"),
            },
        ),
        (
            "Federation is on: residents with an account elsewhere can talk to the bot. Server\n"
            "keys are fetched from each server itself, not through a third-party notary.\n"
            "Nothing is published in the room directory, here or over federation.",
            {
                "trusted_key_servers": [],
                "allow_public_rooms_over_federation": False,
                "allow_public_rooms_without_auth": False,
                "room_list_publication_rules": [{"action": "deny"}],
                "allow_device_name_lookup_over_federation": False,
            },
        ),
        (
            "Accounts: no open registration, no e-mail or phone numbers. Residents get an\n"
            "account from the sign-up page, which uses the shared secret below.",
            {
                "enable_registration": False,
                "registration_shared_secret_path": str(syn / SHARED_SECRET_NAME),
                "allow_guest_access": False,
                "enable_3pid_changes": False,
                "enable_3pid_lookup": False,
                "macaroon_secret_key": secrets_["macaroon_secret_key"],
                "form_secret": secrets_["form_secret"],
            },
        ),
        (
            "Privacy: keep as little as Synapse allows, for as short as it allows.\n"
            "Redacted content and client IP addresses go after a day; old events (encrypted)\n"
            "and media after a year. No URL previews (they fetch links members post), no\n"
            "presence (it shows when members are online), push without message content,\n"
            "no phone-home statistics, no metrics endpoint.",
            {
                "redaction_retention_period": REDACTION_RETENTION,
                "user_ips_max_age": USER_IPS_MAX_AGE,
                "retention": {
                    "enabled": True,
                    "default_policy": {"min_lifetime": "1d", "max_lifetime": MESSAGE_RETENTION},
                    "purge_jobs": [{"interval": "12h"}],
                },
                "media_retention": {
                    "local_media_lifetime": LOCAL_MEDIA_LIFETIME,
                    "remote_media_lifetime": REMOTE_MEDIA_LIFETIME,
                },
                "url_preview_enabled": False,
                "presence": {"enabled": False},
                "push": {"include_content": False},
                "report_stats": False,
                "enable_metrics": False,
                "forget_rooms_on_leave": True,
                "encryption_enabled_by_default_for_room_type": "all",
                "require_auth_for_profile_requests": True,
            },
        ),
        (
            "Rate limits are Synapse's defaults for everyone. Only the bot's are lifted, with\n"
            "the admin API (`bin-bridge setup-bot`), never here.",
            {},
        ),
    ]


def synapse_log_config(options: InitOptions) -> dict[str, Any]:
    """WARNING and up only: Synapse's INFO access log would record who talks to whom, when."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "precise": {
                "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(message)s"
            }
        },
        "handlers": {
            "file": {
                "class": "logging.handlers.RotatingFileHandler",
                "formatter": "precise",
                "filename": str(options.synapse_data_dir / "homeserver.log"),
                "maxBytes": 10 * 1024 * 1024,
                "backupCount": 3,
                "encoding": "utf8",
            }
        },
        "loggers": {
            "synapse.access": {"level": "WARNING"},
            "synapse.storage.SQL": {"level": "WARNING"},
        },
        "root": {"level": "WARNING", "handlers": ["file"]},
    }


def bridge_toml(options: InitOptions, bot_password: str, codes: dict[str, str]) -> str:
    """The bot's config, in the shape of config/bridge.example.toml, plus the sign-up page."""
    v = dump_toml_value
    lines = [
        "# BIN over Matrix — the relay bot and the sign-up page. Generated by `bin-bridge init`.",
        "# Holds secrets (the bot's password, the join codes): keep it mode 0600.",
        "",
        'log_level = "INFO"',
        "",
        "[homeserver]",
        "# Synapse on this machine, directly (not through the proxy).",
        f"url = {v(f'http://127.0.0.1:{options.listen_port}')}",
        "# For `bin-bridge setup-bot` and the sign-up page (creating accounts).",
        f"registration_shared_secret_file = {v(str(options.bridge_dir / SHARED_SECRET_NAME))}",
        "# For `bin-bridge doctor` (run as root to let it read Synapse's config).",
        f"synapse_config = {v(str(options.synapse_dir / 'homeserver.yaml'))}",
        "",
        "[bot]",
        f"user_id = {v(options.bot_user_id)}",
        'device_id = "BINBRIDGE"',
        "# Used once, by `bin-bridge setup-bot` and the bot's first login.",
        f"password = {v(bot_password)}",
        'display_name = "BIN"',
        f"data_dir = {v(str(options.bridge_data_dir))}",
        'language = "nl"',
        "# A homeserver admin's access token: the bot then deletes members' original photos",
        "# and the rooms of members who left. How to make one: docs/operator.md, 'Admin token'.",
        "# Takes effect at a restart (systemctl restart bin-bridge).",
        '# admin_token = "syt_…"',
        "",
        "[relay]",
        "# See config/bridge.example.toml for every setting; these matter for the AVG table.",
        'pseudonyms = "per_conversation"',
        "retention_days = 90",
        "block_retention_days = 365",
        "conversation_window_days = 14",
        "# A random delay of 0 up to this many seconds before a member's message reaches the",
        "# desk: blurs the timing link the homeserver's operator could see. 0 = off; see",
        "# docs/operator.md, 'Relay delay', for a recommended value.",
        "max_delay_seconds = 0",
        "",
        "[signup]",
        "# The sign-up page listens here; the reverse proxy serves it at /aanmelden/.",
        'listen_host = "127.0.0.1"',
        f"listen_port = {options.signup_port}",
        "# What residents enter in their app as the server.",
        f"client_url = {v(options.public_url.rstrip('/'))}",
        "# Where residents open the page (for `bin-bridge doctor`).",
        f"public_url = {v(options.public_url.rstrip('/') + '/aanmelden/')}",
        f"secure_cookies = {v(options.public_url.startswith('https://'))}",
        f"privacy_file = {v(str(options.bridge_dir / 'privacy.md'))}",
        "",
    ]
    for slug, name in options.wijken:
        lines += [
            "[[wijken]]",
            f"slug = {v(slug)}",
            f"name = {v(name)}",
            f"join_code = {v(codes[slug])}",
            "# The first coordinator is primary, the second reserve; then reload (kill -HUP).",
            "coordinators = []",
            "police = []",
            "approval = false",
            "",
        ]
    return "\n".join(lines)


def well_known(options: InitOptions) -> dict[str, str]:
    """`.well-known/matrix/server` and `client`, served on https://<server name>/."""
    server = {"m.server": f"{options.public_host}:{options.public_port}"}
    client = {"m.homeserver": {"base_url": options.public_url.rstrip("/")}}
    return {
        "server": json.dumps(server, indent=2) + "\n",
        "client": json.dumps(client, indent=2) + "\n",
    }


def certbot_command(options: InitOptions) -> str:
    """One certificate for the public host and, if different, the server name's host.

    certbot stores one certificate under /etc/letsencrypt/live/<cert name>/, the cert name being
    the first -d unless `--cert-name` says otherwise; saying it keeps the directory the public
    host's even where certbot would otherwise pick another name (`…-0001`).
    """
    host = options.public_host
    server_host = options.server_name.split(":")[0]
    names = f" -d {host}" + (f" -d {server_host}" if server_host != host else "")
    return f"certbot certonly --nginx --cert-name {host}{names}"


def certificate_dir(options: InitOptions) -> str:
    """Where `certbot_command` puts the one certificate both server blocks use."""
    return f"/etc/letsencrypt/live/{options.public_host}"


def nginx_config(options: InitOptions) -> str:
    """An example nginx site: TLS (certbot), Synapse, the sign-up page, .well-known."""
    host = options.public_host
    server_host = options.server_name.split(":")[0]
    well_known_root = options.out_dir / "www"
    cert = certificate_dir(options)
    delegation = ""
    if server_host != host:
        delegation = f"""
# The server name's own site only needs to answer the two .well-known files.
server {{
    listen 443 ssl;
    listen [::]:443 ssl;
    server_name {server_host};
    # The same certificate as {host}: certbot made one for both names.
    ssl_certificate     {cert}/fullchain.pem;
    ssl_certificate_key {cert}/privkey.pem;
    access_log off;

    location /.well-known/matrix/ {{
        root {well_known_root};
        default_type application/json;
        add_header Access-Control-Allow-Origin "*";
    }}
}}
"""
    return f"""# BIN over Matrix — example nginx site, generated by `bin-bridge init`.
# Install: apt-get install nginx certbot python3-certbot-nginx
#          {certbot_command(options)}
#          (one certificate for every name here, in {cert}/)
#          cp this file /etc/nginx/sites-available/bin-matrix; ln -s it into sites-enabled
# No access log: it would record residents' IP addresses next to the times they post.

server {{
    listen 80;
    listen [::]:80;
    server_name {host}{" " + server_host if server_host != host else ""};
    access_log off;
    location / {{ return 301 https://$host$request_uri; }}
}}

server {{
    # "listen … http2" rather than "http2 on": Debian 12's nginx is 1.22.
    listen {options.public_port} ssl http2;
    listen [::]:{options.public_port} ssl http2;
    server_name {host};
    ssl_certificate     {cert}/fullchain.pem;
    ssl_certificate_key {cert}/privkey.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    add_header Strict-Transport-Security "max-age=31536000" always;
    access_log off;
    client_max_body_size 20M;

    # Client and federation APIs. The admin API (/_synapse/admin) is NOT proxied: it is
    # reachable on 127.0.0.1:{options.listen_port} only.
    location ~ ^(/_matrix|/_synapse/client) {{
        proxy_pass http://127.0.0.1:{options.listen_port};
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Host $host;
        proxy_http_version 1.1;
    }}

    # The sign-up page for residents.
    location = /aanmelden {{ return 301 /aanmelden/; }}
    location /aanmelden/ {{
        proxy_pass http://127.0.0.1:{options.signup_port}/;
        proxy_set_header Host $host;
    }}

    location /.well-known/matrix/ {{
        root {well_known_root};
        default_type application/json;
        add_header Access-Control-Allow-Origin "*";
    }}
}}
{delegation}"""


def systemd_units(options: InitOptions) -> dict[str, str]:
    """Units for Synapse, the bot and the sign-up page (users bin-synapse and bin-bridge)."""
    venv = options.install_dir / ".venv" / "bin"
    toml = options.bridge_dir / "bridge.toml"
    hardening = (
        "NoNewPrivileges=yes\nPrivateTmp=yes\nProtectSystem=strict\nProtectHome=yes\n"
        "ProtectKernelTunables=yes\nProtectControlGroups=yes\nRestrictSUIDSGID=yes\n"
    )
    return {
        "bin-synapse.service": f"""[Unit]
Description=Synapse homeserver for BIN over Matrix
After=network-online.target postgresql.service
Wants=network-online.target

[Service]
Type=notify
NotifyAccess=main
User=bin-synapse
Group=bin-synapse
WorkingDirectory={options.synapse_data_dir}
ExecStart={venv}/python -m synapse.app.homeserver -c {options.synapse_dir / "homeserver.yaml"}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=3
ReadWritePaths={options.synapse_data_dir}
{hardening}
[Install]
WantedBy=multi-user.target
""",
        "bin-bridge.service": f"""[Unit]
Description=BIN over Matrix relay bot
After=bin-synapse.service
Wants=bin-synapse.service

[Service]
Type=simple
User=bin-bridge
Group=bin-bridge
ExecStart={venv}/bin-bridge run --config {toml}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
TimeoutStopSec=60
ReadWritePaths={options.bridge_data_dir}
{hardening}
[Install]
WantedBy=multi-user.target
""",
        "bin-signup.service": f"""[Unit]
Description=BIN over Matrix sign-up page for residents
After=bin-synapse.service

[Service]
Type=simple
User=bin-bridge
Group=bin-bridge
ExecStart={venv}/bin-bridge signup-page --config {toml}
Restart=on-failure
RestartSec=5
# Reads the bot's store (join codes); SQLite needs write access for its lock files.
ReadWritePaths={options.bridge_data_dir}
{hardening}
[Install]
WantedBy=multi-user.target
""",
    }


def psql_command(options: InitOptions) -> str:
    """How root runs postgres-setup.sql: the postgres user cannot open the file itself."""
    path = options.synapse_dir / "postgres-setup.sql"
    return f"runuser -u postgres -- psql -v ON_ERROR_STOP=1 < {path}"


def postgres_setup_sql(options: InitOptions, password: str) -> str:
    """The role and database Synapse needs (C collation, as Synapse requires)."""
    quoted = password.replace("'", "''")
    return (
        "-- Run once as the postgres superuser; root opens this file (mode 0600), psql reads it\n"
        f"-- on stdin:  {psql_command(options)}\n"
        f"CREATE ROLE {options.db_user} LOGIN PASSWORD '{quoted}';\n"
        f"CREATE DATABASE {options.db_name} OWNER {options.db_user} ENCODING 'UTF8'\n"
        "    LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;\n"
    )


def commented_yaml(sections: Iterable[tuple[str, dict[str, Any]]], header: str) -> str:
    """YAML with a comment above each section (plain yaml.dump cannot write comments)."""
    parts = [header]
    for comment, mapping in sections:
        parts.append("\n" + "".join(f"# {line}\n" for line in comment.splitlines()))
        if mapping:
            parts.append(yaml.dump(mapping, Dumper=_PlainDumper, sort_keys=False))
    return "".join(parts)


class _PlainDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


# -- writing -----------------------------------------------------------------------------------


def generate(options: InitOptions, privacy_source: Path | None = None) -> InitResult:
    """Write every file into `options.out_dir`; refuse to replace an earlier init's secrets."""
    options.validate()
    options.out_dir = options.out_dir.resolve()
    marker = options.synapse_dir / "homeserver.yaml"
    if marker.exists() and not options.force:
        raise InitError(
            f"{options.out_dir} already holds a generated setup; its secrets and signing key "
            "would be replaced. Use another --out, or --force if that is really what you want"
        )
    warnings = []
    if options.public_url.startswith("http://"):
        warnings.append("the public URL is plain http: fine for a test, never for residents")
    db_password = options.db_password or secrets.token_urlsafe(24)
    secrets_ = {
        "db_password": db_password,
        "macaroon_secret_key": secrets.token_urlsafe(32),
        "form_secret": secrets.token_urlsafe(32),
    }
    shared_secret = secrets.token_urlsafe(32)
    bot_password = secrets.token_urlsafe(24)
    codes = {slug: new_code(slug) for slug, _ in options.wijken}

    files: list[Path] = []

    def put(path: Path, text: str, private: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755 if not private else 0o700)
        _write(path, text, 0o600 if private else 0o644)
        files.append(path)

    options.out_dir.mkdir(parents=True, exist_ok=True, mode=0o755)
    syn, bri = options.synapse_dir, options.bridge_dir
    header = (
        "# Synapse for BIN over Matrix, generated by `bin-bridge init`. Holds secrets: mode 0600.\n"
        "# Edit freely; `bin-bridge doctor` reports settings that weaken members' privacy.\n"
    )
    put(syn / "homeserver.yaml", commented_yaml(synapse_config(options, secrets_), header), True)
    put(syn / "log.config.yaml", yaml.dump(synapse_log_config(options), sort_keys=False), False)
    put(syn / SHARED_SECRET_NAME, shared_secret, True)
    put(syn / "postgres-setup.sql", postgres_setup_sql(options, db_password), True)
    _write_signing_key(syn / "signing.key")
    files.append(syn / "signing.key")
    put(bri / "bridge.toml", bridge_toml(options, bot_password, codes), True)
    put(bri / SHARED_SECRET_NAME, shared_secret, True)
    if privacy_source is not None and privacy_source.is_file():
        put(bri / "privacy.md", privacy_source.read_text(encoding="utf-8"), False)
    else:
        warnings.append("no privacy statement found: write bridge/privacy.md before going live")
    for name, text in well_known(options).items():
        put(options.out_dir / WELL_KNOWN_DIR / name, text, False)
    put(options.out_dir / "nginx" / "bin-matrix.conf", nginx_config(options), False)
    for name, text in systemd_units(options).items():
        put(options.out_dir / "systemd" / name, text, False)
    return InitResult(files=files, join_codes=codes, warnings=warnings)


def _write(path: Path, text: str, mode: int) -> None:
    partial = path.with_name(path.name + ".partial")
    fd = _open_mode(partial, mode)
    with open(fd, "w", encoding="utf-8") as stream:
        stream.write(text)
    partial.chmod(mode)
    partial.replace(path)


def _open_mode(path: Path, mode: int) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)


def _write_signing_key(path: Path) -> None:
    # The key id scheme and file format of Synapse's own --generate-keys.
    key = generate_signing_key("a_" + secrets.token_hex(2))
    fd = _open_mode(path, 0o600)
    with open(fd, "w", encoding="utf-8") as stream:
        write_signing_keys(stream, [key])
    path.chmod(0o600)


# -- the command -------------------------------------------------------------------------------


def add_init_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `bin-bridge init`; anything missing is asked for on a terminal."""
    add = parser.add_argument
    add("--out", type=Path, help="where to write the files (default /etc/bin-matrix)")
    add("--server-name", help="Matrix server name, e.g. example.nl")
    add("--public-url", help="public URL of the homeserver, e.g. https://matrix.example.nl")
    add("--db-host", help="PostgreSQL host (default 127.0.0.1)")
    add("--db-port", type=int, help="PostgreSQL port (default 5432)")
    add("--db-name", help="PostgreSQL database (default synapse)")
    add("--db-user", help="PostgreSQL user (default synapse)")
    add(
        "--db-password-file",
        type=Path,
        help="file whose first line is the PostgreSQL password (default: generate one)",
    )
    add("--wijk", action="append", metavar="SLUG:NAME", help="a wijk, e.g. oost:Gestel Oost")
    add("--synapse-data-dir", type=Path, help="Synapse's media, log (default /var/lib/bin-synapse)")
    add("--bridge-data-dir", type=Path, help="the bot's state (default /var/lib/bin-bridge)")
    add("--install-dir", type=Path, help="the clone with .venv (default /opt/bin-matrix)")
    add("--listen-port", type=int, help="Synapse's port on 127.0.0.1 (default 8008)")
    add("--signup-port", type=int, help="the sign-up page's port on 127.0.0.1 (default 8090)")
    add("--bot-name", help="the bot's user name (default bin)")
    add("--force", action="store_true", help="replace an earlier init in --out (new secrets)")


Ask = Callable[[str], str]


def options_from_args(
    args: argparse.Namespace, ask: Ask | None, ask_secret: Ask | None
) -> InitOptions:
    """Flags first; a missing required answer is asked for when `ask` is given, else an error."""
    missing: list[str] = []

    def need(value: Any, flag: str, question: str, secret: bool = False) -> Any:
        if value is not None:
            return value
        asker = ask_secret if secret else ask
        if asker is None:
            missing.append(flag)
            return None
        answer = asker(question).strip()
        if not answer:
            missing.append(flag)
            return None
        return answer

    server_name = need(args.server_name, "--server-name", "Matrix server name (example.nl): ")
    public_url = need(
        args.public_url, "--public-url", "Public URL of the homeserver (https://matrix...): "
    )
    wijk_specs: list[str] = list(args.wijk or [])
    if not wijk_specs:
        answer = need(None, "--wijk", "Wijken, as slug:name separated by commas: ")
        if answer:
            wijk_specs = [part for part in answer.split(",") if part.strip()]
    if missing:
        raise InitError("missing " + ", ".join(missing) + " (run on a terminal to be asked)")
    password: str | None = None
    if args.db_password_file is not None:
        lines = args.db_password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else None
    elif ask_secret is not None:
        password = ask_secret("PostgreSQL password (empty: generate one): ").strip() or None
    defaults = InitOptions(server_name="", public_url="", wijken=[], out_dir=Path())

    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    return InitOptions(
        server_name=server_name,
        public_url=public_url,
        wijken=[parse_wijk(spec) for spec in wijk_specs],
        out_dir=pick(args.out, Path("/etc/bin-matrix")),
        db_host=pick(args.db_host, defaults.db_host),
        db_port=pick(args.db_port, defaults.db_port),
        db_name=pick(args.db_name, defaults.db_name),
        db_user=pick(args.db_user, defaults.db_user),
        db_password=password,
        synapse_data_dir=pick(args.synapse_data_dir, defaults.synapse_data_dir),
        bridge_data_dir=pick(args.bridge_data_dir, defaults.bridge_data_dir),
        install_dir=pick(args.install_dir, defaults.install_dir),
        listen_port=pick(args.listen_port, defaults.listen_port),
        signup_port=pick(args.signup_port, defaults.signup_port),
        bot_localpart=pick(args.bot_name, defaults.bot_localpart),
        force=bool(args.force),
    )


PRIVACY_TEMPLATE = Path(__file__).resolve().parent / "templates" / "privacy.md"
"""The members' privacy statement as shipped with the package (a copy of docs/privacy.md, so
that a non-editable `pip install .` has it too; a unit test keeps the two the same)."""


def default_privacy_source() -> Path:
    """The privacy statement init writes to bridge/privacy.md: the packaged copy."""
    return PRIVACY_TEMPLATE


def main_init(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """`bin-bridge init`: exit 0, or 2 with the reason."""
    out = out or sys.stdout
    interactive = sys.stdin.isatty()
    try:
        options = options_from_args(
            args,
            ask=input if interactive else None,
            ask_secret=getpass.getpass if interactive else None,
        )
        result = generate(options, default_privacy_source())
    except (InitError, OSError) as exc:
        print(f"bin-bridge init: {exc}", file=sys.stderr)
        return 2
    print(f"Written to {options.out_dir} (secrets in files of mode 0600):", file=out)
    for path in result.files:
        print(f"  {path.relative_to(options.out_dir)}", file=out)
    for warning in result.warnings:
        print(f"Warning: {warning}", file=out)
    print("\nJoin codes (shown once here; they are in bridge/bridge.toml):", file=out)
    for slug, code in result.join_codes.items():
        print(f"  {slug}: {code}", file=out)
    program = options.install_dir / ".venv" / "bin" / "bin-bridge"
    print(
        "\nNext: create the database, start Synapse, then set up the bot's account:\n"
        f"  {psql_command(options)}\n"
        f"  {program} setup-bot --config {options.bridge_dir / 'bridge.toml'}\n"
        "and follow docs/operator.md.",
        file=out,
    )
    return 0


# -- setup-bot ---------------------------------------------------------------------------------


def read_shared_secret(settings: BridgeSettings) -> str:
    """The registration shared secret from `homeserver.registration_shared_secret_file`."""
    path = settings.homeserver.registration_shared_secret_file
    if path is None:
        raise InitError("homeserver.registration_shared_secret_file is not set in the config")
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise InitError(f"cannot read the registration shared secret: {exc}") from None
    if not value:
        raise InitError(f"{path} is empty")
    return value


RATELIMIT_PATH = "/_synapse/admin/v1/users/{user_id}/override_ratelimit"
DEACTIVATE_PATH = "/_synapse/admin/v1/deactivate/{user_id}"


async def lift_ratelimit(url: str, shared_secret: str, user_id: str) -> dict[str, Any]:
    """Lift one local user's rate limits with the admin API (0 means: no limit).

    The admin API needs an admin's token; rather than keep an admin account around, a
    one-off admin is made with the shared secret and deactivated (erased) straight after.
    Returns the override as the homeserver reports it.
    """
    import aiohttp

    from bridge.homeserver import register_user_async

    admin = await register_user_async(
        url, shared_secret, f"bin-setup-{secrets.token_hex(6)}", admin=True
    )
    headers = {"Authorization": f"Bearer {admin.access_token}"}
    quoted = urllib.parse.quote(user_id, safe="@:")
    base = url.rstrip("/")
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        try:
            async with session.post(
                base + RATELIMIT_PATH.format(user_id=quoted),
                json={"messages_per_second": 0, "burst_count": 0},
            ) as response:
                if response.status != 200:
                    raise InitError(
                        f"override_ratelimit for {user_id} failed: HTTP {response.status} "
                        f"{await response.text()}"
                    )
            async with session.get(base + RATELIMIT_PATH.format(user_id=quoted)) as response:
                result: dict[str, Any] = await response.json()
        finally:
            async with session.post(
                base + DEACTIVATE_PATH.format(user_id=urllib.parse.quote(admin.user_id, "@:")),
                json={"erase": True},
            ) as response:
                if response.status != 200:
                    raise InitError(f"could not deactivate the one-off admin {admin.user_id}")
    return result


async def setup_bot(settings: BridgeSettings, out: TextIO | None = None) -> None:
    """Create the bot's account (if it does not exist) and lift its rate limits."""
    out = out or sys.stdout
    from bridge.homeserver import HomeserverError, create_account_async

    url = settings.homeserver.url
    secret = read_shared_secret(settings)
    bot = settings.bot.user_id
    localpart = bot[1:].split(":", 1)[0]
    if settings.bot.password is None:
        raise InitError("bot.password is needed to create the bot's account")
    try:
        made = await create_account_async(
            url, secret, localpart, settings.bot.password.get_secret_value()
        )
    except HomeserverError as exc:
        if exc.errcode != "M_USER_IN_USE":
            raise InitError(str(exc)) from None
        print(f"The bot's account {bot} exists already.", file=out)
    else:
        if made != bot:
            raise InitError(
                f"the homeserver made {made}, but the config says {bot}: "
                "bot.user_id must be on this homeserver's server name"
            )
        print(f"Created the bot's account {bot}.", file=out)
    try:
        override = await lift_ratelimit(url, secret, bot)
    except HomeserverError as exc:
        raise InitError(str(exc)) from None
    print(
        f"Rate limits lifted for {bot} "
        f"(messages_per_second={override.get('messages_per_second')}, "
        f"burst_count={override.get('burst_count')}).",
        file=out,
    )


def main_setup_bot(settings: BridgeSettings) -> int:
    """`bin-bridge setup-bot`: exit 0, or 2 with the reason."""
    import asyncio

    try:
        asyncio.run(setup_bot(settings))
    except InitError as exc:
        print(f"bin-bridge setup-bot: {exc}", file=sys.stderr)
        return 2
    return 0
