"""Production doctor checks and `bin-bridge run`'s start, without a homeserver: the privacy
statement, the words for a TLS failure, the data dir's mode, and the SIGHUP log line."""

from __future__ import annotations

import asyncio
import logging
import ssl
import stat
from pathlib import Path

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from pydantic import SecretStr

from bridge.__main__ import reload_handler, tighten_data_dir
from bridge.doctor import load_context
from bridge.doctor_production import PRIVACY_PLACEHOLDER, privacy_statement, tls_reason
from bridge.settings import BotSettings, BridgeSettings, SignupSettings, WijkSettings

ROOT = Path(__file__).resolve().parents[2]


def settings_in(tmp_path: Path, signup: SignupSettings | None) -> BridgeSettings:
    return BridgeSettings(
        bot=BotSettings(user_id="@bin:example.nl", data_dir=tmp_path / "bot"),
        wijken=[WijkSettings(slug="oost", name="Oost", join_code=SecretStr("OOST-1"))],
        signup=signup,
    )


def privacy_finding(tmp_path: Path, **signup: object) -> tuple[bool | None, str]:
    settings = settings_in(tmp_path, SignupSettings(**signup) if signup is not None else None)
    finding = asyncio.run(privacy_statement(load_context(settings)))
    return finding.ok, "\n".join(finding.lines)


def test_a_missing_privacy_statement_needs_attention(tmp_path: Path) -> None:
    ok, text = privacy_finding(tmp_path, privacy_file=tmp_path / "privacy.md")
    assert ok is False
    assert "missing" in text and "docs/privacy.md" in text
    ok, text = privacy_finding(tmp_path)
    assert ok is False and "privacy_file" in text


def test_a_privacy_statement_not_filled_in_needs_attention(tmp_path: Path) -> None:
    # What init writes: the statement with the operator's details still to be filled in.
    path = tmp_path / "privacy.md"
    path.write_text((ROOT / "docs" / "privacy.md").read_text(encoding="utf-8"))
    assert PRIVACY_PLACEHOLDER in path.read_text()
    ok, text = privacy_finding(tmp_path, privacy_file=path)
    assert ok is False and "fill in your name" in text
    path.write_text(
        path.read_text().replace(PRIVACY_PLACEHOLDER, "Stichting Buurt, info@buurt.example")
    )
    ok, text = privacy_finding(tmp_path, privacy_file=path)
    assert ok is True and "filled in" in text
    path.write_text("  \n")
    assert privacy_finding(tmp_path, privacy_file=path)[0] is False


def test_a_privacy_statement_elsewhere_or_no_page_at_all(tmp_path: Path) -> None:
    ok, text = privacy_finding(tmp_path, privacy_url="https://gemeente.example/bin-privacy")
    assert ok is True and "gemeente.example" in text
    finding = asyncio.run(privacy_statement(load_context(settings_in(tmp_path, None))))
    assert finding.ok is None


def _certificate_error(message: str) -> aiohttp.ClientSSLError:
    error = ssl.SSLCertVerificationError(
        1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}"
    )
    error.verify_message = message
    error.verify_code = 10
    key = ConnectionKey("bin.example.nl", 443, True, True, None, None, None, None)
    return aiohttp.ClientConnectorCertificateError(key, error)


@pytest.mark.parametrize(
    "message",
    [
        "certificate has expired",
        "unable to get local issuer certificate",
        "Hostname mismatch, certificate is not valid for 'bin.example.nl'.",
    ],
)
def test_a_tls_failure_names_the_actual_verification_error(message: str) -> None:
    reason = tls_reason(_certificate_error(message))
    assert reason == f"certificate not accepted: {message}"
    assert "not valid for this name?" not in reason


def test_a_tls_failure_without_a_certificate_problem_says_what_it_was() -> None:
    key = ConnectionKey("bin.example.nl", 443, True, True, None, None, None, None)
    error = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    error.reason = "WRONG_VERSION_NUMBER"
    reason = tls_reason(aiohttp.ClientConnectorSSLError(key, error))
    assert "WRONG_VERSION_NUMBER" in reason
    assert "certificate" not in reason


def test_run_makes_an_open_data_dir_private_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # adduser --system --home makes 0755 homes; the bot's keys live there.
    data = tmp_path / "bin-bridge"
    data.mkdir()
    data.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="bridge"):
        assert tighten_data_dir(data) is True
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert "made it private (700)" in caplog.text and "755" in caplog.text
    caplog.clear()
    assert tighten_data_dir(data) is False  # already private: nothing to say
    assert caplog.text == ""
    assert tighten_data_dir(tmp_path / "not-yet") is False


class FakeBot:
    def __init__(self) -> None:
        self.received: list[BridgeSettings] = []

    def request_reload(self, settings: BridgeSettings) -> None:
        self.received.append(settings)


def test_sighup_is_logged_at_once_and_a_broken_config_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text(
        '[homeserver]\nurl = "http://127.0.0.1:8008"\n'
        f'[bot]\nuser_id = "@bin:example.nl"\ndata_dir = "{tmp_path / "bot"}"\n'
        '[[wijken]]\nslug = "oost"\nname = "Oost"\njoin_code = "OOST-1"\n'
        'coordinators = ["@anna:example.nl"]\n'
    )
    bot = FakeBot()
    reload = reload_handler(bot, config)
    with caplog.at_level(logging.INFO, logger="bridge"):
        reload()
    assert "SIGHUP: reading the configuration again" in caplog.text
    assert "after the current sync" in caplog.text
    assert [w.coordinators for w in bot.received[0].wijken] == [["@anna:example.nl"]]
    caplog.clear()
    config.write_text("[bot\n")
    with caplog.at_level(logging.INFO, logger="bridge"):
        reload()
    assert "SIGHUP" in caplog.text and "reload refused" in caplog.text
    assert len(bot.received) == 1
