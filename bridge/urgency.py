"""Does a member's message look urgent — happening now, fire, injured, violence (pure)?

BIN is not for emergencies: when a message looks urgent the bot answers the member at once
with 112 / 0900-8844 and flags the report for the coordinators. A false alarm costs a
notice the member may not need; a miss costs more. So the check leans towards flagging.

How it works, in three steps a newcomer can follow:

1. **Normalise** the text as residents type it: lower case, accents gone, apostrophes
   joined ("d'r" → "dr"), stretched letters collapsed ("nuuuu" → "nu", "heeeelp" → "help"),
   common spellings, chat shorthand, dialect and a little English mapped to one word
   ("kzie" → "ik zie", "brant" → "brand", "noe" → "nu", "fire" → "brand").
2. **Cues** with weights, matched on whole words: a strong cue alone suffices ("staat in
   brand", "bewusteloos", "112"); a medium one needs support ("mes", "vechtpartij");
   weak ones ("nu", "snel", "!!", all caps) only ever support, never flag on their own.
   A cue right after "geen"/"niet"/"niemand" does not count ("geen brand").
3. **Dampers** subtract: the past ("gisteren", "vorige week", "was"), a resolved situation
   ("is geblust", "weer rustig"), a hypothetical or informational message ("wat te doen
   als", "tips", "preventie", "voorlichting"), thanks, and everyday topics (kliko,
   hondenpoep). The past does not count against a message that says it is happening
   *now* ("op dit moment", "nog steeds", "nu weer").

A message is urgent when its score reaches `THRESHOLD` with at least one cue that is more
than weak. The figures are measured in tests/unit/test_urgency.py. Honest limit: a word list
only knows the words it lists. On messages written after tuning ("in de hens", "kermen",
"valt om") it found about half of the urgent ones. That is why the welcome text and every
sign-up reply tell each member about 112 anyway, and this check only adds an extra reminder.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

THRESHOLD = 3
"""Score from which a message counts as urgent."""
WEAK = 1
"""Cues of this weight only support others; together they count for at most `WEAK_CAP`."""
WEAK_CAP = 2
NEGATION_WINDOW = 2
"""A cue preceded within this many words by a negator ("geen brand") does not count."""

# --- 1. normalisation ---------------------------------------------------------------------

# Whole-word replacements after lower-casing, accent stripping and collapsing runs of three or
# more equal letters. Values may be several words. Keep them to real spellings residents use.
VARIANTS: dict[str, str] = {
    # chat shorthand and contractions
    "kzie": "ik zie",
    "kzag": "ik zag",
    "khoor": "ik hoor",
    "khoorde": "ik hoorde",
    "kheb": "ik heb",
    "kruik": "ik ruik",
    "kben": "ik ben",
    "kweet": "ik weet",
    "tis": "het is",
    "tzijn": "het zijn",
    "t": "het",
    "dr": "er",
    "der": "er",
    "zn": "zijn",
    "mn": "mijn",
    "ff": "even",
    "effe": "even",
    "effies": "even",
    "efkes": "even",
    "evn": "even",
    "word": "wordt",
    "wort": "wordt",
    "nuu": "nu",
    "nuh": "nu",
    "noe": "nu",
    "rn": "nu",
    "now": "nu",
    "vlug": "snel",
    "rap": "snel",
    "gauw": "snel",
    "quick": "snel",
    "quickly": "snel",
    "hurry": "snel",
    "asap": "snel",
    "halp": "help",
    "heulp": "help",
    "hellup": "help",
    "helluup": "help",
    "helup": "help",
    "sos": "help",
    "hulpp": "hulp",
    # Brabants / Limburgs / Vlaams
    "staot": "staat",
    "steit": "staat",
    "steet": "staat",
    "staad": "staat",
    "ligd": "ligt",
    "ge": "je",
    "gij": "jij",
    "nie": "niet",
    "niks": "niets",
    "un": "een",
    "dun": "de",
    "da": "dat",
    "wa": "wat",
    "hie": "hier",
    "dao": "daar",
    "sjnel": "snel",
    "sjtraot": "straat",
    "straot": "straat",
    # common misspellings of cue words
    "brant": "brand",
    "vur": "vuur",
    "fikkie": "fik",
    "fikke": "fik",
    "vlamme": "vlammen",
    "gewont": "gewond",
    "gewondt": "gewond",
    "gwond": "gewond",
    "gewonnd": "gewond",
    "bloet": "bloedt",
    "bloedd": "bloed",
    "bewustloos": "bewusteloos",
    "bewusteloss": "bewusteloos",
    "bewustelos": "bewusteloos",
    "bewuseloos": "bewusteloos",
    "inbrekr": "inbreker",
    "inbrekerz": "inbrekers",
    "inbrekkers": "inbrekers",
    "steekpartei": "steekpartij",
    "steekparty": "steekpartij",
    "schietpartei": "schietpartij",
    "vechtpartei": "vechtpartij",
    "knokpartei": "knokpartij",
    "ambulanse": "ambulance",
    "ambulans": "ambulance",
    "anbulance": "ambulance",
    "ambulace": "ambulance",
    "ambu": "ambulance",
    "ziekenauto": "ambulance",
    "polietie": "politie",
    "polisie": "politie",
    "plisie": "politie",
    "pliesie": "politie",
    "poltie": "politie",
    "politi": "politie",
    "smeris": "politie",
    "branweer": "brandweer",
    "brandwer": "brandweer",
    "brandwheer": "brandweer",
    "explosi": "explosie",
    "ontploft": "explosie",
    "ontploffing": "explosie",
    # English mixed in
    "fire": "brand",
    "smoke": "rook",
    "blood": "bloed",
    "bleeding": "bloedt",
    "injured": "gewond",
    "hurt": "gewond",
    "wounded": "gewond",
    "unconscious": "bewusteloos",
    "collapsed": "onwel",
    "burglar": "inbreker",
    "burglars": "inbrekers",
    "stabbed": "neergestoken",
    "stabbing": "steekpartij",
    "shooting": "schietpartij",
    "shots": "schoten",
    "gunshots": "schoten",
    "gun": "pistool",
    "knife": "mes",
    "fight": "vechtpartij",
    "fighting": "vechten",
    "police": "politie",
    "call": "bel",
    "urgent": "spoed",
    "emergency": "spoed",
    "someone": "iemand",
    "somebody": "iemand",
    "not": "niet",
    "no": "geen",
    "breathing": "ademt",
    "screaming": "schreeuwt",
    "scream": "schreeuw",
    "yelling": "schreeuwt",
    "robbery": "overval",
    "robbed": "beroofd",
    "attacked": "aangevallen",
    "accident": "ongeluk",
    "thief": "dief",
    "thieves": "dieven",
    "stealing": "stelen",
    "dead": "dood",
    "dying": "dood",
    "yesterday": "gisteren",
}

# Phrase-level replacements on the normalised string (before the cues), mostly English.
PHRASES: tuple[tuple[str, str], ...] = (
    ("right nu", "nu"),
    ("on brand", "in brand"),
    ("breaking into", "aan het inbreken"),
    ("breaking in", "aan het inbreken"),
    ("broke into", "ingebroken"),
    ("broke in", "ingebroken"),
    ("break in", "inbraak"),
    ("break ins", "inbraken"),
    ("last week", "vorige week"),
    ("last night", "vorige nacht"),
    ("last month", "vorige maand"),
    ("a week ago", "vorige week"),
    ("is niet ademt", "ademt niet"),
    ("zo net", "zonet"),
    ("nu net", "zonet"),
)

_APOSTROPHES = re.compile(r"['’‘`´]")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_LONG_RUN = re.compile(r"(.)\1{2,}")
_DOUBLE_RUN = re.compile(r"(.)\1+")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _squeeze(word: str) -> str:
    """Every run of equal letters to one: "bloeddd" → "bloed", "vuur" → "vur"."""
    return _DOUBLE_RUN.sub(r"\1", word)


def normalise(text: str) -> str:
    """The message as one line of canonical words separated by single spaces."""
    lowered = _strip_accents(text).lower()
    lowered = _APOSTROPHES.sub("", lowered)
    words: list[str] = []
    for raw in _NON_WORD.sub(" ", lowered).split():
        word = _LONG_RUN.sub(r"\1", raw)
        if word in VARIANTS:
            words.append(VARIANTS[word])
        elif word not in _VOCABULARY and _DOUBLE_RUN.search(raw):
            # A doubled letter that is a typo ("hellp", "brandd"): only for the words the
            # cues know, and not for short words where squeezing makes another word.
            squeezed = _squeeze(word)
            words.append(_SQUEEZED.get(squeezed, word) if len(squeezed) >= 4 else word)
        else:
            words.append(word)
    line = " ".join(" ".join(words).split())
    padded = f" {line} "
    for old, new in PHRASES:
        padded = padded.replace(f" {old} ", f" {new} ")
    return padded.strip()


# --- 2. cues and 3. dampers ---------------------------------------------------------------

_GAP = r"(?:\S+ ){0,3}"
"""Up to three words in between: "staat de hele schuur in brand"."""
_PERSON = (
    r"(?:iemand|(?:een |de |die |mijn |onze )?(?:oude )?(?:man|vrouw|kind|kinderen|jongen|"
    r"meisje|persoon|mensen|mevrouw|meneer|dame|buurman|buurvrouw|buurjongen|buurmeisje|"
    r"dochter|zoon|opa|oma|fietser|voetganger|scooterrijder|baby)|ze|hij|zij)"
)
_NOW = r"(?:nu|op dit moment|momenteel|nog steeds|nog altijd|nu weer|zonet|zojuist)"
_BODY = r"(?:hoofd|gezicht|oog|ogen|nek|been|arm|buik|borst|rug|hand)"


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    """The cue or damper as a person would say it (for explanations and tests)."""
    weight: int
    pattern: re.Pattern[str]


def _expand(regex: str) -> str:
    return (
        regex.replace("<GAP>", _GAP)
        .replace("<PERSON>", _PERSON)
        .replace("<NOW>", _NOW)
        .replace("<BODY>", _BODY)
    )


def _rules(entries: tuple[tuple[int, str, str], ...]) -> tuple[_Rule, ...]:
    """Compile (weight, name, regex) entries; a regex matches whole words only."""
    return tuple(
        _Rule(name, weight, re.compile(rf"(?<!\S)(?:{_expand(regex)})(?!\S)"))
        for weight, name, regex in entries
    )


# Weight 3: alone enough. Weight 2: needs one more signal. Weight 1: support only.
CUES = _rules(
    (
        # --- fire, smoke, gas, electricity, explosions
        (3, "brand", r"brand|brandt|in de brand|in brand|in de fik|brandende|brandend"),
        (3, "staat in brand", r"sta(?:at|an) <GAP>in (?:de )?(?:brand|fik)"),
        (
            3,
            "in lichterlaaie",
            r"lichterlaaie|vuurzee|vlammenzee|uitslaande|vlammen|vlammetjes|vlammetje|"
            r"in de hens|hens",
        ),
        (3, "in brand gestoken", r"in (?:de )?(?:brand|fik) (?:gestoken|gezet)|brandstichting"),
        (2, "vuur", r"vuur|vlam|fik|smeult|smeulen|smeulend|walm|zwarte walm"),
        (
            3,
            "rook",
            r"rook uit|rook komt|komt <GAP>rook|ruik(?:en)? rook|veel rook|"
            r"vol (?:met )?rook|zwarte rook|dikke rook|rookontwikkeling|rookwolk(?:en)?|"
            r"rookt (?:uit|heel|erg)",
        ),
        (1, "rook (alleen)", r"rook|rookt|brandlucht|ruik|ruikt"),
        (
            2,
            "rookmelder gaat af",
            r"(?:rookmelder|brandmelder|brandalarm) <GAP>(?:gaat|ging|piept) af|"
            r"(?:rookmelder|brandmelder|brandalarm) <GAP>piept",
        ),
        (3, "gas", r"gaslucht|gaslek|ruik(?:en)? gas|naar gas|gas lekt|lekt gas|gasleiding"),
        (2, "stroom", r"vonkt|vonken|kortsluiting|onder stroom|hoogspanning|stroomdraad"),
        (1, "meterkast", r"meterkast|stroomkast|stopcontact"),
        (3, "explosie", r"explosie|ontploffing"),
        (2, "zwaar vuurwerk", r"vuurwerkbom|vuurwerkbommen|cobra|cobras|nitraat"),
        (1, "knal", r"knal|klap|harde knal|knallen"),
        # --- injured, unwell, unresponsive, in the water
        (3, "gewond", r"gewond|gewonde|gewonden|zwaargewond"),
        (3, "bloed", r"bloed|bloedt|bloeden|bloedend|bloedende|onder het bloed"),
        (
            2,
            "wond",
            r"wond|wonden|snijwond|hoofdwond|verwond|verwondingen|"
            r"geraakt (?:aan|in|op) <GAP><BODY>|gebroken <BODY>|<BODY> gebroken",
        ),
        (3, "diepe wond", r"(?:diepe|open|grote|flinke) (?:wond|snijwond|hoofdwond)"),
        (3, "bewusteloos", r"bewusteloos|bewusteloze|buiten bewustzijn|knock out"),
        (
            3,
            "reageert niet",
            r"reageert (?:niet|nergens)|niet (?:meer )?reageert|niet aanspreekbaar|"
            r"niet meer wakker|beweegt niet|beweegt niet meer|niet meer beweegt|"
            r"(?:roept|zegt|praat) niets meer|geeft geen (?:antwoord|reactie)|geen reactie",
        ),
        (
            3,
            "ademt niet",
            r"ademt (?:niet|nauwelijks)|niet (?:meer )?ademt|niet meer ademen|geen adem|"
            r"hartaanval|hartstilstand|reanimeren|reanimatie|beroerte|epileptische aanval|"
            r"stikt|stikken|verslikt",
        ),
        (
            2,
            "onwel",
            r"onwel|flauwgevallen|valt flauw|in elkaar gezakt|ingestort|gevallen|"
            r"kan niet (?:meer )?opstaan|komt niet (?:meer )?overeind|pijn|duizelig|misselijk|"
            r"benauwd",
        ),
        (
            2,
            "ligt op de grond",
            r"<PERSON> ligt|ligt <GAP><PERSON>",
        ),
        (
            3,
            "verdrinkt",
            r"verdrinkt|verdrinken|zwemt niet meer|spartelt|spartelen|kopje onder|"
            r"in het water gevallen|in de sloot gevallen|drijft in het water|te water",
        ),
        (1, "in het water", r"in (?:het|de) (?:water|vijver|sloot|kanaal|gracht|plas)"),
        (2, "vast", r"zit(?:ten)? vast|zit opgesloten|opgesloten in|bekneld"),
        (
            2,
            "aangereden",
            r"aangereden|aanrijding|ongeluk|ongeval|botsing|verkeersongeluk|omgereden|"
            r"geschept",
        ),
        (2, "gebeten of gestoken", r"gebeten|gestoken"),
        (3, "springen", r"dreigt <GAP>(?:te )?springen|wil <GAP>springen|springt"),
        # --- violence, weapons, abduction
        (3, "steekpartij", r"steekpartij|neergestoken|doodgestoken|met een mes gestoken"),
        (
            3,
            "schieten",
            r"schiet(?! op)|schieten|geschoten|schoten|schietpartij|schietincident",
        ),
        (
            3,
            "vuurwapen",
            r"pistool|pistolen|gaspistool|alarmpistool|vuurwapen|vuurwapens|geweer|revolver",
        ),
        (
            2,
            "wapen",
            r"mes|messen|wapen|wapens|bijl|machete|honkbalknuppel|knuppel|boksbeugel|"
            r"stok|stokken|hamer|koevoet|breekijzer|stenen",
        ),
        (
            3,
            "zwaait met een wapen",
            r"zwaait <GAP>(?:mes|wapen|pistool|bijl|knuppel|machete)|"
            r"dreigt met <GAP>(?:mes|wapen|pistool|bijl)",
        ),
        (
            2,
            "vechten",
            r"vechten|vecht|vechtpartij|knokken|knokpartij|matpartij|matten|gevecht|slaags|"
            r"te lijf|op de vuist|klappen uitdelen|rellen|rel|relschoppers",
        ),
        (
            2,
            "geweld",
            r"slaat|slaan|schopt|schoppen|in elkaar (?:geslagen|slaan|getrapt)|"
            r"mishandeld|mishandelt|mishandeling|aangevallen|valt <GAP>aan|"
            r"bedreigt|bedreigd|bedreigen|wurgt|duwt|belaagd|gooit <GAP>naar|gooien <GAP>naar",
        ),
        (
            3,
            "overval",
            r"overval|overvallen|overvaller|overvallers|gijzeling|ontvoerd|ontvoering|"
            r"in (?:een|de) (?:busje|bus|auto|bestelbus) (?:getrokken|gesleurd|geduwd)|"
            r"meegesleurd|sleurt|sleuren",
        ),
        (2, "beroofd", r"beroofd|beroving|berooft|roven|tasje (?:afgepakt|gerukt)"),
        (
            2,
            "geschreeuw",
            r"schreeuw|schreeuwt|schreeuwen|geschreeuw|gil|gilt|gillen|gegil|krijsen|"
            r"om hulp|hulpgeroep|noodkreet",
        ),
        (1, "huilt", r"huilt|huilen|roept|roepen|klinkt niet goed|niet normaal"),
        (2, "gevolgd", r"wordt gevolgd|worden gevolgd|volgt (?:me|mij|ons)|achtervolgd"),
        (1, "bang", r"bang|doodsbang|eng"),
        # --- break-ins and theft in progress
        (
            2,
            "inbreker",
            r"inbreker|inbrekers|dief|dieven|insluiper|insluipers|bivakmuts|"
            r"bivakmutsen",
        ),
        (
            3,
            "inbreker in",
            r"(?:inbreker|inbrekers|dief|dieven|insluiper|insluipers) "
            r"<GAP>(?:in|bij|binnen|op|nog)",
        ),
        (
            3,
            "aan het inbreken",
            r"aan het inbreken|in te breken|breken in|breekt in|breken <GAP>open|"
            r"breekt <GAP>open|open te breken|(?:wordt|worden) <GAP>(?:opengebroken|ingebroken)|"
            r"inbraak (?:bezig|aan de gang)",
        ),
        (1, "inbraak", r"inbraak|ingebroken|opengebroken"),
        (
            3,
            "probeert binnen te komen",
            r"probe(?:ert|ren) <GAP>(?:binnen te komen|naar binnen|open te (?:maken|breken|"
            r"krijgen)|te forceren|in te breken)|forceren|forceert|wrikken|wrikt|"
            r"rammelen aan|rammelt aan|intrappen|ingetrapt|"
            r"(?:trappen|trapt) (?:\S+ )?(?:\S+ )?(?:deur|deuren|voordeur|achterdeur|ruit|raam|"
            r"poort) in|(?:voelen|voelt) <GAP>(?:open|deur|deuren|deurklink)|"
            r"probe(?:ert|ren) <GAP>(?:los|open|weg|mee) te|"
            r"(?:door|via) (?:het|een) raam naar binnen|naar binnen (?:klimmen|klimt|kruipen)",
        ),
        (
            3,
            "klimt over de schutting",
            r"(?:klimt|klimmen|klauteren|klautert) <GAP>(?:over|op|in|door) <GAP>"
            r"(?:schutting|hek|dak|balkon|raam|muur|poort|tuin|regenpijp)",
        ),
        (1, "niemand thuis", r"op vakantie|niet thuis|niemand thuis"),
        (3, "wordt gestolen", r"(?:wordt|worden) <GAP>gestolen|aan het stelen"),
        (2, "rommelen", r"te rommelen|rommelt (?:aan|in|bij)|rommelen (?:aan|in|bij)"),
        (
            2,
            "glas",
            r"glas (?:breken|rinkelen|kapot)|ruit (?:ingegooid|ingeslagen)|"
            r"ruiten (?:ingooien|ingegooid|ingeslagen)|gooien <GAP>(?:door|ramen|ruiten)|"
            r"zaklamp",
        ),
        (1, "alarm", r"alarm|sirene"),
        # --- other danger, described as residents see it
        (
            2,
            "vernieling of diefstal",
            r"slopen|sloopt|vernielen|vernielt|ingooien|ingooit|slaat <GAP>in|slaan <GAP>in|"
            r"(?:los|door) te knippen|knippen <GAP>(?:los|door)|doorknippen|jatten|jat|"
            r"pikken|pikt|stelen|steelt|rent weg|rennen weg|ervandoor|erachteraan|"
            r"achterna|laden (?:\S+ ){0,6}in|inladen|sjouwen <GAP>(?:weg|naar buiten)",
        ),
        (
            2,
            "in gevaar",
            r"insult|stuip|"
            r"stuiptrekkingen|schudden|schokt|kermen|kermt|kreunt|kreunen|bebloed|"
            r"bebloede|bloederig|vermoorden|vermoord|doodmaken|af te maken|zelfmoord|"
            r"bonken|bonkt|beukt|beuken|bonst|bonzen|motor aan",
        ),
        (2, "giftige lucht", r"chemische lucht|chemicalien|stank|gifwolk|rare lucht|giftig"),
        (
            2,
            "vermist",
            r"kan <GAP>niet (?:meer )?vinden|is kwijt|vermist|weggelopen|dwaalt|"
            r"zoek (?:mijn|ons|onze)",
        ),
        (1, "kwetsbaar", r"dementerend|dement|verward|alzheimer|peuter|kleuter|baby"),
        (
            2,
            "voertuig",
            r"rolt|rollen|in het water gereden|op het spoor|op de rails|spookrijder|"
            r"tegen <GAP>(?:boom|gevel|paal|muur) (?:gereden|gereden|geknald|gebotst)|geknald",
        ),
        (
            2,
            "hoogte",
            r"op het dak|op de rand|hangt <GAP>(?:over|aan|uit) <GAP>(?:balkon|raam|rand|"
            r"brug|reling|dak)|gooit met|gooien met",
        ),
        # --- calls for help
        (3, "help", r"help"),
        (2, "hulp nodig", r"hulp nodig|om hulp|hulp"),
        (
            2,
            "kom snel",
            r"kan iemand (?:komen|helpen|kijken)|kom (?:snel|nu|hierheen|"
            r"alsjeblieft)|kom <GAP>(?:helpen)|wat moet ik doen",
        ),
        (3, "112", r"112"),
        (
            3,
            "bel de hulpdiensten",
            r"bel(?:t|len)? <GAP>(?:politie|brandweer|ambulance|112|hulpdiensten)|"
            r"(?:politie|brandweer|ambulance|hulpdiensten) (?:bellen|sturen|nodig|komen)|"
            r"(?:stuur|stuurt) <GAP>(?:politie|brandweer|ambulance)",
        ),
        (2, "ambulance", r"ambulance|traumaheli|traumahelikopter"),
        (1, "brandweer of politie", r"brandweer|politie"),
        (2, "spoed", r"spoed|dringend|noodgeval|nood|levensgevaar|gevaar|gevaarlijk"),
        # --- now, in progress
        (
            3,
            "nu bezig",
            r"<NOW> bezig|bezig <GAP>(?:nu|op dit moment)|nu aan de gang|"
            r"is aan de gang|zijn aan de gang|op heterdaad",
        ),
        (3, "op dit moment", r"op dit moment|op dit ogenblik|momenteel|as we speak"),
        (
            1,
            "nu",
            r"nu|zonet|zojuist|net|direct|meteen|onmiddellijk|nog steeds|nog altijd|"
            r"bezig|aan het|staat te|staan te|zit te|zitten te|ligt te|lopen te|loopt te",
        ),
        (1, "ik zie / ik hoor", r"ik (?:zie|hoor|ruik)|(?:zie|hoor|ruik) ik"),
        (
            1,
            "er gebeurt iets",
            r"er (?:rent|rennen|loopt|lopen|zit|zitten|staat|staan|ligt|liggen|hangt|hangen|"
            r"komt|komen|stopt|stoppen|klimt|klimmen|rijdt|rijden|gooit|gooien|slaat|slaan|"
            r"schreeuwt|vecht|vechten)|(?:staat|staan|zit|zitten|ligt|liggen|loopt|lopen|"
            r"hangt|hangen) <GAP>te \S+",
        ),
        (1, "snel", r"snel|kom snel|schiet op|haast|vlug"),
    )
)

PAST = _rules(
    (
        (
            3,
            "gisteren",
            r"gisteren|gisteravond|gistermiddag|gisternacht|gisterochtend|eergisteren",
        ),
        (
            3,
            "vorige week",
            r"vorige (?:week|maand|keer|nacht|zomer|winter)|vorig (?:jaar|weekend)|"
            r"afgelopen (?:week|weekend|nacht|maand|jaar|maandag|dinsdag|woensdag|"
            r"donderdag|vrijdag|zaterdag|zondag|dagen|weken|maanden)|\S+ (?:dagen|weken|"
            r"maanden|jaar|jaren) geleden|een tijdje geleden|lang geleden|ago|laatst|"
            r"vorige|vorig",
        ),
        (2, "vannacht", r"vannacht|vanochtend|vanmorgen|vanmiddag|eerder vandaag"),
        (
            1,
            "was",
            r"was|waren|geweest|toen|had|hadden|bleek|vond|zag|hoorde|kwam|ging|liep|lag|"
            r"zei|vroeg|gebracht|gevonden",
        ),
        (1, "weekdag", r"maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag"),
    )
)

# Past words do not count against a message that says it happens right now.
PRESENT = re.compile(
    r"(?<!\S)(?:op dit moment|momenteel|nog steeds|nog altijd|nu weer|weer bezig|"
    r"nu bezig|nu aan de gang|is aan de gang|zijn aan de gang|as we speak|zonet|zojuist)(?!\S)"
)

DAMPERS = _rules(
    (
        # --- the situation is over
        (
            3,
            "voorbij",
            r"geblust|is voorbij|is afgelopen|is opgelost|weer rustig|alles is rustig|"
            r"is rustig|al weg|nu weg|weer weg|zijn weer weg|opgepakt|aangehouden|"
            r"gearresteerd|loos alarm|vals alarm|onder controle|viel mee|valt mee|"
            r"niets aan de hand|aangifte gedaan|aangifte doen|"
            r"gaat (?:weer |alweer |inmiddels |nu )?goed|alles (?:weer )?goed|"
            r"(?:is|zijn) (?:weer |alweer |inmiddels )?(?:ok|oke|okay|in orde)|"
            r"bleek (?:een |het |maar )?(?:test|oefening|loos|vals|niets|grap)|"
            r"was (?:maar )?een (?:test|oefening|grap)",
        ),
        (1, "gelukkig", r"gelukkig"),
        # --- hypothetical, informational, a question about how things work
        (
            3,
            "wat te doen als",
            r"wat te doen als|wat (?:moet|moeten|kan|kun|kunnen|doe|doen) "
            r"(?:je|jij|we|wij|u|jullie|men)(?: \S+)? (?:doen )?(?:als|bij|wanneer)|"
            r"wat (?:moet|kan) ik doen als|stel dat|als er ooit|in geval van|voor het geval|"
            r"wanneer bel je|wanneer moet je|wanneer (?:bel|bellen) (?:je|ik|we)|wat doe je|"
            r"hoe werkt",
        ),
        (
            3,
            "tips en preventie",
            r"tip|tips|preventie|inbraakpreventie|buurtpreventie|voorkomen|voorlichting|"
            r"cursus|workshop|informatieavond|infoavond|bijeenkomst|oefening|brandoefening|"
            r"brandveiligheid|herdenking|in het nieuws|las ik|gelezen|krant|artikel",
        ),
        (
            2,
            "vraag",
            r"weet iemand|vraagje|even vragen|ik vroeg me af|benieuwd|is het normaal|"
            r"is het waar|mag ik|mag dat|mag je|hoe kan ik|hoe moet ik|voor de zekerheid|"
            r"wie weet|hebben jullie ook|heeft iemand",
        ),
        (2, "later", r"volgende week|volgende maand|morgen|binnenkort|komende"),
        # --- habitual: what happens again and again is not an emergency
        (
            2,
            "steeds",
            r"steeds|elke (?:dag|avond|nacht|week|keer)|iedere (?:dag|avond|nacht|week)|vaak|"
            r"soms|regelmatig|telkens|de laatste tijd|al (?:\S+ )?(?:dagen|weken|maanden)|"
            r"meestal",
        ),
        # --- social and everyday topics
        (
            2,
            "bedankt",
            r"bedankt|dank|dankjewel|dank je|thanks|thank you|fijn dat|welkom|"
            r"iedereen welkom|kom allemaal|gezellig|lol|haha",
        ),
        (
            2,
            "alledaags",
            r"kliko|klikos|grofvuil|afval|zwerfafval|hondenpoep|poep|parkeren|parkeert|"
            r"lantaarnpaal|straatlantaarn|straatverlichting|stoeptegel|stoeptegels|graffiti|"
            r"flyers|herrie|overlast|last van|te leen|lenen",
        ),
    )
)

NEGATORS = frozenset(
    {"geen", "niet", "niemand", "niets", "zonder", "nooit", "nobody", "nothing", "never"}
)


def _words(patterns: tuple[_Rule, ...]) -> set[str]:
    return {w for rule in patterns for w in re.findall(r"[a-z]{3,}", rule.pattern.pattern)}


_VOCABULARY = _words(CUES) | _words(PAST) | _words(DAMPERS) | set(VARIANTS.values())
_SQUEEZED = {_squeeze(word): word for word in sorted(_VOCABULARY) if len(_squeeze(word)) >= 4}


@dataclass(frozen=True, slots=True)
class UrgencyVerdict:
    """Why a message does or does not look urgent."""

    urgent: bool
    score: int
    cues: tuple[str, ...]
    """The cues that counted, by name ("brand", "nu", "!!")."""
    dampers: tuple[str, ...]
    """What counted against it ("gisteren", "tips en preventie", "geen brand")."""
    normalised: str
    """The text as the rules saw it."""


def _negated(line: str, start: int) -> bool:
    before = line[:start].split()[-NEGATION_WINDOW:]
    return any(word in NEGATORS for word in before)


def assess(text: str) -> UrgencyVerdict:
    """Score a member's message; see the module docstring for the rules."""
    line = normalise(text)
    cues: list[str] = []
    dampers: list[str] = []
    strong = 0
    weak = 0
    for rule in CUES:
        matches = list(rule.pattern.finditer(line))
        if not matches:
            continue
        if all(_negated(line, m.start()) for m in matches) and rule.weight > WEAK:
            dampers.append(f"geen {rule.name}")
            continue
        cues.append(rule.name)
        if rule.weight > WEAK:
            strong += rule.weight
        else:
            weak += rule.weight
    # Typing style: shouting and exclamation marks support, never decide.
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 4 and sum(c.isupper() for c in letters) >= 0.6 * len(letters):
        cues.append("HOOFDLETTERS")
        weak += 1
    if "!!" in text or text.count("!") >= 2:
        cues.append("!!")
        weak += 1
    penalty = 0
    present = PRESENT.search(line) is not None
    for rule in PAST:
        if rule.pattern.search(line) and not present:
            dampers.append(rule.name)
            penalty += rule.weight
    for rule in DAMPERS:
        if rule.pattern.search(line):
            dampers.append(rule.name)
            penalty += rule.weight
    if "?" in text and not present:
        dampers.append("?")
        penalty += 1
    score = strong + min(weak, WEAK_CAP) - penalty
    return UrgencyVerdict(
        urgent=strong > 0 and score >= THRESHOLD,
        score=score,
        cues=tuple(cues),
        dampers=tuple(dampers),
        normalised=line,
    )


def is_urgent(text: str) -> bool:
    """Whether the bot should answer with 112 / 0900-8844 and flag the report."""
    return assess(text).urgent
