"""Friendly pseudonyms ("Blauwe Reiger") and keyed digests made with the bridge secret (pure)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection

# Inflected adjectives, as they stand before a "de" noun. ASCII only, capitalised, and no two
# entries one letter apart (no "Rode"/"Roze"), so that two names never look alike at a glance.
COLOURS: tuple[str, ...] = (
    "Blauwe",
    "Groene",
    "Rode",
    "Oranje",
    "Paarse",
    "Gele",
    "Witte",
    "Zwarte",
    "Grijze",
    "Bruine",
    "Gouden",
    "Zilveren",
    "Bronzen",
    "Koperen",
    "Lila",
    "Violette",
    "Indigo",
    "Turquoise",
    "Okergele",
    "Zalmroze",
    "Hemelsblauwe",
    "Zeegroene",
    "Mosgroene",
    "Olijfgroene",
    "Kersrode",
    "Koraalrode",
    "Citroengele",
    "Parelwitte",
    "Roestbruine",
    "Leigrijze",
    "Smaragdgroene",
    "Saffierblauwe",
)

# Local wildlife. Left out on purpose: animals used as insults (Aap, Rat, Varken, Ezel, Koe,
# Geit, Slang), "Mol" (also means informer), idioms ("Zwarte Schaap", "Rode Haan", "Gouden
# Kalf") and names with IJ or accents ("IJsvogel", "Pinguïn").
ANIMALS: tuple[str, ...] = (
    "Reiger",
    "Specht",
    "Das",
    "Egel",
    "Vos",
    "Uil",
    "Merel",
    "Mus",
    "Vink",
    "Lijster",
    "Zwaluw",
    "Kievit",
    "Grutto",
    "Meeuw",
    "Zwaan",
    "Fuut",
    "Ooievaar",
    "Kraanvogel",
    "Buizerd",
    "Valk",
    "Havik",
    "Sperwer",
    "Ekster",
    "Gaai",
    "Roodborst",
    "Winterkoning",
    "Koolmees",
    "Boomklever",
    "Kwikstaart",
    "Spreeuw",
    "Wielewaal",
    "Nachtegaal",
    "Leeuwerik",
    "Patrijs",
    "Haas",
    "Eekhoorn",
    "Hert",
    "Otter",
    "Bever",
    "Marter",
    "Wezel",
    "Hermelijn",
    "Zeehond",
    "Dolfijn",
    "Walvis",
    "Salamander",
    "Hagedis",
    "Vlinder",
    "Libel",
    "Hommel",
    "Krekel",
    "Forel",
    "Snoek",
    "Zalm",
    "Karper",
    "Lynx",
)

_NAMES = len(COLOURS) * len(ANIMALS)
_COLOUR_KEYS = {colour.casefold(): colour for colour in COLOURS}
_ANIMAL_KEYS = {animal.casefold(): animal for animal in ANIMALS}


def _subkey(secret: bytes, purpose: str) -> bytes:
    # A separate key per purpose: a digest made for one use can never be matched against
    # another (a stored event-id digest says nothing about a member-id digest).
    if not secret:
        raise ValueError("the bridge secret must not be empty")
    return hmac.new(secret, b"bin-matrix/" + purpose.encode(), hashlib.sha256).digest()


def keyed_digest(secret: bytes, purpose: str, value: str) -> str:
    """Hex HMAC-SHA256 of `value` under a key derived for `purpose`, to store ids not in clear."""
    return hmac.new(_subkey(secret, purpose), value.encode(), hashlib.sha256).hexdigest()


def _candidate(secret: bytes, member_key: str, salt: str, counter: int) -> int:
    # Length-prefixed fields, so that ("ab", "c") and ("a", "bc") give different names.
    message = b"".join(
        len(part).to_bytes(4, "big") + part
        for part in (member_key.encode(), salt.encode(), str(counter).encode())
    )
    digest = hmac.new(_subkey(secret, "pseudonym"), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % _NAMES


def _name(index: int) -> str:
    colour, animal = divmod(index, len(ANIMALS))
    return f"{COLOURS[colour]} {ANIMALS[animal]}"


def pseudonym(secret: bytes, member_key: str, salt: str, taken: Collection[str] = ()) -> str:
    """The "Colour Animal" name for `member_key` + `salt`, avoiding the names in `taken`.

    Deterministic for the same inputs and not derivable without `secret`. `salt` chooses
    between one name per conversation (a conversation id) and one per member (a constant).
    """
    in_use = {name.casefold() for name in taken}
    first = _candidate(secret, member_key, salt, 0)
    # Keyed candidates first, so that a collision does not simply give the neighbouring name.
    for counter in range(_NAMES):
        index = first if counter == 0 else _candidate(secret, member_key, salt, counter)
        if _name(index).casefold() not in in_use:
            return _name(index)
    # Hashing can miss the last free names; a full scan cannot.
    for step in range(_NAMES):
        name = _name((first + step) % _NAMES)
        if name.casefold() not in in_use:
            return name
    base = _name(first)
    number = 2
    while f"{base} {number}".casefold() in in_use:
        number += 1
    return f"{base} {number}"


def parse_pseudonym(text: str) -> str | None:
    """The canonical spelling of a pseudonym typed in any case and spacing, or None."""
    parts = text.split()
    if len(parts) == 3 and parts[2].isascii() and parts[2].isdigit() and int(parts[2]) >= 2:
        number = f" {int(parts[2])}"
    elif len(parts) == 2:
        number = ""
    else:
        return None
    colour = _COLOUR_KEYS.get(parts[0].casefold())
    animal = _ANIMAL_KEYS.get(parts[1].casefold())
    if colour is None or animal is None:
        return None
    return f"{colour} {animal}{number}"


def is_pseudonym(text: str) -> bool:
    """True when `text` is exactly a pseudonym as `pseudonym` writes it ("Blauwe Reiger 2")."""
    return parse_pseudonym(text) == text
