"""`bin-bridge init`: every generated file parses, every privacy setting is there, secrets stay
in files of mode 0600 and are never printed, and a second run does not replace them."""

from __future__ import annotations

import argparse
import io
import json
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.__main__ import build_parser
from bridge.__main__ import main as bin_bridge
from bridge.deploy import InitError, InitOptions, generate, options_from_args, parse_wijk
from bridge.settings import load_settings

FLAGS = [
    "--server-name",
    "example.nl",
    "--public-url",
    "https://matrix.example.nl",
    "--wijk",
    "oost:Sint-Michielsgestel Oost",
    "--wijk",
    "west:Sint-Michielsgestel West",
    "--db-host",
    "db.internal",
    "--db-port",
    "5433",
    "--db-name",
    "bin_synapse",
    "--db-user",
    "bin",
]


@pytest.fixture
def generated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    out = tmp_path / "etc"
    password = tmp_path / "pw"
    password.write_text("s3cret-db-password\n")
    assert bin_bridge(["init", "--out", str(out), "--db-password-file", str(password), *FLAGS]) == 0
    return out, capsys.readouterr().out


def synapse(out: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((out / "synapse" / "homeserver.yaml").read_text())
    return loaded


def test_synapse_runs_on_postgresql_with_the_given_connection(generated: tuple[Path, str]) -> None:
    out, _ = generated
    database = synapse(out)["database"]
    assert database["name"] == "psycopg2"
    assert database["args"] | {"password": "-"} == database["args"] | {
        "user": "bin",
        "password": "-",
        "dbname": "bin_synapse",
        "host": "db.internal",
        "port": 5433,
    }
    assert database["args"]["password"] == "s3cret-db-password"
    sql = (out / "synapse" / "postgres-setup.sql").read_text()
    assert "CREATE ROLE bin LOGIN PASSWORD 's3cret-db-password'" in sql
    assert "LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" in sql


def test_every_privacy_setting_is_in_the_synapse_config(generated: tuple[Path, str]) -> None:
    config = synapse(generated[0])
    assert config["server_name"] == "example.nl"
    assert config["public_baseurl"] == "https://matrix.example.nl/"
    # Federation on: no whitelist, the federation resource is served.
    assert "federation_domain_whitelist" not in config
    (listener,) = config["listeners"]
    assert listener["bind_addresses"] == ["127.0.0.1"]
    assert listener["tls"] is False
    assert listener["x_forwarded"] is True
    assert listener["resources"][0]["names"] == ["client", "federation"]
    # Privacy-minded retention.
    assert config["redaction_retention_period"] == "1d"
    assert config["user_ips_max_age"] == "1d"
    assert config["retention"]["enabled"] is True
    assert config["retention"]["default_policy"]["max_lifetime"] == "365d"
    assert config["media_retention"] == {
        "local_media_lifetime": "365d",
        "remote_media_lifetime": "14d",
    }
    # Nothing that leaks who is online, what links are posted, or phones home.
    assert config["url_preview_enabled"] is False
    assert config["presence"] == {"enabled": False}
    assert config["push"] == {"include_content": False}
    assert config["report_stats"] is False
    assert config["enable_metrics"] is False
    assert config["trusted_key_servers"] == []
    assert config["room_list_publication_rules"] == [{"action": "deny"}]
    assert config["allow_public_rooms_over_federation"] is False
    # Accounts only through the shared secret: no open registration, no e-mail or phone.
    assert config["enable_registration"] is False
    assert config["allow_guest_access"] is False
    assert config["enable_3pid_changes"] is False
    assert config["enable_3pid_lookup"] is False
    assert config["encryption_enabled_by_default_for_room_type"] == "all"
    # Rate limits stay at Synapse's defaults: none is set in the file.
    assert not [key for key in config if key.startswith("rc_")]
    # The log records no access lines (who talked when, from where).
    log = yaml.safe_load((generated[0] / "synapse" / "log.config.yaml").read_text())
    assert log["loggers"]["synapse.access"]["level"] == "WARNING"
    assert log["root"]["level"] == "WARNING"


def test_the_bot_config_loads_and_points_at_the_local_synapse(generated: tuple[Path, str]) -> None:
    out, _ = generated
    path = out / "bridge" / "bridge.toml"
    tomllib.loads(path.read_text())  # plain TOML
    settings = load_settings(path)
    assert settings.homeserver.url == "http://127.0.0.1:8008"
    assert settings.bot.user_id == "@bin:example.nl"
    assert settings.bot.password is not None
    assert len(settings.bot.password.get_secret_value()) >= 24
    assert [(w.slug, w.name) for w in settings.wijken] == [
        ("oost", "Sint-Michielsgestel Oost"),
        ("west", "Sint-Michielsgestel West"),
    ]
    codes = [w.join_code.get_secret_value() for w in settings.wijken]
    assert codes[0].startswith("OOST-") and codes[1].startswith("WEST-")
    assert settings.relay.retention_days == 90
    assert settings.signup is not None
    assert settings.signup.client_url == "https://matrix.example.nl"
    assert settings.signup.secure_cookies is True
    shared = settings.homeserver.registration_shared_secret_file
    assert shared is not None
    assert shared.read_text() == (out / "synapse" / "registration_shared_secret").read_text()
    assert synapse(out)["registration_shared_secret_path"] == str(
        out / "synapse" / "registration_shared_secret"
    )


def test_secrets_are_in_files_of_mode_0600_and_printed_at_most_once(
    generated: tuple[Path, str],
) -> None:
    out, printed = generated
    private = [
        "synapse/homeserver.yaml",
        "synapse/signing.key",
        "synapse/registration_shared_secret",
        "synapse/postgres-setup.sql",
        "bridge/bridge.toml",
        "bridge/registration_shared_secret",
    ]
    for name in private:
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
    config = synapse(out)
    settings = load_settings(out / "bridge" / "bridge.toml")
    assert settings.bot.password is not None
    never_printed = [
        config["macaroon_secret_key"],
        config["form_secret"],
        config["database"]["args"]["password"],
        (out / "synapse" / "registration_shared_secret").read_text(),
        settings.bot.password.get_secret_value(),
        (out / "synapse" / "signing.key").read_text().split()[-1],
    ]
    for secret in never_printed:
        assert len(secret) >= 16
        assert secret not in printed
    # The join codes are shown once, so the operator can hand them to the coordinators.
    for wijk in settings.wijken:
        assert printed.count(wijk.join_code.get_secret_value()) == 1
    # Every secret is different.
    assert len(set(never_printed)) == len(never_printed)


def test_well_known_delegates_to_the_public_url(generated: tuple[Path, str]) -> None:
    root = generated[0] / "www" / ".well-known" / "matrix"
    assert json.loads((root / "server").read_text()) == {"m.server": "matrix.example.nl:443"}
    assert json.loads((root / "client").read_text()) == {
        "m.homeserver": {"base_url": "https://matrix.example.nl"}
    }


def test_the_proxy_serves_tls_keeps_the_admin_api_inside_and_logs_no_addresses(
    generated: tuple[Path, str],
) -> None:
    nginx = (generated[0] / "nginx" / "bin-matrix.conf").read_text()
    assert "listen 443 ssl http2;" in nginx
    assert "/etc/letsencrypt/live/matrix.example.nl/fullchain.pem" in nginx
    assert "location ~ ^(/_matrix|/_synapse/client)" in nginx
    assert "location /_synapse/admin" not in nginx
    assert nginx.count("access_log off;") == nginx.count("server {")
    assert "proxy_pass http://127.0.0.1:8090/;" in nginx
    # The server name's own host answers .well-known.
    assert "server_name example.nl;" in nginx


def test_systemd_units_start_each_program_as_its_own_user(generated: tuple[Path, str]) -> None:
    units = generated[0] / "systemd"
    synapse_unit = (units / "bin-synapse.service").read_text()
    assert "User=bin-synapse" in synapse_unit
    assert "-m synapse.app.homeserver -c " + str(generated[0] / "synapse" / "homeserver.yaml") in (
        synapse_unit
    )
    bot = (units / "bin-bridge.service").read_text()
    assert "User=bin-bridge" in bot
    assert "bin-bridge run --config" in bot and "ExecReload=/bin/kill -HUP $MAINPID" in bot
    page = (units / "bin-signup.service").read_text()
    assert "bin-bridge signup-page --config" in page
    for text in (synapse_unit, bot, page):
        assert "NoNewPrivileges=yes" in text and "ProtectSystem=strict" in text


def test_a_second_init_refuses_to_replace_the_secrets(
    generated: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = generated
    key = (out / "synapse" / "signing.key").read_text()
    assert bin_bridge(["init", "--out", str(out), *FLAGS]) == 2
    assert "already holds a generated setup" in capsys.readouterr().err
    assert (out / "synapse" / "signing.key").read_text() == key
    assert bin_bridge(["init", "--out", str(out), "--force", *FLAGS]) == 0
    assert (out / "synapse" / "signing.key").read_text() != key


def test_without_a_terminal_missing_answers_are_named_not_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bin_bridge(["init", "--out", str(tmp_path / "x"), "--server-name", "example.nl"]) == 2
    err = capsys.readouterr().err
    assert "--public-url" in err and "--wijk" in err
    assert not (tmp_path / "x").exists()


def test_on_a_terminal_missing_answers_are_asked(tmp_path: Path) -> None:
    args = build_parser().parse_args(["init", "--out", str(tmp_path)])
    answers = iter(["example.nl", "https://matrix.example.nl", "oost:Oost, west:West"])
    asked: list[str] = []

    def ask(question: str) -> str:
        asked.append(question)
        return next(answers)

    options = options_from_args(args, ask=ask, ask_secret=lambda q: "")
    assert (options.server_name, options.public_url) == ("example.nl", "https://matrix.example.nl")
    assert options.wijken == [("oost", "Oost"), ("west", "West")]
    assert options.db_password is None  # generated when written
    assert len(asked) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"server_name": "not a host"}, "server name"),
        ({"public_url": "matrix.example.nl"}, "public URL"),
        ({"public_url": "https://matrix.example.nl/synapse"}, "no path"),
        ({"wijken": []}, "at least one wijk"),
        ({"wijken": [("Oost", "Oost")]}, "slug"),
        ({"db_user": "bin; DROP"}, "database user"),
    ],
)
def test_invalid_answers_are_refused_before_anything_is_written(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    values: dict[str, Any] = {
        "server_name": "example.nl",
        "public_url": "https://matrix.example.nl",
        "wijken": [("oost", "Oost")],
        "out_dir": tmp_path / "out",
    }
    options = InitOptions(**(values | change))
    with pytest.raises(InitError, match=message):
        generate(options)
    assert not (tmp_path / "out").exists()


def test_wijk_specs_need_a_slug_and_a_name() -> None:
    assert parse_wijk(" oost : Gestel Oost ") == ("oost", "Gestel Oost")
    with pytest.raises(InitError):
        parse_wijk("oost")


def test_the_init_help_names_every_flag() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    text = io.StringIO()
    sub.choices["init"].print_help(text)
    for flag in ("--server-name", "--public-url", "--db-host", "--db-password-file", "--wijk"):
        assert flag in text.getvalue()


def test_doctor_finds_the_generated_synapse_config_private_and_knows_where_it_is(
    generated: tuple[Path, str],
) -> None:
    from bridge.doctor_production import duration_s, synapse_findings

    out, _ = generated
    settings = load_settings(out / "bridge" / "bridge.toml")
    assert settings.homeserver.synapse_config == out / "synapse" / "homeserver.yaml"
    assert settings.signup is not None
    assert settings.signup.public_url == "https://matrix.example.nl/aanmelden/"
    ok, lines = synapse_findings(synapse(out))
    assert ok, lines
    assert lines[0] == "Privacy settings as `bin-bridge init` wrote them."
    assert "Federation is on: residents with an account elsewhere can join." in lines
    assert (duration_s("1d"), duration_s("12h"), duration_s(86_400_000)) == (86400, 43200, 86400)
    assert duration_s("soon") is None


# -- what a fresh Debian install ran into -------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_GUIDE = ROOT / "docs" / "operator.md"


def example_options(tmp_path: Path) -> InitOptions:
    return InitOptions(
        server_name="example.nl",
        public_url="https://matrix.example.nl",
        wijken=[("oost", "Oost")],
        out_dir=tmp_path / "etc",
    )


def test_the_database_is_set_up_through_stdin_opened_by_root(
    generated: tuple[Path, str],
) -> None:
    # The file is 0600 in bin-synapse's 0700 folder: `psql -f` as postgres cannot open it.
    out, printed = generated
    command = (
        "runuser -u postgres -- psql -v ON_ERROR_STOP=1 < "
        f"{out.resolve() / 'synapse' / 'postgres-setup.sql'}"
    )
    sql = (out / "synapse" / "postgres-setup.sql").read_text()
    assert command in sql.splitlines()[1]
    assert "psql -f" not in sql
    assert command in printed
    guide = OPERATOR_GUIDE.read_text()
    setup = "/etc/bin-matrix/synapse/postgres-setup.sql"
    assert f"runuser -u postgres -- psql -v ON_ERROR_STOP=1 < {setup}" in guide
    assert "psql -f" not in guide.replace("(`psql -f` as `postgres` would be refused)", "")


def test_both_server_blocks_use_the_one_certificate_certbot_makes(
    generated: tuple[Path, str],
) -> None:
    from bridge.deploy import certbot_command

    nginx = (generated[0] / "nginx" / "bin-matrix.conf").read_text()
    # Two TLS server blocks (the public host, and example.nl for .well-known) ...
    assert nginx.count("ssl_certificate ") == 2
    # ... both with the certificate certbot stores under the first -d / --cert-name.
    assert (
        nginx.count("ssl_certificate     /etc/letsencrypt/live/matrix.example.nl/fullchain.pem")
        == 2
    )
    assert (
        nginx.count("ssl_certificate_key /etc/letsencrypt/live/matrix.example.nl/privkey.pem") == 2
    )
    assert "/live/example.nl/" not in nginx
    command = certbot_command(example_options(generated[0]))
    assert command == (
        "certbot certonly --nginx --cert-name matrix.example.nl -d matrix.example.nl -d example.nl"
    )
    assert command in nginx
    # The guide's command is the same one: public host first.
    assert command in OPERATOR_GUIDE.read_text()


def test_one_host_gets_one_server_block_and_one_name(tmp_path: Path) -> None:
    from bridge.deploy import certbot_command, nginx_config

    options = example_options(tmp_path)
    options.server_name = "matrix.example.nl"
    assert certbot_command(options) == (
        "certbot certonly --nginx --cert-name matrix.example.nl -d matrix.example.nl"
    )
    assert nginx_config(options).count("ssl_certificate ") == 1


def test_the_privacy_statement_ships_with_the_package_and_equals_the_docs() -> None:
    from bridge.deploy import default_privacy_source

    packaged = default_privacy_source()
    # Inside the package (installed by a non-editable `pip install .`), not next to it.
    assert packaged.parent == ROOT / "bridge" / "templates"
    assert packaged.read_text(encoding="utf-8") == (ROOT / "docs" / "privacy.md").read_text(
        encoding="utf-8"
    ), "docs/privacy.md changed: cp docs/privacy.md bridge/templates/privacy.md"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "templates/*" in pyproject["tool"]["setuptools"]["package-data"]["bridge"]


def test_init_writes_the_privacy_statement_without_a_warning(
    generated: tuple[Path, str],
) -> None:
    out, printed = generated
    written = (out / "bridge" / "privacy.md").read_text(encoding="utf-8")
    assert written == (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    assert "Warning" not in printed
    settings = load_settings(out / "bridge" / "bridge.toml")
    assert settings.signup is not None and settings.signup.privacy_file == out.resolve() / (
        "bridge/privacy.md"
    )


def test_init_from_an_installed_package_finds_its_privacy_statement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A non-editable install has no docs/ next to the package: only the packaged copy counts.
    import shutil

    from bridge import deploy

    site = tmp_path / "site-packages" / "bridge" / "templates"
    site.mkdir(parents=True)
    shutil.copy(deploy.PRIVACY_TEMPLATE, site / "privacy.md")
    monkeypatch.setattr(deploy, "PRIVACY_TEMPLATE", site / "privacy.md")
    result = generate(example_options(tmp_path), deploy.default_privacy_source())
    assert result.warnings == []
    assert (tmp_path / "etc" / "bridge" / "privacy.md").is_file()


def test_the_bot_config_names_the_relay_delay_and_the_admin_token(
    generated: tuple[Path, str],
) -> None:
    text = (generated[0] / "bridge" / "bridge.toml").read_text()
    assert "max_delay_seconds = 0" in text
    assert '# admin_token = "syt_…"' in text
    assert "'Admin token'" in text and "'Relay delay'" in text
    guide = OPERATOR_GUIDE.read_text()
    assert "### Admin token (`bot.admin_token`)" in guide
    assert "### Relay delay (`relay.max_delay_seconds`)" in guide
    assert "register_new_matrix_user --admin" in guide


def test_the_guide_runs_every_bin_bridge_command_by_its_full_path() -> None:
    # The venv's bin is not on PATH: `bin-bridge backup` alone is "command not found".
    import re

    guide = OPERATOR_GUIDE.read_text()
    commands = "run|backup|restore|doctor|admin|init|setup-bot"
    blocks = "\n".join(re.findall(r"```sh\n(.*?)```", guide, re.S))
    inline = "\n".join(re.findall(r"`([^`]*)`", guide.replace("\n", " ")))
    uses = re.findall(rf"(\S*)bin-bridge (?:{commands}) ", blocks + "\n" + inline)
    assert len(uses) >= 8
    for prefix in uses:
        assert prefix == "/opt/bin-matrix/.venv/bin/", prefix


def test_the_guide_creates_the_backup_passphrase_and_private_dumps() -> None:
    guide = OPERATOR_GUIDE.read_text()
    assert "(umask 077; head -c 32 /dev/urandom | base64 > /root/bin-backup-passphrase)" in guide
    assert "password manager" in guide
    for line in guide.splitlines():
        if "pg_dump" in line and ">" in line:
            assert "umask 077;" in line, line
    # adduser's homes are 0755; doctor wants 0700.
    assert "chmod 700 /var/lib/bin-synapse /var/lib/bin-bridge" in guide
