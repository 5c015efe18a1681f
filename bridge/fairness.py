"""Does a broadcast describe people by origin or skin colour (pure)?

Neighbourhood apps are criticised for ethnic profiling: "verdachte Marokkaanse jongens" makes
every Moroccan boy a suspect and helps nobody find the one who did it. Before a broadcast goes
out, the bot checks its text and asks the coordinator to confirm or rewrite, keeping to facts:
clothing, vehicle, direction.

What is flagged:

- skin colour *applied to a person*: "donkere man", "een getinte jongen", "licht getint",
  "blanke vrouw", "zwarte jongens", "man met een donkere huidskleur";
- origin, ethnicity or nationality of people: "Marokkaanse jongens", "Oost-Europees
  uiterlijk", "mannen uit Oost-Europa", "van Turkse afkomst", "Noord-Afrikaans type";
- words for groups of people by origin: "zigeuners", "woonwagenbewoners", "allochtonen",
  "buitenlanders", "Polen", "asielzoekers", and slurs;
- an accent ("met een Oost-Europees accent"): a guess at where someone comes from;
- religion used as a marker of origin ("moslims", "islamitisch uiterlijk").

What is fine: colours of clothing, hair and vehicles ("zwarte jas", "donkere auto", "witte
bestelbus", "auto met getinte ramen", "zwart haar"); origin words about a vehicle or a thing
("Poolse kentekenplaat", "kenteken uit Polen", "Turkse bakker"): a licence plate's country is
vehicle information; and the language someone spoke ("spraken Pools", "sprak gebrekkig
Nederlands"), which is something heard, unlike an accent, which is a guess.

The check flags; it never blocks. A coordinator who has a good reason can still send (see
docs/handleiding-coordinator.md). The measured figures are in tests/unit/test_fairness.py.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

SKIN = "huidskleur"
ORIGIN = "afkomst"
SEND_ANYWAY = frozenset({"zeker", "sure"})
"""`!ja zeker` / `!yes sure`: send a flagged broadcast after all (a plain `!ja` does not)."""

# --- vocabulary (normalised: lower case, no accents, no hyphens) ---------------------------

COLOURS = frozenset(
    {
        "donker",
        "donkere",
        "zwart",
        "zwarte",
        "blank",
        "blanke",
        "wit",
        "witte",
        "bruin",
        "bruine",
        "getint",
        "getinte",
        "lichtgetint",
        "lichtgetinte",
        "donkergetint",
        "donkergetinte",
        "gekleurd",
        "gekleurde",
    }
)
"""Colours that describe skin when they describe a person (and only then)."""

SKIN_ONLY_COLOURS = frozenset(
    {
        "blank",
        "blanke",
        "getint",
        "getinte",
        "lichtgetint",
        "lichtgetinte",
        "donkergetint",
        "donkergetinte",
    }
)
"""Colours that mean skin unless they describe a thing ("getint, slank", "was blank"; but
"getinte ramen")."""

ORIGINS = frozenset(
    {
        "marokkaans",
        "marokkaanse",
        "turks",
        "turkse",
        "surinaams",
        "surinaamse",
        "antilliaans",
        "antilliaanse",
        "somalisch",
        "somalische",
        "pools",
        "poolse",
        "roemeens",
        "roemeense",
        "bulgaars",
        "bulgaarse",
        "oosteuropees",
        "oosteuropese",
        "oostblok",
        "noordafrikaans",
        "noordafrikaanse",
        "afrikaans",
        "afrikaanse",
        "arabisch",
        "arabische",
        "aziatisch",
        "aziatische",
        "chinees",
        "chinese",
        "indisch",
        "indische",
        "indiaas",
        "indiase",
        "koerdisch",
        "koerdische",
        "syrisch",
        "syrische",
        "afghaans",
        "afghaanse",
        "eritrees",
        "eritrese",
        "albanees",
        "albanese",
        "russisch",
        "russische",
        "litouws",
        "litouwse",
        "lets",
        "letse",
        "hongaars",
        "hongaarse",
        "joegoslavisch",
        "joegoslavische",
        "balkan",
        "mediterraan",
        "mediterrane",
        "middenoosters",
        "middenoosterse",
        "buitenlands",
        "buitenlandse",
        "allochtoon",
        "allochtone",
        "autochtoon",
        "autochtone",
        "nietwesters",
        "nietwesterse",
        "nietnederlands",
        "nietnederlandse",
        "islamitisch",
        "islamitische",
        "joods",
        "joodse",
        "zigeuner",
        "zigeunerachtig",
        "zigeunerachtige",
    }
)
"""Origin words that describe people unless a vehicle or a thing follows."""

PERSON_ONLY_ORIGINS = frozenset(
    {
        "nederlands",
        "nederlandse",
        "hollands",
        "hollandse",
        "europees",
        "europese",
        "westeuropees",
        "westeuropese",
        "engels",
        "engelse",
        "duits",
        "duitse",
        "frans",
        "franse",
        "spaans",
        "spaanse",
        "italiaans",
        "italiaanse",
        "belgisch",
        "belgische",
        "amerikaans",
        "amerikaanse",
        "zuidelijk",
        "zuidelijke",
        "exotisch",
        "exotische",
        "westers",
        "westerse",
    }
)
"""Origin words flagged only when they describe a person ("Nederlandse man", "zuidelijk
uiterlijk"), because they are common in other senses ("Nederlandse politie", "zuidelijke
richting", "sprak Engels")."""

GROUPS = frozenset(
    {
        "marokkaan",
        "marokkanen",
        "polen",
        "marokkaantje",
        "marokkaantjes",
        "kutmarokkanen",
        "mocro",
        "mocros",
        "turk",
        "turken",
        "turkjes",
        "surinamer",
        "surinamers",
        "antilliaan",
        "antillianen",
        "somalier",
        "somaliers",
        "roemeen",
        "roemenen",
        "bulgaar",
        "bulgaren",
        "oosteuropeaan",
        "oosteuropeanen",
        "noordafrikaan",
        "noordafrikanen",
        "afrikaan",
        "afrikanen",
        "arabier",
        "arabieren",
        "aziaat",
        "aziaten",
        "chinezen",
        "russen",
        "albanezen",
        "syriers",
        "afghanen",
        "eritreeers",
        "koerden",
        "zigeuners",
        "zigeunertje",
        "roma",
        "woonwagenbewoner",
        "woonwagenbewoners",
        "kampers",
        "allochtonen",
        "autochtonen",
        "buitenlander",
        "buitenlanders",
        "vreemdeling",
        "vreemdelingen",
        "asielzoeker",
        "asielzoekers",
        "vluchteling",
        "vluchtelingen",
        "statushouder",
        "statushouders",
        "migrant",
        "migranten",
        "arbeidsmigrant",
        "arbeidsmigranten",
        "moslim",
        "moslims",
        "neger",
        "negers",
        "negerin",
        "nikker",
        "nikkers",
        "zwartjes",
        "bruintje",
        "blanken",
        "gekleurden",
        "kleurling",
        "kleurlingen",
        "negroide",
        "huidskleur",
        "huidkleur",
        "kleurtje",
        "afkomst",
        "origine",
        "etnisch",
        "etnische",
        "etniciteit",
    }
)
"""Words that always describe people by origin or skin colour."""

_SKIN_GROUPS = frozenset(
    {
        "neger",
        "negers",
        "negerin",
        "nikker",
        "nikkers",
        "zwartjes",
        "bruintje",
        "blanken",
        "gekleurden",
        "kleurling",
        "kleurlingen",
        "negroide",
        "huidskleur",
        "huidkleur",
        "kleurtje",
    }
)
"""The words among `GROUPS` that are about skin colour."""

COUNTRIES = frozenset(
    {
        "marokko",
        "turkije",
        "polen",
        "roemenie",
        "bulgarije",
        "oosteuropa",
        "afrika",
        "noordafrika",
        "azie",
        "china",
        "suriname",
        "antillen",
        "curacao",
        "syrie",
        "somalie",
        "eritrea",
        "afghanistan",
        "irak",
        "iran",
        "albanie",
        "balkan",
        "oostblok",
        "litouwen",
        "letland",
        "hongarije",
        "rusland",
        "oekraine",
        "buitenland",
        "middenoosten",
    }
)
"""Countries and regions: "mannen uit Polen" is origin, "kenteken uit Polen" is not."""

PERSONS = frozenset(
    {
        "man",
        "mannen",
        "mannetje",
        "jongen",
        "jongens",
        "jongetje",
        "vrouw",
        "vrouwen",
        "meisje",
        "meisjes",
        "meid",
        "meiden",
        "persoon",
        "personen",
        "type",
        "types",
        "typetje",
        "figuur",
        "figuren",
        "heer",
        "heren",
        "kerel",
        "kerels",
        "gast",
        "gasten",
        "knul",
        "knullen",
        "jongeman",
        "jongemannen",
        "jongere",
        "jongeren",
        "tiener",
        "tieners",
        "dader",
        "daders",
        "verdachte",
        "verdachten",
        "individu",
        "individuen",
        "lui",
        "mensen",
        "kind",
        "kinderen",
        "jochie",
        "jochies",
        "dame",
        "dames",
        "mevrouw",
        "meneer",
        "vent",
        "venten",
        "gozer",
        "gozers",
        "groep",
        "groepje",
        "bende",
        "stel",
        "stelletje",
        "koppel",
        "echtpaar",
        "bewoner",
        "bewoners",
        "bezoeker",
        "bezoekers",
        "oplichter",
        "oplichters",
        "inbreker",
        "inbrekers",
        "dief",
        "dieven",
        "collectant",
        "collectanten",
        "verkoper",
        "verkopers",
        "bezorger",
        "bezorgers",
        "fietser",
        "fietsers",
        "bestuurder",
        "bestuurders",
        "chauffeur",
        "bijrijder",
        "passagier",
        "passagiers",
        "ouders",
        "vader",
        "moeder",
        "familie",
        "buurman",
        "buurvrouw",
        "huid",
        "uiterlijk",
        "tint",
        "accent",
        "achtergrond",
        "komaf",
        "afkomst",
        "origine",
    }
)
"""Nouns for people, and for the features of a person an origin word can describe."""

THINGS = frozenset(
    {
        "kenteken",
        "kentekens",
        "kentekenplaat",
        "kentekenplaten",
        "nummerbord",
        "nummerborden",
        "plaat",
        "platen",
        "auto",
        "autos",
        "wagen",
        "bus",
        "busje",
        "bestelbus",
        "bestelbusje",
        "bestelauto",
        "vrachtwagen",
        "truck",
        "scooter",
        "brommer",
        "motor",
        "fiets",
        "camper",
        "caravan",
        "aanhanger",
        "merk",
        "vlag",
        "restaurant",
        "winkel",
        "supermarkt",
        "bakker",
        "kapper",
        "slager",
        "eten",
        "keuken",
        "krant",
        "nummer",
        "telefoonnummer",
        "jas",
        "jack",
        "jasje",
        "trui",
        "hoodie",
        "vest",
        "broek",
        "pet",
        "muts",
        "capuchon",
        "schoenen",
        "sneakers",
        "tas",
        "rugzak",
        "kleding",
        "kleren",
        "handschoenen",
        "ramen",
        "ruiten",
        "glas",
        "haar",
        "baard",
        "snor",
        "bril",
        "bestelwagen",
        # culture and events: "Marokkaanse avond", "Poolse supermarkt"
        "avond",
        "feest",
        "markt",
        "hapjes",
        "gerechten",
        "les",
        "lessen",
        "vereniging",
        "muziek",
        "film",
        "festival",
        "cultuur",
        "thee",
        "koffie",
        "taal",
        "folder",
        "folders",
    }
)
"""Vehicles, things, clothing and events: a colour or origin word before these describes them."""

SPEAKING = frozenset(
    {"sprak", "spraken", "spreekt", "spreken", "praatte", "praatten", "praat", "praten", "het"}
)
"""Before a language name ("spraken Pools", "in het Pools"): a fact heard, not flagged."""

STOPS = frozenset({",", ".", ";", ":", "!", "?", "met", "in", "op", "bij", "naar", "uit", "aan"})
"""A colour word does not reach past these to a person noun."""

LOOKAHEAD = 3
"""How many words after a colour or origin word may stand before the noun it describes."""

# --- normalisation ------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*|[,.;:!?]")
_COMPASS = frozenset({"oost", "west", "noord", "zuid", "midden", "niet", "licht", "donker"})
_JOINABLE = re.compile(r"^(?:europ|afrik|azi|oost|wester|nederland|getint|blok)")


@dataclass(frozen=True, slots=True)
class _Token:
    word: str
    """Normalised: lower case, accents and hyphens gone ("Oost-Europese" → "oosteuropese")."""
    start: int
    end: int


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[-'’]", "", plain)


def tokens(text: str) -> list[_Token]:
    """The words of `text` with their places; "Oost Europese" joins like "Oost-Europese"."""
    found = [_Token(_fold(m.group()), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    joined: list[_Token] = []
    for token in found:
        previous = joined[-1] if joined else None
        if previous is not None and previous.word in _COMPASS and _JOINABLE.match(token.word):
            joined[-1] = _Token(previous.word + token.word, previous.start, token.end)
        else:
            joined.append(token)
    return joined


# --- the check ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """One description of origin or skin colour, as it stands in the text."""

    phrase: str
    """The words as the coordinator wrote them ("donkere man")."""
    kind: str
    """`SKIN` or `ORIGIN`."""


@dataclass(frozen=True, slots=True)
class FairnessVerdict:
    """Whether a broadcast describes people by origin or skin colour, and where."""

    findings: tuple[Finding, ...]

    @property
    def flagged(self) -> bool:
        """True when the coordinator should confirm or rewrite."""
        return bool(self.findings)

    @property
    def phrases(self) -> tuple[str, ...]:
        """The flagged phrases, each once, in order."""
        return tuple(dict.fromkeys(f.phrase for f in self.findings))

    @property
    def quoted(self) -> str:
        """The phrases for a message to the coordinator: '"donkere man", "Poolse jongens"'."""
        return ", ".join(f'"{phrase}"' for phrase in self.phrases)


def _described(words: list[_Token], index: int) -> str | None:
    """What the adjective at `index` describes within `LOOKAHEAD`: "person", "thing" or None."""
    for token in words[index + 1 : index + 1 + LOOKAHEAD]:
        if token.word in PERSONS:
            return "person"
        if token.word in THINGS:
            return "thing"
        if token.word in STOPS:
            return None
    return None


def _noun_end(words: list[_Token], index: int) -> int:
    """The end of the person noun after `index` (for quoting the whole phrase)."""
    for token in words[index + 1 : index + 1 + LOOKAHEAD]:
        if token.word in PERSONS:
            return token.end
    return words[index].end


def check_broadcast(text: str) -> FairnessVerdict:
    """Find descriptions of origin or skin colour in a broadcast text."""
    words = tokens(text)
    findings: list[Finding] = []
    findings_end: list[int] = []

    def add(first: int, end: int, kind: str) -> None:
        start = words[first].start
        if findings_end and start < findings_end[-1]:
            return  # inside a phrase already found ("Marokkaanse afkomst")
        findings.append(Finding(text[start:end], kind))
        findings_end.append(end)

    for i, token in enumerate(words):
        word = token.word
        previous = words[i - 1].word if i > 0 else ""
        if word in COUNTRIES and previous in ("uit", "van", "in", "naar"):
            # A place: origin only when people come from it, not a vehicle or a trip.
            nearby = {w.word for w in words[max(0, i - 4) : i]}
            if previous in ("uit", "van") and not nearby & THINGS:
                add(i - 1, token.end, ORIGIN)
        elif word in GROUPS:
            add(i, token.end, SKIN if word in _SKIN_GROUPS else ORIGIN)
        elif word in COLOURS:
            described = _described(words, i)
            if described == "person":
                add(i, _noun_end(words, i), SKIN)
            elif described is None and word in SKIN_ONLY_COLOURS:
                add(i, token.end, SKIN)
        elif word in ORIGINS:
            described = _described(words, i)
            if described == "person":
                add(i, _noun_end(words, i), ORIGIN)
            elif described is None and previous not in SPEAKING:
                add(i, token.end, ORIGIN)
        elif word in PERSON_ONLY_ORIGINS and _described(words, i) == "person":
            add(i, _noun_end(words, i), ORIGIN)
    return FairnessVerdict(tuple(findings))
