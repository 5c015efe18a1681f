"""The fairness check on broadcast texts: origin and skin colour, not clothing or vehicles.

`data/fairness_nl.tsv` is the tuning table (thresholds asserted); `data/fairness_nl_heldout.tsv`
was written after tuning and is only reported (run with `-s`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.fairness import ORIGIN, SKIN, check_broadcast

DATA = Path(__file__).parent / "data"
MIN_RECALL = 0.90
MAX_FALSE_POSITIVES = 0.10


def load(name: str) -> list[tuple[str, str]]:
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, text = line.split("\t")
        assert label in ("flag", "fine"), line
        rows.append((label, text))
    return rows


def figures(rows: list[tuple[str, str]]) -> tuple[float, float, list[str], list[str]]:
    flagged = [text for label, text in rows if label == "flag"]
    fine = [text for label, text in rows if label == "fine"]
    missed = [text for text in flagged if not check_broadcast(text).flagged]
    false_alarms = [text for text in fine if check_broadcast(text).flagged]
    return 1 - len(missed) / len(flagged), len(false_alarms) / len(fine), missed, false_alarms


def test_the_tables_are_large_enough_and_do_not_overlap() -> None:
    table = load("fairness_nl.tsv")
    held_out = load("fairness_nl_heldout.tsv")
    assert sum(label == "flag" for label, _ in table) >= 40
    assert sum(label == "fine" for label, _ in table) >= 40
    assert not {text for _, text in table} & {text for _, text in held_out}


def test_90_percent_of_origin_descriptions_are_flagged_and_at_most_10_percent_of_facts() -> None:
    recall, false_positives, missed, false_alarms = figures(load("fairness_nl.tsv"))
    print(
        f"\nfairness, full table: recall {recall:.1%} on descriptions of origin or skin colour, "
        f"false positives {false_positives:.1%} on facts"
    )
    assert recall >= MIN_RECALL, missed
    assert false_positives <= MAX_FALSE_POSITIVES, false_alarms


def test_the_held_out_figures_are_reported() -> None:
    recall, false_positives, missed, false_alarms = figures(load("fairness_nl_heldout.tsv"))
    print(
        f"\nfairness, held out (not asserted): recall {recall:.1%}, "
        f"false positives {false_positives:.1%}"
    )
    for text in missed:
        print(f"  missed: {text}")
    for text in false_alarms:
        print(f"  false alarm: {text}")


@pytest.mark.parametrize(
    ("text", "phrase", "kind"),
    [
        ("Let op: een donkere man bij de school", "donkere man", SKIN),
        ("een licht getinte jongen", "licht getinte jongen", SKIN),
        ("verdachte: getint, slank", "getint", SKIN),
        ("Marokkaanse jongens op een scooter", "Marokkaanse jongens", ORIGIN),
        ("man met Oost-Europees uiterlijk", "Oost-Europees uiterlijk", ORIGIN),
        ("man met Oost Europees uiterlijk", "Oost Europees uiterlijk", ORIGIN),
        ("mannen uit Oost-Europa", "uit Oost-Europa", ORIGIN),
        ("van Turkse afkomst", "Turkse afkomst", ORIGIN),
        ("woonwagenbewoners bij de deur", "woonwagenbewoners", ORIGIN),
        ("met een Russisch accent", "Russisch accent", ORIGIN),
    ],
)
def test_descriptions_of_people_by_origin_or_skin_are_found_as_written(
    text: str, phrase: str, kind: str
) -> None:
    verdict = check_broadcast(text)
    assert verdict.flagged
    assert verdict.phrases == (phrase,)
    assert verdict.findings[0].kind == kind


@pytest.mark.parametrize(
    "text",
    [
        "man in een zwarte jas",
        "donkere auto met getinte ramen",
        "witte bestelbus",
        "donkerblauwe hoodie",
        "auto met een Poolse kentekenplaat",
        "Golf met een kenteken uit Polen",
        "de Turkse bakker op de hoek",
        "ze spraken Pools",
        "sprak gebrekkig Nederlands",
        "man met zwart haar, richting station",
        "de Nederlandse politie",
        "in zuidelijke richting weggereden",
    ],
)
def test_clothing_vehicles_licence_plates_languages_and_directions_are_facts(text: str) -> None:
    assert not check_broadcast(text).flagged
