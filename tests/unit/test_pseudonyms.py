"""Pseudonyms and keyed digests: friendly, stable, unique in a wijk, and secret."""

from __future__ import annotations

import itertools

import pytest

from bridge.pseudonyms import (
    ANIMALS,
    COLOURS,
    is_pseudonym,
    keyed_digest,
    parse_pseudonym,
    pseudonym,
)

SECRET = b"\x01" * 32
OTHER_SECRET = b"\x02" * 32
ALL_NAMES = [f"{colour} {animal}" for colour in COLOURS for animal in ANIMALS]


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


# --- The word lists ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "words"), [("colours", COLOURS), ("animals", ANIMALS)])
def test_every_word_is_a_capitalised_ascii_letter_word(name: str, words: tuple[str, ...]) -> None:
    for word in words:
        assert word.isascii() and word.isalpha(), f"{name}: {word!r}"
        assert word[0].isupper() and word[1:].islower(), f"{name}: {word!r}"


def test_there_are_enough_words_for_a_large_wijk() -> None:
    assert len(COLOURS) >= 24
    assert len(ANIMALS) >= 48


@pytest.mark.parametrize("words", [COLOURS, ANIMALS, COLOURS + ANIMALS])
def test_no_word_appears_twice(words: tuple[str, ...]) -> None:
    assert len({word.casefold() for word in words}) == len(words)


@pytest.mark.parametrize("words", [COLOURS, ANIMALS])
def test_no_two_words_differ_by_a_single_letter(words: tuple[str, ...]) -> None:
    close = [(a, b) for a, b in itertools.combinations(words, 2) if edit_distance(a, b) < 2]
    assert close == []


@pytest.mark.parametrize(
    "word", ["Aap", "Rat", "Varken", "Ezel", "Koe", "Geit", "Slang", "Mol", "Schaap", "Haan"]
)
def test_animals_that_are_insults_or_idioms_are_not_used(word: str) -> None:
    assert word not in ANIMALS


def test_no_word_starts_with_ij_which_dutch_capitalises_as_two_letters() -> None:
    assert [word for word in COLOURS + ANIMALS if word.startswith(("Ij", "IJ"))] == []


# --- pseudonym ----------------------------------------------------------------------------------


def test_the_same_member_and_salt_always_get_the_same_name() -> None:
    names = {pseudonym(SECRET, "member-1", "conversation-7") for _ in range(5)}
    assert len(names) == 1
    assert is_pseudonym(names.pop())


def test_a_name_depends_on_the_secret() -> None:
    keys = [f"member-{n}" for n in range(50)]
    ours = [pseudonym(SECRET, key, "salt") for key in keys]
    theirs = [pseudonym(OTHER_SECRET, key, "salt") for key in keys]
    # Without the secret one cannot recompute a member's name: most names differ.
    assert sum(a != b for a, b in zip(ours, theirs, strict=True)) >= 45


def test_a_new_salt_gives_the_same_member_a_new_name() -> None:
    names = {pseudonym(SECRET, "member-1", f"conversation-{n}") for n in range(20)}
    assert len(names) >= 18


def test_member_key_and_salt_are_not_simply_concatenated() -> None:
    pairs = [("ab", "c"), ("a", "bc"), ("abc", ""), ("", "abc")]
    names = {pseudonym(SECRET, key, salt) for key, salt in pairs}
    assert len(names) == len(pairs)


def test_a_name_that_is_taken_is_replaced_by_a_free_one() -> None:
    first = pseudonym(SECRET, "member-1", "salt")
    second = pseudonym(SECRET, "member-1", "salt", taken={first})
    assert second != first
    assert is_pseudonym(second)
    # Deterministic, and case-insensitive about what is taken.
    assert pseudonym(SECRET, "member-1", "salt", taken=[first.upper()]) == second


def test_a_thousand_members_get_many_different_names() -> None:
    names = [pseudonym(SECRET, f"@lid{n}:example.org", "") for n in range(1000)]
    # 1,792 names: a uniform pick gives ~770 distinct values for 1,000 members.
    assert len(set(names)) >= 700
    assert len({name.split()[0] for name in names}) == len(COLOURS)
    assert len({name.split()[1] for name in names}) == len(ANIMALS)


def test_names_stay_unique_when_members_join_one_by_one() -> None:
    taken: list[str] = []
    for n in range(600):
        taken.append(pseudonym(SECRET, f"member-{n}", "salt", taken))
    assert len(set(taken)) == len(taken)


def test_the_last_free_name_is_found() -> None:
    free = "Leigrijze Lynx"
    taken = [name for name in ALL_NAMES if name != free]
    assert pseudonym(SECRET, "member-1", "salt", taken) == free


def test_when_every_name_is_taken_a_number_is_added() -> None:
    base = pseudonym(SECRET, "member-1", "salt")
    assert pseudonym(SECRET, "member-1", "salt", ALL_NAMES) == f"{base} 2"
    assert pseudonym(SECRET, "member-1", "salt", [*ALL_NAMES, f"{base} 2"]) == f"{base} 3"


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        pseudonym(b"", "member-1", "salt")


# --- keyed_digest ---------------------------------------------------------------------------


def test_a_digest_is_stable_hex_and_does_not_contain_the_value() -> None:
    digest = keyed_digest(SECRET, "member", "@lid:example.org")
    assert digest == keyed_digest(SECRET, "member", "@lid:example.org")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert "lid" not in digest


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((SECRET, "member", "@lid:hs"), (OTHER_SECRET, "member", "@lid:hs")),
        ((SECRET, "member", "@lid:hs"), (SECRET, "event", "@lid:hs")),
        ((SECRET, "member", "@lid:hs"), (SECRET, "member", "@lid2:hs")),
        ((SECRET, "member", "x:y"), (SECRET, "member:x", "y")),
    ],
    ids=["secret", "purpose", "value", "purpose-and-value-boundary"],
)
def test_a_digest_changes_with_secret_purpose_and_value(
    a: tuple[bytes, str, str], b: tuple[bytes, str, str]
) -> None:
    assert keyed_digest(*a) != keyed_digest(*b)


# --- recognising names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "exact", "parsed"),
    [
        ("Blauwe Reiger", True, "Blauwe Reiger"),
        ("Blauwe Reiger 2", True, "Blauwe Reiger 2"),
        ("blauwe reiger", False, "Blauwe Reiger"),
        ("  Groene   Specht ", False, "Groene Specht"),
        ("Blauwe Reiger 02", False, "Blauwe Reiger 2"),
        ("Blauwe Reiger 1", False, None),
        ("Blauwe Reiger 0", False, None),
        ("Blauwe Reiger ٣", False, None),
        ("Reiger Blauwe", False, None),
        ("Blauwe Olifant", False, None),
        ("Blauwe", False, None),
        ("Melding M-0003 · Blauwe Reiger", False, None),
        ("", False, None),
    ],
)
def test_pseudonyms_are_recognised_exactly_and_parsed_leniently(
    text: str, exact: bool, parsed: str | None
) -> None:
    assert is_pseudonym(text) is exact
    assert parse_pseudonym(text) == parsed


def test_every_generated_name_is_recognised() -> None:
    assert all(is_pseudonym(name) for name in ALL_NAMES)
