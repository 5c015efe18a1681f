"""Every text the bot says, in Dutch (default) and English (pure).

Each member reply says what to do next. Texts are format strings with named fields; `t()`
fills them in. A missing English text falls back to Dutch, a missing key is a bug (KeyError).
"""

from __future__ import annotations

import string
from typing import Any, Literal

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
    "urgent.member": {
        "nl": "Je bericht klinkt dringend. Is er nu gevaar, brand of iemand gewond? "
        "Bel meteen 112. Politie nodig, maar geen spoed? Bel 0900-8844. "
        "BIN is niet voor spoed: je coördinatoren lezen je bericht, maar niet altijd meteen. "
        "Je bericht is wel doorgestuurd.",
        "en": "Your message sounds urgent. Is there danger, a fire or someone hurt right now? "
        "Call 112 at once. Police needed, but not urgent? Call 0900-8844. "
        "BIN is not for emergencies: your coordinators read your message, but not always "
        "straight away. Your message has been forwarded.",
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
    "nontext": {
        "nl": "Dit soort bericht stuur ik niet door: ik stuur alleen tekst en foto's door. "
        "Beschrijf wat je zag in een tekstbericht.",
        "en": "I do not forward this kind of message: I only forward text and photos. "
        "Describe what you saw in a text message.",
    },
    "too_long": {
        "nl": "Je bericht is te lang om door te sturen ({size} tekens); ik heb er niets van "
        "doorgestuurd. Splits het in kortere berichten.",
        "en": "Your message is too long to forward ({size} characters); I forwarded none of "
        "it. Split it into shorter messages.",
    },
    "rate_limited": {
        "nl": "Je stuurt veel berichten kort na elkaar. Een deel ervan heb ik niet doorgestuurd. "
        "Wacht een minuut en stuur dan opnieuw wat nog nodig is. " + _URGENT_NL,
        "en": "You are sending many messages in a short time. Some of them I did not forward. "
        "Wait a minute, then send again what is still needed. " + _URGENT_EN,
    },
    "blocked": {
        "nl": "Een coördinator van BIN {wijk} heeft je geblokkeerd: je berichten worden niet "
        "meer doorgestuurd. Ook dan weet niemand wie je bent. " + _URGENT_NL,
        "en": "A coordinator of BIN {wijk} has blocked you: your messages are no longer "
        "forwarded. Even so, nobody knows who you are. " + _URGENT_EN,
    },
    "unblocked": {
        "nl": "Je blokkade bij BIN {wijk} is opgeheven: je berichten worden weer doorgestuurd.",
        "en": "Your block at BIN {wijk} has been lifted: your messages are forwarded again.",
    },
    # --- edits and deletions ------------------------------------------------------------
    "edit.done": {
        "nl": "Je bewerking is doorgegeven ({report}): de oude versie is bij de coördinatoren "
        "verwijderd en de nieuwe staat er nu.",
        "en": "Your edit has been passed on ({report}): the old version was removed at the "
        "coordinators and the new one is there now.",
    },
    "edit.empty": {
        "nl": "Je bewerkte bericht was leeg: de oude versie is bij de coördinatoren verwijderd.",
        "en": "Your edited message was empty: the old version was removed at the coordinators.",
    },
    "delete.done": {
        "nl": "Je bericht is ook bij de coördinatoren verwijderd ({report}).",
        "en": "Your message has also been removed at the coordinators ({report}).",
    },
    "answer.withdrawn": {
        "nl": "Je coördinator heeft een antwoord ingetrokken ({report}).",
        "en": "Your coordinator withdrew an answer ({report}).",
    },
    # --- media and locations ------------------------------------------------------------
    "media.audio": {
        "nl": "Spraakberichten stuur ik niet door: je stem kan verraden wie je bent. "
        "Typ wat je wilt zeggen in een tekstbericht.",
        "en": "I do not forward voice messages: your voice can reveal who you are. "
        "Type what you want to say in a text message.",
    },
    "media.video": {
        "nl": "Video's stuur ik niet door: beeld, geluid en verborgen gegevens in een video "
        "kunnen verraden wie je bent. Stuur een foto of beschrijf wat je zag.",
        "en": "I do not forward videos: picture, sound and hidden data in a video can reveal "
        "who you are. Send a photo or describe what you saw.",
    },
    "media.file": {
        "nl": "Bestanden stuur ik niet door: ik stuur alleen tekst en foto's. Een bestand "
        "bevat vaak verborgen gegevens, zoals de naam van de maker. "
        "Zet wat belangrijk is in een tekstbericht.",
        "en": "I do not forward files: I only forward text and photos. A file often holds "
        "hidden data, such as the author's name. Put what matters in a text message.",
    },
    "media.live_location": {
        "nl": "Je live locatie stuur ik niet door: die laat steeds zien waar je bent. "
        "Zet het delen van je live locatie uit. Wil je een plek doorgeven? Beschrijf die in "
        "een tekstbericht.",
        "en": "I do not forward your live location: it keeps showing where you are. "
        "Stop sharing your live location. Want to pass on a place? Describe it in a text.",
    },
    "media.image_failed": {
        "nl": "Deze foto kon ik niet veilig verwerken, dus ik heb hem niet doorgestuurd. "
        "Probeer een andere foto (JPEG of PNG), of beschrijf wat je zag.",
        "en": "I could not process this photo safely, so I did not forward it. "
        "Try another photo (JPEG or PNG), or describe what you saw.",
    },
    "media.image_caption": {"nl": "Foto", "en": "Photo"},
    "location.confirm": {
        "nl": "Je stuurde een locatie. Een locatie kan laten zien waar je woont. Als je "
        "bevestigt, stuur ik alleen een afgeronde plek door (op ongeveer 100 meter): {place}. "
        "Weet je het zeker? Stuur !ja. Stuur je niets, dan gaat er niets door.",
        "en": "You sent a location. A location can show where you live. If you confirm, I "
        "forward only a rounded place (to about 100 metres): {place}. Are you sure? "
        "Send !yes. If you send nothing, nothing is forwarded.",
    },
    "location.none": {
        "nl": "Er wacht geen locatie op je bevestiging.",
        "en": "No location is waiting for your confirmation.",
    },
    "location.text": {
        "nl": "Locatie (afgerond op ongeveer 100 m): {place}",
        "en": "Location (rounded to about 100 m): {place}",
    },
    # --- choosing to be known -----------------------------------------------------------
    "persoonlijk.explain": {
        "nl": "Wil je dat de coördinatoren je persoonlijk kunnen benaderen? Als je bevestigt, "
        "zet ik in gesprek {report} ({pseudonym}) bij de coördinatoren van BIN {wijk} je "
        "Matrix-account: {user_id}. Alleen zij zien het, alleen in dit ene gesprek; je "
        "volgende gesprek is weer anoniem. Dit kan niet ongedaan worden gemaakt. "
        "Zeker? Stuur dan: !persoonlijk ja",
        "en": "Do you want the coordinators to be able to contact you personally? If you "
        "confirm, I post your Matrix account {user_id} in conversation {report} ({pseudonym}) "
        "for the coordinators of BIN {wijk}. Only they see it, only in this one conversation; "
        "your next conversation is anonymous again. This cannot be undone. "
        "Sure? Then send: !personal yes",
    },
    "persoonlijk.none": {
        "nl": "Je hebt nu geen open gesprek. Stuur eerst je melding; daarna kun je "
        "!persoonlijk gebruiken.",
        "en": "You have no open conversation now. Send your report first; then you can use "
        "!personal.",
    },
    "persoonlijk.already": {
        "nl": "In gesprek {report} weten de coördinatoren al wie je bent.",
        "en": "In conversation {report} the coordinators already know who you are.",
    },
    "persoonlijk.done": {
        "nl": "Gedaan: de coördinatoren zien in gesprek {report} nu je Matrix-account. "
        "Je volgende gesprek is weer anoniem.",
        "en": "Done: the coordinators now see your Matrix account in conversation {report}. "
        "Your next conversation is anonymous again.",
    },
    "desk.revealed": {
        "nl": "{report} · {pseudonym} heeft er zelf voor gekozen om bekend te zijn, alleen in "
        "dit gesprek: {user_id}",
        "en": "{report} · {pseudonym} chose to be known, in this conversation only: {user_id}",
    },
    # --- the desk's commands ------------------------------------------------------------
    "desk.blocked": {
        "nl": "Het lid achter {report} is geblokkeerd in deze wijk: zijn berichten komen niet "
        "meer door, ook niet in latere gesprekken. Het lid is ingelicht. Opheffen: "
        "!deblokkeer {report}",
        "en": "The member behind {report} is blocked in this wijk: their messages no longer "
        "arrive, in later conversations neither. The member was told. Lift it: "
        "!unblock {report}",
    },
    "desk.unblocked": {
        "nl": "De blokkade van het lid achter {report} is opgeheven. Het lid is ingelicht.",
        "en": "The block of the member behind {report} is lifted. The member was told.",
    },
    "desk.not_blocked": {
        "nl": "Het lid achter {report} was niet geblokkeerd.",
        "en": "The member behind {report} was not blocked.",
    },
    "desk.block_usage": {
        "nl": "Gebruik: !blokkeer M-0003 of !deblokkeer M-0003 (een melding uit deze wijk).",
        "en": "Usage: !block M-0003 or !unblock M-0003 (a report of this wijk).",
    },
    "desk.unknown_report": {
        "nl": "Melding {report} ken ik niet (meer) in deze wijk.",
        "en": "I do not know report {report} (any more) in this wijk.",
    },
    "desk.too_long": {
        "nl": "Dit antwoord op {report} is te lang om te bezorgen; er is niets van verstuurd. "
        "Splits het in kortere berichten.",
        "en": "This answer to {report} is too long to deliver; none of it was sent. "
        "Split it into shorter messages.",
    },
    "desk.part": {"nl": "deel {part}/{parts}", "en": "part {part}/{parts}"},
    "desk.edited": {"nl": "bewerkt", "en": "edited"},
    "internal_error": {
        "nl": "Er ging bij mij iets mis (referentie {ref}); je bericht is nog niet doorgestuurd. "
        "Probeer het over een paar minuten opnieuw. " + _URGENT_NL,
        "en": "Something went wrong on my side (reference {ref}); your message has not been "
        "forwarded yet. Please try again in a few minutes. " + _URGENT_EN,
    },
    "undecryptable.resend": {
        "nl": "Een bericht dat je me stuurde kan ik niet lezen: je app heeft de sleutel om het "
        "te ontcijferen niet met mij gedeeld. Het is dus nog niet doorgestuurd. Wil je het "
        "nog een keer sturen? " + _URGENT_NL,
        "en": "I cannot read a message you sent me: your app did not share the key to decrypt "
        "it with me, so it has not been forwarded yet. Would you send it again? " + _URGENT_EN,
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
    "help.persoonlijk": {
        "nl": "!persoonlijk — de coördinatoren laten weten wie je bent (alleen in dit gesprek, "
        "na bevestiging)",
        "en": "!personal — let the coordinators know who you are (this conversation only, "
        "after confirmation)",
    },
    "help.locatie_ja": {
        "nl": "!ja — een locatie die je stuurde toch doorsturen (afgerond)",
        "en": "!yes — forward a location you sent after all (rounded)",
    },
    "help.blokkeer": {
        "nl": "!blokkeer M-0003 — het lid achter een melding blokkeren",
        "en": "!block M-0003 — block the member behind a report",
    },
    "help.deblokkeer": {
        "nl": "!deblokkeer M-0003 — een blokkade opheffen",
        "en": "!unblock M-0003 — lift a block",
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
    # --- wijk broadcasts ---------------------------------------------------------------
    "help.publiceer": {
        "nl": "!publiceer [categorie:] tekst — een wijkbericht voorbereiden voor alle leden",
        "en": "!publish [category:] text — prepare a message for every member of the wijk",
    },
    "help.wijk_ja": {"nl": "!ja — het voorbereide wijkbericht versturen", "en": "!yes — send it"},
    "help.wijk_stop": {
        "nl": "!stop — het wijkbericht tegenhouden (binnen de wachttijd)",
        "en": "!stop — hold the broadcast back (within the undo window)",
    },
    "broadcast.header": {
        "nl": "Bericht van je BIN-coördinator · {label} · {category}",
        "en": "Message from your BIN coordinator · {label} · {category}",
    },
    "broadcast.usage": {
        "nl": "Gebruik: !publiceer [categorie:] tekst — bijvoorbeeld "
        "!publiceer waarschuwing: Let op babbeltrucs aan de deur.",
        "en": "Usage: !publish [category:] text — for example "
        "!publish waarschuwing: Beware of doorstep scams.",
    },
    "broadcast.preview": {
        "nl": "Voorbeeld van {label} ({category}) — gaat naar {count} {count:plural:lid:leden}. "
        "Zo zien de leden het. Versturen: !ja · Niet versturen: !stop",
        "en": "Preview of {label} ({category}) — goes to {count} {count:plural:member:members}. "
        "This is what members will see. Send: !yes · Do not send: !stop",
    },
    "broadcast.unknown_bulletin": {
        "nl": "Dat bulletin ken ik niet in deze wijk. Kijk het nummer na in de politiekamer.",
        "en": "I do not know that bulletin in this wijk. Check its number in the police room.",
    },
    "broadcast.preview_unfair": {
        "nl": "Voorbeeld van {label} ({category}) — gaat naar {count} {count:plural:lid:leden}.\n"
        "⚠ Deze tekst beschrijft mensen naar afkomst of huidskleur: {phrases}. Zo'n "
        "beschrijving maakt buurtgenoten verdacht en helpt zelden iemand te herkennen. "
        "Alleen feiten: kleding, voertuig, richting.\n"
        "Herschrijven: !publiceer nieuwe tekst · Toch versturen: !ja zeker · "
        "Niet versturen: !stop",
        "en": "Preview of {label} ({category}) — goes to {count} {count:plural:member:members}.\n"
        "⚠ This text describes people by origin or skin colour: {phrases}. Such a "
        "description makes neighbours suspects and rarely helps to recognise anyone. "
        "Facts only: clothing, vehicle, direction.\n"
        "Rewrite: !publish new text · Send anyway: !yes sure · Do not send: !stop",
    },
    "broadcast.unfair_not_sent": {
        "nl": "{label} is niet verstuurd: de tekst beschrijft mensen naar afkomst of "
        "huidskleur ({phrases}). Herschrijf hem met !publiceer (alleen feiten: kleding, "
        "voertuig, richting), of verstuur hem toch met !ja zeker. Niet versturen: !stop",
        "en": "{label} was not sent: the text describes people by origin or skin colour "
        "({phrases}). Rewrite it with !publish (facts only: clothing, vehicle, direction), "
        "or send it anyway with !yes sure. Do not send: !stop",
    },
    "broadcast.nothing_to_confirm": {
        "nl": "Er staat geen wijkbericht klaar. Begin met !publiceer tekst.",
        "en": "No broadcast is waiting. Start with !publish text.",
    },
    "broadcast.confirmed": {
        "nl": "{label} gaat over {seconds:.0f} {seconds:plural:seconde:seconden} naar alle leden. "
        "Tegenhouden: !stop",
        "en": "{label} goes to every member in {seconds:.0f} {seconds:plural:second:seconds}. "
        "Hold it back: !stop",
    },
    "broadcast.nothing_to_stop": {
        "nl": "Er is geen wijkbericht om tegen te houden.",
        "en": "There is no broadcast to hold back.",
    },
    "broadcast.cancelled": {
        "nl": "{label} is tegengehouden en wordt niet verstuurd.",
        "en": "{label} was held back and will not be sent.",
    },
    "broadcast.started": {
        "nl": "{label} wordt nu afgeleverd bij {count} {count:plural:lid:leden}…",
        "en": "{label} is now being delivered to {count} {count:plural:member:members}…",
    },
    "broadcast.progress": {
        "nl": "{label}: {delivered} van {total} {total:plural:lid:leden} bereikt…",
        "en": "{label}: {delivered} of {total} {total:plural:member:members} reached…",
    },
    "broadcast.done": {
        "nl": "{label}: afgeleverd aan {delivered} van {total} {total:plural:lid:leden}.",
        "en": "{label}: delivered to {delivered} of {total} {total:plural:member:members}.",
    },
    "desk.reaction_header": {
        "nl": "Reactie op {broadcast} · {report} · {pseudonym}",
        "en": "Reaction to {broadcast} · {report} · {pseudonym}",
    },
    # --- coordinators come and go ------------------------------------------------------
    "room.removed": {
        "nl": "Niet meer ingedeeld bij deze wijk (configuratie van BIN).",
        "en": "No longer assigned to this wijk (BIN configuration).",
    },
    "desk.summary_intro": {
        "nl": "Welkom {coordinator}! Open gesprekken in deze wijk (eerdere berichten kan je "
        "nieuwe apparaat niet lezen; de tekst bewaart BIN niet):",
        "en": "Welcome {coordinator}! Open conversations in this wijk (your new device cannot "
        "read earlier messages; BIN does not keep their text):",
    },
    "desk.summary_line": {
        "nl": "{report} · {pseudonym} · {status} · {category} · {age} {age:plural:dag:dagen} oud",
        "en": "{report} · {pseudonym} · {status} · {category} · {age} {age:plural:day:days} old",
    },
    "desk.summary_none": {
        "nl": "Er zijn geen open gesprekken.",
        "en": "There are no open conversations.",
    },
    "desk.escalated": {
        "nl": "{report} wacht al {days} {days:plural:dag:dagen} op een eerste antwoord. "
        "{reserve}, kun jij het overnemen? (!neem in deze draad)",
        "en": "{report} has waited {days} {days:plural:day:days} for a first answer. "
        "{reserve}, can you take it over? (!claim in this thread)",
    },
    "command.elsewhere": {
        "nl": "!{word} werkt in de kamer '{room}', niet hier. Er is niets verstuurd.",
        "en": "!{word} works in the room '{room}', not here. Nothing was sent.",
    },
    # --- joining and leaving ------------------------------------------------------------
    "help.afmelden": {
        "nl": "!afmelden — uit BIN stappen; alles wat BIN over je bewaarde wordt gewist",
        "en": "!leave — leave BIN; everything BIN kept about you is erased",
    },
    "help.toelaten": {
        "nl": "!toelaten Naam — een nieuw lid toelaten",
        "en": "!admit Name — admit a new member",
    },
    "help.weigeren": {
        "nl": "!weigeren Naam — een aanmelding weigeren",
        "en": "!refuse Name — refuse a sign-up",
    },
    "signup.slow_down": {
        "nl": "Er zijn te veel verkeerde codes gestuurd. Probeer het over {minutes} min. "
        "opnieuw, met de code van je BIN-coördinator.",
        "en": "Too many wrong codes were sent. Try again in {minutes} min., with the code "
        "from your BIN coordinator.",
    },
    "signup.pending": {
        "nl": "Dank je! De coördinatoren van BIN {wijk} laten nieuwe leden eerst toe. Ze zien "
        "alleen een schuilnaam, niet wie je bent. Je hoort het hier zodra het rond is.",
        "en": "Thank you! The coordinators of BIN {wijk} admit new members first. They only see "
        "a pseudonym, not who you are. You will hear here once it is done.",
    },
    "signup.refused": {
        "nl": "Je aanmelding bij BIN {wijk} is niet toegelaten. Vragen? Neem contact op met de "
        "gemeente of je wijkagent.",
        "en": "Your sign-up for BIN {wijk} was not admitted. Questions? Contact the municipality "
        "or your community police officer.",
    },
    "leave.confirm": {
        "nl": "Wil je echt uit BIN stappen? Dan wis ik alles wat ik over je bewaar en verlaat ik "
        "deze kamer. Stuur !afmelden ja om te bevestigen.",
        "en": "Do you really want to leave BIN? I will erase everything I keep about you and "
        "leave this room. Send !leave yes to confirm.",
    },
    "leave.done": {
        "nl": "Je bent afgemeld en alles wat BIN over je bewaarde is gewist. Dank voor je hulp "
        "in de wijk! Terugkomen kan altijd: start opnieuw een chat met mij.",
        "en": "You have left BIN and everything it kept about you is erased. Thanks for your "
        "help! You can always come back: start a new chat with me.",
    },
    "desk.signup_request": {
        "nl": "Nieuw lid {pseudonym} wil zich aanmelden. Toelaten: !toelaten {pseudonym} · "
        "weigeren: !weigeren {pseudonym}",
        "en": "New member {pseudonym} wants to join. Admit: !admit {pseudonym} · "
        "refuse: !refuse {pseudonym}",
    },
    "desk.signup_unknown": {
        "nl": "Geen aanmelding onder die naam.",
        "en": "No sign-up under that name.",
    },
    "desk.signup_admitted": {"nl": "Toegelaten.", "en": "Admitted."},
    "desk.signup_refused": {"nl": "Geweigerd.", "en": "Refused."},
    # --- report handling and the police room -------------------------------------------
    "help.desk": {
        "nl": "Desk-commando's (in de draad van een melding, of met het nummer erbij):\n"
        "!status M-0003 afgehandeld · !categorie inbraak · !neem · "
        "!doorsturen [M-0003] tekst voor de politie, optioneel een regel 'notitie: …' · "
        "!blokkeer M-0003 · !deblokkeer M-0003 · !stats",
        "en": "Desk commands (in a report's thread, or with its number):\n"
        "!status M-0003 afgehandeld · !category inbraak · !claim · "
        "!forward [M-0003] text for the police, optionally a line 'note: …' · "
        "!block M-0003 · !unblock M-0003 · !stats",
    },
    "help.status": {
        "nl": "!status [M-0003] nieuw|in behandeling|doorgestuurd|afgehandeld",
        "en": "!status [M-0003] nieuw|in behandeling|doorgestuurd|afgehandeld",
    },
    "help.categorie": {"nl": "!categorie [M-0003] categorie", "en": "!category [M-0003] category"},
    "help.neem": {
        "nl": "!neem [M-0003] — ik behandel deze melding",
        "en": "!claim [M-0003] — I handle this report",
    },
    "help.doorsturen": {
        "nl": "!doorsturen [M-0003] tekst — naar politie & gemeente",
        "en": "!forward [M-0003] text — to police & municipality",
    },
    "help.stats": {"nl": "!stats — cijfers zonder namen", "en": "!stats — figures without names"},
    "desk.unknown_command": {
        "nl": "Het commando !{word} ken ik niet; er is niets naar een lid gestuurd. "
        "Typ !hulp voor de desk-commando's.",
        "en": "I do not know the command !{word}; nothing was sent to a member. "
        "Type !help for the desk commands.",
    },
    "desk.which_report": {
        "nl": "Over welke melding gaat {command}? Gebruik het in de draad van de melding, "
        "of zet het nummer erbij (bijvoorbeeld {command} M-0003).",
        "en": "Which report is {command} about? Use it in the report's thread, "
        "or add its number (for example {command} M-0003).",
    },
    "desk.status_usage": {
        "nl": "Gebruik: !status nieuw, in behandeling, doorgestuurd of afgehandeld.",
        "en": "Usage: !status nieuw, in behandeling, doorgestuurd or afgehandeld.",
    },
    "desk.category_usage": {
        "nl": "Kies een categorie: {choices}.",
        "en": "Choose a category: {choices}.",
    },
    "desk.status_set": {
        "nl": "{report}: status is nu '{status}'.",
        "en": "{report}: status is now '{status}'.",
    },
    "desk.category_set": {
        "nl": "{report}: categorie is nu '{category}'.",
        "en": "{report}: category is now '{category}'.",
    },
    "desk.claimed": {
        "nl": "{report} wordt behandeld door {handler}.",
        "en": "{report} is handled by {handler}.",
    },
    "desk.forwarded": {
        "nl": "{report} is doorgestuurd naar politie & gemeente (alleen het nummer, geen "
        "schuilnaam). Hun antwoord verschijnt in deze draad; jij beslist wat er teruggaat.",
        "en": "{report} was forwarded to police & municipality (number only, no pseudonym). "
        "Their reply appears in this thread; you decide what goes back.",
    },
    "desk.forward_usage": {
        "nl": "Zet achter !doorsturen de tekst die de politie moet zien (plak de melding en "
        "haal weg wat niet nodig is). Een regel 'notitie: …' wordt je notitie.",
        "en": "Put the text the police should see after !forward (paste the report and remove "
        "what is not needed). A line 'note: …' becomes your note.",
    },
    "desk.police_reply_header": {
        "nl": "Reactie van politie/gemeente op {report}",
        "en": "Reply from police/municipality to {report}",
    },
    "police.forward_header": {
        "nl": "Doorgestuurd door de coördinatoren van BIN {wijk} · {report}",
        "en": "Forwarded by the coordinators of BIN {wijk} · {report}",
    },
    "police.forward_note": {
        "nl": "Notitie van de coördinator: {note}",
        "en": "Coordinator's note: {note}",
    },
    "police.bulletin_ack": {
        "nl": "Bericht ontvangen als {bulletin}. Coördinatoren: publiceer het in de wijk met "
        "!publiceer {bulletin} in de wijkkamer (of neem de tekst over en pas hem aan).",
        "en": "Message received as {bulletin}. Coordinators: publish it to the wijk with "
        "!publish {bulletin} in the broadcast room (or copy and edit the text).",
    },
    "stats.title": {
        "nl": "Cijfers BIN {wijk} (aantallen onder 5 als <5)",
        "en": "Figures BIN {wijk} (counts below 5 as <5)",
    },
    "stats.members": {"nl": "Leden: {count}", "en": "Members: {count}"},
    "stats.per_week": {
        "nl": "Meldingen per week (oud → nieuw): {weeks}",
        "en": "Reports per week (old → new): {weeks}",
    },
    "stats.by_category": {
        "nl": "Per categorie (8 weken): {categories}",
        "en": "By category (8 weeks): {categories}",
    },
    "stats.first_answer": {
        "nl": "Gemiddelde tijd tot eerste antwoord: {hours} uur",
        "en": "Average time to first answer: {hours} hours",
    },
    "stats.first_answer_few": {
        "nl": "Gemiddelde tijd tot eerste antwoord: te weinig gegevens",
        "en": "Average time to first answer: too few data",
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
    "desk.urgent": {"nl": "⚠ DRINGEND?", "en": "⚠ URGENT?"},
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


class _Formatter(string.Formatter):
    """`str.format` plus `{count:plural:lid:leden}`: the first word for 1, else the second."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec.startswith(PLURAL):
            one, _, many = format_spec.removeprefix(PLURAL).partition(":")
            return one if _is_one(value) else many
        return str(super().format_field(value, format_spec))


PLURAL = "plural:"


def _is_one(value: object) -> bool:
    try:
        return float(str(value)) == 1
    except ValueError:
        return False


_FORMATTER = _Formatter()


def fill(template: str, **fields: object) -> str:
    """`template` with `fields` filled in (`str.format`, with plural words, see _Formatter)."""
    return _FORMATTER.format(template, **fields) if fields else template


def t(key: str, language: str = "nl", **fields: object) -> str:
    """The text for `key` in `language` (Dutch if missing), with `fields` filled in."""
    entry = CATALOG[key]
    template = entry.get(language if language in LANGUAGES else "nl") or entry["nl"]
    return fill(template, **fields)


def parse_language(word: str) -> Language | None:
    """'nl', 'NL', 'nederlands', 'en', 'english', 'engels' -> a language, else None."""
    key = word.strip().lower()
    if key in ("nl", "nederlands", "dutch"):
        return "nl"
    if key in ("en", "english", "engels"):
        return "en"
    return None
