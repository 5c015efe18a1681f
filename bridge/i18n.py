"""Every text the bot says, in Dutch (default) and English (pure).

Each member reply says what to do next. Texts are format strings with named fields; `t()`
fills them in. A missing English text falls back to Dutch, a missing key is a bug (KeyError).
"""

from __future__ import annotations

from typing import Literal

Language = Literal["nl", "en"]
LANGUAGES: tuple[Language, ...] = ("nl", "en")

_URGENT_NL = (
    "Dringend? Bel 112. Wel politie maar geen spoed? Bel 0900-8844. BIN is niet voor spoed."
)
_URGENT_EN = "Urgent? Call 112. Police but not urgent? Call 0900-8844. BIN is not for emergencies."

CATALOG: dict[str, dict[Language, str]] = {
    # --- a member's first contact -------------------------------------------------------
    "dm.moved": {
        "nl": "Hallo! Voor je privacy praat ik met je in een eigen, versleutelde kamer. "
        "Je krijgt zo een uitnodiging van mij: accepteer die en praat daar verder. "
        "Deze kamer verlaat ik.",
        "en": "Hello! For your privacy I talk with you in a private, encrypted room of its own. "
        "You will get an invitation from me in a moment: accept it and continue there. "
        "I am leaving this room.",
    },
    "dm.unencrypted": {
        "nl": "Deze kamer is niet versleuteld, dus ik lees en verstuur hier niets. "
        "Je krijgt een uitnodiging voor een versleutelde kamer: praat daar verder.",
        "en": "This room is not encrypted, so I neither read nor forward anything here. "
        "You will get an invitation to an encrypted room: continue there.",
    },
    "welcome": {
        "nl": "Welkom bij BIN, het Buurt Informatie Netwerk.\n\n"
        + _URGENT_NL
        + "\n\nBIN is anoniem: je coördinatoren zien nooit wie je bent, alleen een schuilnaam."
        "\n\nStuur nu de aanmeldcode van je wijk (je krijgt die van je BIN-coördinator). "
        "Typ !hulp voor alles wat je kunt doen.",
        "en": "Welcome to BIN, the neighbourhood information network.\n\n"
        + _URGENT_EN
        + "\n\nBIN is anonymous: your coordinators never see who you are, only a pseudonym."
        "\n\nNow send your neighbourhood's join code (your BIN coordinator gives it to you). "
        "Type !help for everything you can do.",
    },
    "signup.ok": {
        "nl": "Je bent aangemeld bij BIN {wijk}. Stuur een melding gewoon als bericht hier; "
        "je coördinatoren zien alleen een schuilnaam. " + _URGENT_NL,
        "en": "You have joined BIN {wijk}. Just send a report as a message here; "
        "your coordinators only see a pseudonym. " + _URGENT_EN,
    },
    "signup.already": {
        "nl": "Je bent al aangemeld bij BIN {wijk}. Stuur je melding gewoon als bericht.",
        "en": "You have already joined BIN {wijk}. Just send your report as a message.",
    },
    "signup.wrong_code": {
        "nl": "Die aanmeldcode ken ik niet. Controleer de code van je wijk "
        "(je krijgt hem van je BIN-coördinator) en stuur hem nog eens.",
        "en": "I do not know that join code. Check your neighbourhood's code "
        "(your BIN coordinator gives it to you) and send it again.",
    },
    "signup.needed": {
        "nl": "Je bent nog niet aangemeld, dus ik heb je bericht niet doorgestuurd. "
        "Stuur eerst de aanmeldcode van je wijk. " + _URGENT_NL,
        "en": "You have not joined yet, so I did not forward your message. "
        "First send your neighbourhood's join code. " + _URGENT_EN,
    },
    # --- relaying -----------------------------------------------------------------------
    "report.delivered": {
        "nl": "Je melding {report} is afgeleverd bij de coördinatoren van BIN {wijk}. "
        "In dit gesprek heet je {pseudonym}. Hun antwoord komt hier.",
        "en": "Your report {report} has been delivered to the coordinators of BIN {wijk}. "
        "In this conversation your name is {pseudonym}. Their answer will arrive here.",
    },
    "message.delivered": {
        "nl": "Afgeleverd bij je coördinatoren ({report}).",
        "en": "Delivered to your coordinators ({report}).",
    },
    "answer.header": {
        "nl": "Antwoord van je BIN-coördinator ({report})",
        "en": "Answer from your BIN coordinator ({report})",
    },
    "empty": {
        "nl": "Je bericht was leeg, dus ik heb niets doorgestuurd. Typ je melding als tekst.",
        "en": "Your message was empty, so I forwarded nothing. Type your report as text.",
    },
    "too_long": {
        "nl": "Je bericht is te lang om door te sturen ({size} tekens). "
        "Splits het in kortere berichten van hoogstens {limit} tekens.",
        "en": "Your message is too long to forward ({size} characters). "
        "Split it into shorter messages of at most {limit} characters.",
    },
    "nontext": {
        "nl": "Ik stuur alleen tekst door. Foto's, spraakberichten, video en bestanden "
        "stuur ik niet door, omdat ze kunnen verraden wie je bent. "
        "Beschrijf wat je zag in een tekstbericht.",
        "en": "I only forward text. Photos, voice messages, video and files are not "
        "forwarded, because they can reveal who you are. "
        "Describe what you saw in a text message.",
    },
    "internal_error": {
        "nl": "Er ging bij mij iets mis (referentie {ref}); je bericht is nog niet doorgestuurd. "
        "Probeer het over een paar minuten opnieuw. " + _URGENT_NL,
        "en": "Something went wrong on my side (reference {ref}); your message has not been "
        "forwarded yet. Please try again in a few minutes. " + _URGENT_EN,
    },
    # --- commands -----------------------------------------------------------------------
    "unknown_command": {
        "nl": "Het commando !{word} ken ik niet. Typ !hulp voor wat je kunt doen.",
        "en": "I do not know the command !{word}. Type !help for what you can do.",
    },
    "help.intro": {
        "nl": "Stuur je melding gewoon als bericht. Dit kun je verder doen:",
        "en": "Just send your report as a message. Besides that you can:",
    },
    "help.outro": {"nl": _URGENT_NL, "en": _URGENT_EN},
    "help.hulp": {"nl": "!hulp — deze uitleg", "en": "!help — this explanation"},
    "help.aanmelden": {
        "nl": "!aanmelden CODE — aanmelden bij je wijk (of stuur alleen de code)",
        "en": "!join CODE — join your neighbourhood (or just send the code)",
    },
    "help.nieuw": {
        "nl": "!nieuw — je volgende bericht begint een nieuw gesprek",
        "en": "!new — your next message starts a new conversation",
    },
    "help.naam": {
        "nl": "!naam — welke schuilnaam je in je huidige gesprek hebt",
        "en": "!name — which pseudonym you have in your current conversation",
    },
    "help.privacy": {
        "nl": "!privacy — wat BIN over je bewaart en wie wat ziet",
        "en": "!privacy — what BIN keeps about you and who sees what",
    },
    "help.taal": {
        "nl": "!taal nl of !taal en — taal kiezen (language)",
        "en": "!language en or !language nl — choose your language (taal)",
    },
    "naam.current": {
        "nl": "In je huidige gesprek ({report}) heet je {pseudonym}.",
        "en": "In your current conversation ({report}) your name is {pseudonym}.",
    },
    "naam.none": {
        "nl": "Je hebt nu geen open gesprek. Je volgende bericht begint er een, "
        "met een nieuwe schuilnaam.",
        "en": "You have no open conversation now. Your next message starts one, "
        "with a new pseudonym.",
    },
    "nieuw.ok": {
        "nl": "Goed: je volgende bericht begint een nieuw gesprek, met een nieuwe schuilnaam.",
        "en": "Fine: your next message starts a new conversation, with a new pseudonym.",
    },
    "taal.ok": {
        "nl": "Ik praat voortaan Nederlands met je.",
        "en": "I will speak English with you from now on.",
    },
    "taal.usage": {
        "nl": "Gebruik: !taal nl of !taal en",
        "en": "Usage: !language en or !language nl",
    },
    "privacy": {
        "nl": "Wat BIN bewaart: je privékamer met mij, je wijk en je taal; geen tekst van "
        "je berichten nadat ze zijn doorgestuurd. Je coördinatoren zien je berichten onder "
        "een schuilnaam per gesprek, nooit je account of naam. De politie ziet alleen wat een "
        "coördinator doorstuurt, zonder schuilnaam. De beheerder van de server ziet dat je "
        "met mij praat, niet wat je zegt. Let op: wat je zelf schrijft kan verraden wie je bent.",
        "en": "What BIN keeps: your private room with me, your neighbourhood and your language; "
        "no text of your messages once they are forwarded. Your coordinators see your messages "
        "under a pseudonym per conversation, never your account or name. The police only see "
        "what a coordinator forwards, without a pseudonym. The server's operator sees that you "
        "talk with me, not what you say. Note: what you write yourself can reveal who you are.",
    },
    # --- rooms and the desk -------------------------------------------------------------
    "room.desk.name": {"nl": "BIN {wijk} · Coördinatoren", "en": "BIN {wijk} · Coordinators"},
    "room.desk.topic": {
        "nl": "Meldingen van leden uit {wijk}, onder schuilnaam. Antwoord in de draad van een "
        "melding; de bot bezorgt je antwoord bij het lid.",
        "en": "Reports from members in {wijk}, under pseudonyms. Answer in a report's thread; "
        "the bot delivers your answer to the member.",
    },
    "room.police.name": {
        "nl": "BIN {wijk} · Politie & gemeente",
        "en": "BIN {wijk} · Police & municipality",
    },
    "room.police.topic": {
        "nl": "Berichten van politie en gemeente voor de coördinatoren van {wijk}, "
        "en doorgestuurde meldingen (anoniem).",
        "en": "Messages from police and municipality for the coordinators of {wijk}, "
        "and forwarded reports (anonymous).",
    },
    "room.wijk.name": {"nl": "BIN {wijk} · Wijkberichten", "en": "BIN {wijk} · Broadcasts"},
    "room.wijk.topic": {
        "nl": "Berichten van de coördinatoren aan alle leden van {wijk}.",
        "en": "Messages from the coordinators to all members of {wijk}.",
    },
    "room.private.name": {"nl": "BIN", "en": "BIN"},
    "room.private.topic": {
        "nl": "Je eigen, versleutelde kamer met BIN. " + _URGENT_NL,
        "en": "Your own encrypted room with BIN. " + _URGENT_EN,
    },
    "desk.report_header": {
        "nl": "Melding {report} · {pseudonym}",
        "en": "Report {report} · {pseudonym}",
    },
    "desk.message_header": {"nl": "{report} · {pseudonym}", "en": "{report} · {pseudonym}"},
    "desk.undeliverable": {
        "nl": "Dit antwoord kon ik niet bezorgen: het gesprek {report} bestaat niet meer.",
        "en": "I could not deliver this answer: conversation {report} no longer exists.",
    },
}


def t(key: str, language: str = "nl", **fields: object) -> str:
    """The text for `key` in `language` (Dutch if missing), with `fields` filled in."""
    entry = CATALOG[key]
    template = entry.get(language if language in LANGUAGES else "nl") or entry["nl"]
    return template.format(**fields) if fields else template


def parse_language(word: str) -> Language | None:
    """'nl', 'NL', 'nederlands', 'en', 'english', 'engels' -> a language, else None."""
    key = word.strip().lower()
    if key in ("nl", "nederlands", "dutch"):
        return "nl"
    if key in ("en", "english", "engels"):
        return "en"
    return None
