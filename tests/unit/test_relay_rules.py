"""The pure rules behind the relay: conversation routing, commands, the nl.bin fields, settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bridge import commands, i18n
from bridge.commands import Audience, Command, UnknownCommand
from bridge.conversations import ConversationState, Inbound, Join, StartNew, route
from bridge.protocol import (
    FIELD,
    PROTOCOL_VERSION,
    BinFields,
    Kind,
    Status,
    parse_report_id,
    report_id,
)
from bridge.settings import ConfigError, load_settings

# --- conversations.route --------------------------------------------------------------------

DAY = 86_400.0
WINDOW = 14 * DAY
NOW = 1_800_000_000.0
OPEN = ConversationState("open", last_activity=NOW - DAY)
CLOSED = ConversationState("closed", last_activity=NOW - DAY, closed=True)
STALE = ConversationState("stale", last_activity=NOW - WINDOW - 1)
EDGE = ConversationState("edge", last_activity=NOW - WINDOW)
OLDER = ConversationState("older", last_activity=NOW - 30 * DAY, closed=True)


@pytest.mark.parametrize(
    ("inbound", "latest", "expected"),
    [
        pytest.param(Inbound(NOW), OPEN, Join("open"), id="open and recent: joins"),
        pytest.param(Inbound(NOW), None, StartNew(), id="no conversation yet: new"),
        pytest.param(Inbound(NOW), CLOSED, StartNew(), id="closed by a coordinator: new"),
        pytest.param(Inbound(NOW), STALE, StartNew(), id="quiet for longer than the window: new"),
        pytest.param(Inbound(NOW), EDGE, Join("edge"), id="exactly at the window: still joins"),
        pytest.param(
            Inbound(NOW, explicit_new=True), OPEN, StartNew(), id="!nieuw: new although open"
        ),
        pytest.param(
            Inbound(NOW, replied_to=OLDER), OPEN, Join("older"), id="reply wins over the latest"
        ),
        pytest.param(
            Inbound(NOW, replied_to=CLOSED), CLOSED, Join("closed"), id="reply re-opens a closed"
        ),
        pytest.param(
            Inbound(NOW, replied_to=STALE), STALE, Join("stale"), id="reply wins over the window"
        ),
        pytest.param(Inbound(NOW, replied_to=OPEN), None, Join("open"), id="reply, no latest"),
        pytest.param(
            Inbound(NOW, replied_to=OLDER, explicit_new=True),
            OPEN,
            StartNew(),
            id="!nieuw is the member's latest word, even over a reply",
        ),
    ],
)
def test_a_member_message_is_routed_by_the_conversation_rules(
    inbound: Inbound, latest: ConversationState | None, expected: Join | StartNew
) -> None:
    assert route(inbound, latest, WINDOW) == expected


# --- commands.parse -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "argument"),
    [
        ("!hulp", "hulp", ""),
        ("!help", "hulp", ""),
        ("!?", "hulp", ""),
        ("!HULP", "hulp", ""),
        ("  !Hulp  ", "hulp", ""),
        ("!nieuw", "nieuw", ""),
        ("!New", "nieuw", ""),
        ("!naam", "naam", ""),
        ("!name", "naam", ""),
        ("!privacy", "privacy", ""),
        ("!aanmelden oost-2026", "aanmelden", "oost-2026"),
        ("!join   Oost-2026  ", "aanmelden", "Oost-2026"),
        ("!aanmelden\noost-2026", "aanmelden", "oost-2026"),
        ("!aanmelden\tgeheim woord", "aanmelden", "geheim woord"),
        ("!taal en", "taal", "en"),
        ("!language nl", "taal", "nl"),
        ("!LANG EN", "taal", "EN"),
        ("!hulp\nik snap het niet", "hulp", "ik snap het niet"),
    ],
)
def test_member_commands_have_dutch_names_english_aliases_and_ignore_case(
    text: str, name: str, argument: str
) -> None:
    parsed = commands.parse(text, Audience.MEMBER)
    assert isinstance(parsed, Command)
    assert parsed.spec.name == name
    assert parsed.argument == argument


@pytest.mark.parametrize(
    "text",
    [
        "!!! er brandt iets bij de school",
        "! hulp",
        "!",
        "",
        "   ",
        "hulp",
        "Help! Iemand breekt in",
        "!1 verdachte auto",
        "?!",
    ],
)
def test_text_that_does_not_start_with_a_command_word_is_not_a_command(text: str) -> None:
    assert commands.parse(text, Audience.MEMBER) is None


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("!onzin", "onzin"),
        ("!ONZIN met tekst", "ONZIN"),
        ("!publiceer", "publiceer"),
        ("!" + "x" * 100, "x" * 32),
    ],
)
def test_an_unknown_command_is_reported_with_its_word(text: str, word: str) -> None:
    assert commands.parse(text, Audience.MEMBER) == UnknownCommand(word)


def test_member_commands_are_not_commands_in_the_desk() -> None:
    assert commands.parse("!nieuw", Audience.DESK) == UnknownCommand("nieuw")
    assert commands.parse("!taal en", Audience.DESK) == UnknownCommand("taal")


def test_the_desk_has_its_own_help_and_report_handling_commands() -> None:
    for text, name in [
        ("!hulp", "hulp"),
        ("!status M-0003 afgehandeld", "status"),
        ("!category inbraak", "categorie"),
        ("!claim", "neem"),
        ("!forward M-0003 tekst", "doorsturen"),
        ("!stats", "stats"),
    ]:
        parsed = commands.parse(text, Audience.DESK)
        assert isinstance(parsed, commands.Command)
        assert parsed.spec.name == name


def test_every_member_command_has_a_help_text_in_both_languages() -> None:
    names = [spec.name for spec in commands.member_commands()]
    assert names == [
        "hulp",
        "aanmelden",
        "afmelden",
        "nieuw",
        "naam",
        "privacy",
        "taal",
        "persoonlijk",
        "ja",
    ]
    for spec in commands.member_commands():
        assert i18n.t(spec.help_key, "nl").startswith(f"!{spec.name}")
        assert i18n.t(spec.help_key, "en").startswith("!")


# --- protocol -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "label"), [(1, "M-0001"), (42, "M-0042"), (9999, "M-9999"), (12345, "M-12345")]
)
def test_report_ids_round_trip(number: int, label: str) -> None:
    assert report_id(number) == label
    assert parse_report_id(label) == number


@pytest.mark.parametrize(("text", "number"), [("m-0007", 7), ("  M-0007 ", 7), ("M-00042", 42)])
def test_report_ids_are_parsed_in_any_case_and_with_spaces(text: str, number: int) -> None:
    assert parse_report_id(text) == number


@pytest.mark.parametrize("text", ["M-7", "M-007", "W-0007", "M-00a1", "M0007", "", "M-0007x"])
def test_what_is_not_a_report_id_parses_to_none(text: str) -> None:
    assert parse_report_id(text) is None


@pytest.mark.parametrize("number", [0, -1])
def test_report_numbers_start_at_one(number: int) -> None:
    with pytest.raises(ValueError):
        report_id(number)


@pytest.mark.parametrize(
    "fields",
    [
        BinFields(kind=Kind.NOTICE),
        BinFields(
            kind=Kind.REPORT,
            wijk="oost",
            report="M-0001",
            conversation="c0ffee",
            pseudonym="Blauwe Reiger",
            status=Status.NEW,
            text="Verdachte auto\n> geen header",
        ),
        BinFields(kind=Kind.ANSWER, report="M-0002", text="Dank je"),
        BinFields(kind=Kind.SYSTEM, wijk="west", status=Status.CLOSED),
        BinFields(kind=Kind.MEMBER_MESSAGE, wijk="oost", report="M-0003", pseudonym="Rode Vos"),
        BinFields(kind=Kind.SYSTEM, wijk="oost", report="M-0003", blocked=False),
        BinFields(
            kind=Kind.SYSTEM, wijk="oost", report="W-0002", phase="done", delivered=9, total=10
        ),
        BinFields(kind=Kind.SYSTEM, report="W-0002", phase="confirmed", undo_seconds=30),
        BinFields(kind=Kind.SYSTEM, report="W-0002", phase="sending", recipients=10),
    ],
)
def test_bin_fields_survive_a_round_trip_through_event_content(fields: BinFields) -> None:
    content = {"msgtype": "m.text", "body": "…", FIELD: fields.to_content()}
    assert BinFields.from_content(content) == fields


def test_bin_fields_omit_what_is_not_set() -> None:
    assert BinFields(kind=Kind.NOTICE).to_content() == {"v": PROTOCOL_VERSION, "kind": "notice"}
    assert BinFields(kind=Kind.REPORT, status=Status.FORWARDED).to_content() == {
        "v": PROTOCOL_VERSION,
        "kind": "report",
        "status": "doorgestuurd",
    }


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="no field"),
        pytest.param("report", id="not an object"),
        pytest.param({"v": 1, "kind": "broadcast_v9"}, id="unknown kind"),
        pytest.param({"v": 1}, id="no kind"),
        pytest.param({"kind": "report"}, id="no version"),
        pytest.param({"v": "1", "kind": "report"}, id="version as text"),
        pytest.param({"v": 0, "kind": "report"}, id="version 0"),
        pytest.param({"v": 1, "kind": "report", "status": "weg"}, id="unknown status"),
    ],
)
def test_fields_this_version_does_not_understand_read_as_none(raw: Any) -> None:
    content: dict[str, Any] = {"msgtype": "m.text", "body": "x"}
    if raw is not None:
        content[FIELD] = raw
    assert BinFields.from_content(content) is None


def test_newer_additions_are_ignored_and_wrongly_typed_values_dropped() -> None:
    raw = {"v": 2, "kind": "report", "report": "M-0001", "pseudonym": 7, "later": {"x": 1}}
    fields = BinFields.from_content({FIELD: raw})
    assert fields == BinFields(kind=Kind.REPORT, report="M-0001", version=2)


# --- settings -------------------------------------------------------------------------------

VALID_TOML = """
[homeserver]
url = "http://127.0.0.1:8008"

