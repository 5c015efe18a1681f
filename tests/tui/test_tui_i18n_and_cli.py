"""The string catalog is complete in both languages; the command line reports config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bintui.__main__ import main
from bintui.app import BinTuiApp
from bintui.i18n import CATALOG, I18n
from bintui.screens.actions import ChoiceScreen, FilterScreen, ForwardScreen
from bintui.screens.composer import ComposerScreen, ConfirmBroadcast
from bintui.screens.desk import DeskScreen, SearchInput
from bintui.screens.help import HelpScreen
from bintui.screens.login import LoginScreen
from bintui.screens.overview import OverviewScreen
from bintui.screens.police import PoliceScreen
from bintui.widgets.report_table import ReportTable


def test_every_string_exists_in_dutch_and_english() -> None:
    for key, texts in CATALOG.items():
        assert set(texts) == {"nl", "en"}, key
        assert all(text.strip() for text in texts.values()), key


@pytest.mark.parametrize(
    "owner",
    [
        BinTuiApp,
        DeskScreen,
        LoginScreen,
        ReportTable,
        SearchInput,
        ChoiceScreen,
        ForwardScreen,
        FilterScreen,
        PoliceScreen,
        ComposerScreen,
        ConfirmBroadcast,
        OverviewScreen,
        HelpScreen,
    ],
)
def test_every_binding_has_an_id_and_a_translated_description(owner: type) -> None:
    for binding in owner.BINDINGS:
        assert binding.id, f"{owner.__name__}: {binding.key} has no id"
        assert f"binding.{binding.id}" in CATALOG


def test_statuses_are_translated_and_unknown_ones_pass_through() -> None:
    assert I18n("en").status("afgehandeld") == "closed"
    assert I18n("nl").status("in behandeling") == "in behandeling"
    assert I18n("en").status("iets nieuws") == "iets nieuws"


def test_a_bad_config_file_stops_the_command_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bintui.toml"
    bad.write_text('language = "fr"\n', encoding="utf-8")
    assert main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "field 'language'" in err


def test_durations_read_as_minutes_under_an_hour_and_use_the_languages_decimal_mark() -> None:
    nl, en = I18n("nl"), I18n("en")
    assert nl.duration(0.1) == "6 min"
    assert nl.duration(0.001) == "1 min"
    assert nl.duration(1.5) == "1,5 uur"
    assert en.duration(1.5) == "1.5 hours"
    assert en.duration(0.5) == "30 min"
