"""The Dutch coordinator guide (docs/handleiding-coordinator.md) lists the keys the code binds."""

from __future__ import annotations

import re
from pathlib import Path

from textual.binding import Binding

from bintui.keys import BINDING_IDS, help_sections
from bintui.screens.actions import ChoiceScreen, ImageScreen, PathScreen
from bintui.screens.help import HelpScreen
from bintui.screens.identity import AskRecoveryKeyScreen
from bintui.screens.login import LoginScreen

GUIDE = Path(__file__).parents[2] / "docs" / "handleiding-coordinator.md"
ROW = re.compile(r"^\| (?P<keys>[^|]+?) \| (?P<what>[^|]+?) \| `(?P<id>[a-z_.]+)` \|$")
NAMES = {"?": "question_mark", "/": "slash"}


def bound_keys() -> dict[str, set[str]]:
    """Every binding id with its keys, as declared by the screens and widgets."""
    bindings = [b for _, section in help_sections() for b in section]
    for screen in (ChoiceScreen, ImageScreen, PathScreen, HelpScreen, AskRecoveryKeyScreen):
        bindings += screen.BINDINGS
    bindings += LoginScreen.BINDINGS
    keys: dict[str, set[str]] = {}
    for binding in bindings:
        assert isinstance(binding, Binding) and binding.id is not None
        keys.setdefault(binding.id, set()).update(k.strip() for k in binding.key.split(","))
    return keys


def guide_keys() -> dict[str, set[str]]:
    """The `Alle toetsen` table of the guide: binding id → keys as written ('Ctrl+S', 'F1 of ?')."""
    section = GUIDE.read_text(encoding="utf-8").split("### Alle toetsen", 1)[1]
    found: dict[str, set[str]] = {}
    for line in section.splitlines():
        match = ROW.match(line.strip())
        if match:
            keys = {NAMES.get(k, k.lower()) for k in match.group("keys").split(" of ")}
            found.setdefault(match.group("id"), set()).update(keys)
    return found


def test_every_key_in_the_guide_is_the_key_the_code_binds() -> None:
    documented, bound = guide_keys(), bound_keys()
    assert set(documented) == set(BINDING_IDS)  # every action, and nothing that does not exist
    for action, keys in documented.items():
        assert keys == bound[action], action


def test_the_guide_describes_each_step_of_the_coordinator_week() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for heading in (
        "### Meldingen komen binnen",
        "### Antwoorden",
        "### Oppakken, categorie, status",
        "### Doorsturen naar de politie",
        "### Foto's",
        "### Bulletins van de politie publiceren",
        "### Een wijkbericht aan alle leden",
        "### Blokkeren",
        "### Het overzicht",
        "### Afsluiten en uitloggen",
    ):
        assert heading in text
    assert "afgeleverd aan 42 van 42 leden" in text