[bot]
user_id = "@bin:example.nl"
password = "from-the-file"
data_dir = "{data_dir}"

[[wijken]]
slug = "oost"
name = "Oost"
join_code = "oost-2026"
coordinators = ["{coordinator}", "@reserve:example.nl"]
police = ["@wijkagent:example.nl"]
"""


def write_config(tmp_path: Path, coordinator: str = "@co:example.nl") -> Path:
    path = tmp_path / "bridge.toml"
    text = VALID_TOML.format(data_dir=tmp_path / "bot", coordinator=coordinator)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No BIN_ variables from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("BIN_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_a_valid_file_loads(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    settings = load_settings(write_config(tmp_path))
    assert settings.bot.user_id == "@bin:example.nl"
    assert settings.bot.password is not None
    assert settings.bot.password.get_secret_value() == "from-the-file"
    wijk = settings.wijk("oost")
    assert wijk is not None and wijk.coordinators == ["@co:example.nl", "@reserve:example.nl"]


def test_a_bad_user_id_names_the_file_and_the_field(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, coordinator="co@example.nl")
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    message = str(error.value)
    assert str(path) in message
    assert "wijken.0.coordinators.0" in message
    assert "co@example.nl" in message


def test_a_missing_file_is_a_config_error(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nergens.toml"
    with pytest.raises(ConfigError, match=r"nergens\.toml"):
        load_settings(missing)
    with pytest.raises(ConfigError, match="BIN_BRIDGE_CONFIG"):
        load_settings(None)


def test_the_config_file_can_come_from_bin_bridge_config(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("BIN_BRIDGE_CONFIG", str(write_config(tmp_path)))
    assert load_settings().bot.user_id == "@bin:example.nl"


def test_an_environment_variable_overrides_the_file(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("BIN_BOT__PASSWORD", "from-the-environment")
    settings = load_settings(write_config(tmp_path))
    assert settings.bot.password is not None
    assert settings.bot.password.get_secret_value() == "from-the-environment"
    assert settings.bot.user_id == "@bin:example.nl"  # the rest still comes from the file
    assert "from-the-environment" not in repr(settings)


def test_a_command_used_in_the_wrong_room_is_traced_to_its_room() -> None:
    assert commands.where("publiceer") is Audience.WIJK
    assert commands.where("doorsturen") is Audience.DESK
    assert commands.where("onzin") is None
