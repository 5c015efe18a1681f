"""The client's user-facing strings in Dutch (default) and English, and binding localisation."""

from __future__ import annotations

import dataclasses
from typing import Literal

from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode

from bridge.i18n import fill

Language = Literal["nl", "en"]

CATALOG: dict[str, dict[Language, str]] = {
    # App and screens
    "app.title": {"nl": "BIN · Coördinator", "en": "BIN · Coordinator"},
    "desk.title": {"nl": "Meldingen", "en": "Reports"},
    "desk.empty": {"nl": "Nog geen meldingen.", "en": "No reports yet."},
    "desk.no_selection": {"nl": "Kies een melding.", "en": "Choose a report."},
    "desk.composer_placeholder": {
        "nl": "Antwoord aan het lid… (Ctrl+S verstuurt)",
        "en": "Answer to the member… (Ctrl+S sends)",
    },
    "desk.sent": {"nl": "Antwoord verstuurd.", "en": "Answer sent."},
    "desk.nothing_to_send": {"nl": "Typ eerst een antwoord.", "en": "Type an answer first."},
    "desk.no_report": {"nl": "Kies eerst een melding.", "en": "Choose a report first."},
    "desk.no_unread": {"nl": "Geen ongelezen meldingen.", "en": "No unread reports."},
    "desk.not_connected": {
        "nl": "Niet verbonden: wacht tot de verbinding terug is.",
        "en": "Not connected: wait until the connection is back.",
    },
    "column.report": {"nl": "Nr.", "en": "No."},
    "column.pseudonym": {"nl": "Schuilnaam", "en": "Pseudonym"},
    "column.status": {"nl": "Status", "en": "Status"},
    "column.age": {"nl": "Leeftijd", "en": "Age"},
    "column.unread": {"nl": "Nieuw", "en": "New"},
    "column.category": {"nl": "Categorie", "en": "Category"},
    "column.handler": {"nl": "Door", "en": "By"},
    "desk.search_placeholder": {
        "nl": "Zoek in de meldingen… (Enter: terug naar de lijst)",
        "en": "Search the reports… (Enter: back to the list)",
    },
    "desk.command_sent": {"nl": "Verstuurd: {command}", "en": "Sent: {command}"},
    "desk.new_report": {"nl": "Nieuwe melding", "en": "New report"},
    "desk.police_replied": {
        "nl": "Politie antwoordde op {report}",
        "en": "The police answered {report}",
    },
    "desk.new_urgent_report": {
        "nl": "⚠ Nieuwe melding, misschien dringend",
        "en": "⚠ New report, possibly urgent",
    },
    # Filter and sort
    "filter.label": {"nl": "Filter", "en": "Filter"},
    "filter.title": {"nl": "Welke meldingen tonen?", "en": "Which reports to show?"},
    "filter.all": {"nl": "alles", "en": "all"},
    "filter.open": {"nl": "open (niet afgehandeld)", "en": "open (not closed)"},
    "filter.unread_only": {"nl": "alleen ongelezen", "en": "unread only"},
    "filter.any_status": {"nl": "Elke status", "en": "Any status"},
    "filter.any_wijk": {"nl": "Elke wijk", "en": "Any wijk"},
    "filter.any_category": {"nl": "Elke categorie", "en": "Any category"},
    "filter.apply": {"nl": "Toepassen", "en": "Apply"},
    "filter.clear": {"nl": "Alles tonen", "en": "Show all"},
    "filter.count": {"nl": "{shown} van {total}", "en": "{shown} of {total}"},
    "sort.label": {"nl": "sortering", "en": "sort"},
    "sort.now": {"nl": "Sortering: {order}", "en": "Sorted by: {order}"},
    "sort.activity": {"nl": "laatste activiteit", "en": "latest activity"},
    "sort.opened": {"nl": "nieuwste eerst", "en": "newest first"},
    "sort.number": {"nl": "nummer", "en": "number"},
    "sort.status": {"nl": "status", "en": "status"},
    "sort.urgent": {"nl": "dringend en ongelezen eerst", "en": "urgent and unread first"},
    # Report actions
    "action.status.title": {"nl": "Status van {report}", "en": "Status of {report}"},
    "action.category.title": {"nl": "Categorie van {report}", "en": "Category of {report}"},
    "action.block.title": {
        "nl": "Het lid achter {report} blokkeren?",
        "en": "Block the member behind {report}?",
    },
    "action.block.explain": {
        "nl": "Het lid hoort dat het geblokkeerd is; zijn berichten komen niet meer door, ook "
        "niet in nieuwe gesprekken. Niemand leert wie het is.",
        "en": "The member is told they are blocked; their messages no longer arrive, in new "
        "conversations neither. Nobody learns who it is.",
    },
    "action.block.block": {"nl": "Blokkeren", "en": "Block"},
    "action.block.unblock": {"nl": "Blokkade opheffen", "en": "Lift the block"},
    "dialog.cancel": {"nl": "Annuleren", "en": "Cancel"},
    "forward.title": {"nl": "Doorsturen naar politie & gemeente", "en": "Forward to the police"},
    "forward.explain": {
        "nl": "De politie ziet alleen het nummer en deze tekst. Haal weg wat het lid kan "
        "verraden (huisnummer, 'vanuit mijn raam' …). Ctrl+S stuurt door, Esc annuleert.",
        "en": "The police see only the number and this text. Remove what could give the member "
        "away (house number, 'from my window' …). Ctrl+S forwards, Esc cancels.",
    },
    "forward.note": {"nl": "Notitie voor de politie (mag leeg)", "en": "Note (may be empty)"},
    "forward.note_placeholder": {
        "nl": "bijvoorbeeld: een tweede lid meldde dit ook",
        "en": "for example: a second member reported this too",
    },
    "forward.submit": {"nl": "Doorsturen", "en": "Forward"},
    "forward.empty": {
        "nl": "Er staat geen tekst om door te sturen.",
        "en": "There is no text to forward.",
    },
    # Thread details
    "role.police": {"nl": "Politie/gemeente", "en": "Police/municipality"},
    "thread.police_reply_to": {"nl": "reactie op", "en": "reply to"},
    "thread.urgent": {"nl": "⚠ DRINGEND?", "en": "⚠ URGENT?"},
    "thread.blocked": {"nl": "GEBLOKKEERD", "en": "BLOCKED"},
    "thread.edited": {"nl": "bewerkt", "en": "edited"},
    "thread.part": {"nl": "deel {part}/{parts}", "en": "part {part}/{parts}"},
    "thread.media.image": {"nl": "foto", "en": "photo"},
    "thread.media.location": {"nl": "locatie", "en": "location"},
    "thread.reaction_to": {"nl": "Reactie op", "en": "Reaction to"},
    "thread.handled_by": {"nl": "door", "en": "by"},
    # Report categories (the bot's Dutch values) for display
    "category.inbraak": {"nl": "inbraak", "en": "burglary"},
    "category.verdachte situatie": {"nl": "verdachte situatie", "en": "suspicious situation"},
    "category.vernieling": {"nl": "vernieling", "en": "vandalism"},
    "category.overlast": {"nl": "overlast", "en": "nuisance"},
    "category.oplichting/babbeltruc": {
        "nl": "oplichting/babbeltruc",
        "en": "fraud/doorstep scam",
    },
    "category.vermissing": {"nl": "vermissing", "en": "missing person"},
    "category.overig": {"nl": "overig", "en": "other"},
    "age.now": {"nl": "nu", "en": "now"},
    "age.minutes": {"nl": "{n} min", "en": "{n} min"},
    "age.hours": {"nl": "{n} u", "en": "{n} h"},
    "age.days": {"nl": "{n} d", "en": "{n} d"},
    "role.member": {"nl": "lid", "en": "member"},
    "role.coordinator": {"nl": "coördinator", "en": "coordinator"},
    "role.bot": {"nl": "BIN", "en": "BIN"},
    "role.command": {
        "nl": "opdracht aan de bot (niet naar het lid)",
        "en": "command to the bot (not sent to the member)",
    },
    "thread.media_only.image": {
        "nl": "(een foto, schoongemaakt door de bot — i: bekijken, e: opslaan)",
        "en": "(a photo, cleaned by the bot — i: view, e: save)",
    },
    "thread.media_only.location": {"nl": "(een locatie)", "en": "(a location)"},
    "thread.empty_text": {"nl": "(geen tekst)", "en": "(no text)"},
    "status.nieuw": {"nl": "nieuw", "en": "new"},
    "status.in behandeling": {"nl": "in behandeling", "en": "in progress"},
    "status.doorgestuurd": {"nl": "doorgestuurd", "en": "forwarded"},
    "status.afgehandeld": {"nl": "afgehandeld", "en": "closed"},
    "status.unknown": {"nl": "onbekend", "en": "unknown"},
    # Connection
    "connection.connecting": {"nl": "verbinden…", "en": "connecting…"},
    "connection.online": {"nl": "verbonden", "en": "online"},
    "connection.offline": {"nl": "niet verbonden", "en": "offline"},
    # Login
    "login.title": {"nl": "Inloggen bij BIN", "en": "Log in to BIN"},
    "login.homeserver": {"nl": "Server (URL)", "en": "Server (URL)"},
    "login.user": {"nl": "Gebruiker (@naam:server)", "en": "User (@name:server)"},
    "login.password": {"nl": "Wachtwoord", "en": "Password"},
    "login.submit": {"nl": "Inloggen", "en": "Log in"},
    "login.cancel": {"nl": "Stoppen", "en": "Quit"},
    "login.bad_homeserver": {
        "nl": "De server moet beginnen met http:// of https://",
        "en": "The server must start with http:// or https://",
    },
    "login.bad_user": {
        "nl": "Vul je volledige Matrix-naam in, bijvoorbeeld @anna:bin.example.nl",
        "en": "Enter your full Matrix id, for example @anna:bin.example.nl",
    },
    "login.no_password": {"nl": "Vul je wachtwoord in.", "en": "Enter your password."},
    # Errors (one place shows them)
    "error.title": {"nl": "Er ging iets mis", "en": "Something went wrong"},
    # Bindings, by binding id
    "binding.app.reconnect": {"nl": "Opnieuw verbinden", "en": "Reconnect"},
    "binding.app.logout": {"nl": "Uitloggen", "en": "Log out"},
    "binding.desk.view_image": {"nl": "Foto bekijken", "en": "View photo"},
    "binding.desk.save_image": {"nl": "Foto opslaan", "en": "Save photo"},
    "binding.image.close": {"nl": "Sluiten", "en": "Close"},
    "command.view_image.title": {"nl": "Foto bekijken", "en": "View photo"},
    "command.view_image.help": {
        "nl": "De foto in deze melding in de terminal tonen (zoals de bot hem schoonmaakte)",
        "en": "Show this report's photo in the terminal (as the bot cleaned it)",
    },
    "command.save_image.title": {"nl": "Foto opslaan", "en": "Save photo"},
    "command.save_image.help": {
        "nl": "De foto in deze melding opslaan in een bestand dat alleen jij kunt lezen",
        "en": "Save this report's photo to a file only you can read",
    },
    "command.logout.help": {
        "nl": "Dit apparaat afmelden bij de server en sessie, sleutels en concepten hier wissen",
        "en": "Log this device out on the server and delete its session, keys and drafts here",
    },
    "logout.title": {"nl": "Uitloggen op dit apparaat?", "en": "Log out on this device?"},
    "logout.explain": {
        "nl": "Dit apparaat wordt bij de server afgemeld. Daarna worden hier de sessie, de "
        "sleutels en je niet-verstuurde antwoorden gewist. Om weer in te loggen heb je je "
        "wachtwoord en je herstelsleutel nodig.",
        "en": "This device is logged out on the server. Then its session, keys and your "
        "unsent answers are deleted here. To log in again you need your password and your "
        "recovery key.",
    },
    "logout.yes": {"nl": "Uitloggen en wissen", "en": "Log out and delete"},
    "logout.no": {"nl": "Ingelogd blijven", "en": "Stay logged in"},
    "logout.done": {
        "nl": "Uitgelogd; sessie en sleutels op dit apparaat zijn gewist.",
        "en": "Logged out; the session and keys on this device are deleted.",
    },
    "image.none": {"nl": "Deze melding heeft geen foto.", "en": "This report has no photo."},
    "image.which": {"nl": "Welke foto van {report}?", "en": "Which photo of {report}?"},
    "image.choice": {"nl": "Foto {number} · {time}", "en": "Photo {number} · {time}"},
    "image.title": {"nl": "Foto {number}", "en": "Photo {number}"},
    "image.save_title": {
        "nl": "Foto van {report} opslaan als",
        "en": "Save the photo of {report} as",
    },
    "image.save_explain": {
        "nl": "Alleen jij kunt het bestand lezen. De bot heeft de foto al schoongemaakt "
        "(geen plaats, tijd of toestel). Verwijder hem als je hem niet meer nodig hebt.",
        "en": "Only you can read the file. The bot already cleaned the photo (no place, time "
        "or device). Delete it when you no longer need it.",
    },
    "image.saved": {"nl": "Foto opgeslagen: {path}", "en": "Photo saved: {path}"},
    "image.exists": {
        "nl": "Niet opgeslagen: {path} bestaat al. Kies een andere naam.",
        "en": "Not saved: {path} already exists. Choose another name.",
    },
    "image.not_saved": {"nl": "Niet opgeslagen: {reason}", "en": "Not saved: {reason}"},
    "image.cannot_show": {
        "nl": "Deze terminal kan geen kleuren tonen, dus ook geen foto. Sla hem op met e.",
        "en": "This terminal cannot show colours, so no photo either. Save it with e.",
    },
    "image.cannot_decode": {
        "nl": "Deze foto kan niet getoond worden. Sla hem op met e.",
        "en": "This photo cannot be shown. Save it with e.",
    },
    "binding.desk.send": {"nl": "Versturen", "en": "Send"},
    "binding.desk.next_unread": {"nl": "Volgende nieuwe", "en": "Next unread"},
    "binding.desk.focus_list": {"nl": "Lijst", "en": "List"},
    "binding.desk.focus_composer": {"nl": "Antwoorden", "en": "Answer"},
    "binding.login.cancel": {"nl": "Stoppen", "en": "Quit"},
    "binding.desk.claim": {"nl": "Neem", "en": "Claim"},
    "binding.desk.status": {"nl": "Status", "en": "Status"},
    "binding.desk.category": {"nl": "Categorie", "en": "Category"},
    "binding.desk.forward": {"nl": "Doorsturen", "en": "Forward"},
    "binding.desk.block": {"nl": "Blokkeren", "en": "Block"},
    "binding.desk.search": {"nl": "Zoeken", "en": "Search"},
    "binding.desk.filter": {"nl": "Filter", "en": "Filter"},
    "binding.desk.sort": {"nl": "Sorteren", "en": "Sort"},
    "binding.desk.clear_search": {"nl": "Zoeken wissen", "en": "Clear search"},
    "binding.dialog.cancel": {"nl": "Annuleren", "en": "Cancel"},
    "binding.forward.submit": {"nl": "Doorsturen", "en": "Forward"},
    "binding.filter.apply": {"nl": "Toepassen", "en": "Apply"},
    "binding.app.help": {"nl": "Toetsen", "en": "Keys"},
    "binding.app.desk": {"nl": "Meldingen", "en": "Reports"},
    "binding.app.police": {"nl": "Politie", "en": "Police"},
    "binding.app.composer": {"nl": "Wijkbericht", "en": "Broadcast"},
    "binding.app.overview": {"nl": "Overzicht", "en": "Overview"},
    "binding.police.publish": {"nl": "Publiceren in de wijk", "en": "Publish to the wijk"},
    "binding.composer.preview": {"nl": "Voorbeeld aan de bot vragen", "en": "Ask for a preview"},
    "binding.composer.confirm": {"nl": "Versturen", "en": "Send"},
    "binding.composer.stop": {"nl": "Tegenhouden", "en": "Hold back"},
    "binding.overview.stats": {"nl": "Cijfers van de bot", "en": "Figures from the bot"},
    "binding.screen.back": {"nl": "Terug", "en": "Back"},
    "binding.help.close": {"nl": "Sluiten", "en": "Close"},
    "binding.app.quit": {"nl": "Afsluiten", "en": "Quit"},
    "binding.app.palette": {"nl": "Opdrachtenmenu", "en": "Command menu"},
    "binding.dialog.choose": {"nl": "Kiezen", "en": "Choose"},
    # Footer: short labels (the help screen and the tooltip give the long ones above)
    "footer.app.help": {"nl": "Hulp", "en": "Help"},
    "footer.app.composer": {"nl": "Bericht", "en": "Message"},
    "footer.app.reconnect": {"nl": "Verbinden", "en": "Reconnect"},
    "footer.app.quit": {"nl": "Stop", "en": "Quit"},
    "footer.app.palette": {"nl": "menu", "en": "menu"},
    "footer.desk.next_unread": {"nl": "Nieuw", "en": "Unread"},
    "footer.desk.focus_composer": {"nl": "Antwoord", "en": "Answer"},
    "footer.desk.view_image": {"nl": "Foto", "en": "Photo"},
    "footer.desk.save_image": {"nl": "Opslaan", "en": "Save"},
    "footer.desk.forward": {"nl": "Door", "en": "Forward"},
    "footer.desk.block": {"nl": "Blok", "en": "Block"},
    "footer.desk.clear_search": {"nl": "Wissen", "en": "Clear"},
    "footer.police.publish": {"nl": "Publiceren", "en": "Publish"},
    "footer.composer.preview": {"nl": "Voorbeeld", "en": "Preview"},
    "footer.overview.stats": {"nl": "Cijfers", "en": "Figures"},
    # Command palette and Textual's own texts
    "palette.placeholder": {"nl": "Zoek een opdracht…", "en": "Search for commands…"},
    "palette.close": {"nl": "Sluiten", "en": "Close"},
    "select.close": {"nl": "Sluiten", "en": "Close"},
    "command.help.help": {
        "nl": "Alle toetsen van bintui (F1).",
        "en": "Every key of bintui (F1).",
    },
    "command.quit.help": {
        "nl": "bintui afsluiten (Ctrl+Q); onverstuurde antwoorden blijven bewaard.",
        "en": "Quit bintui (Ctrl+Q); unsent answers are kept.",
    },
    "quit.how": {"nl": "Afsluiten doe je met {keys}.", "en": "Press {keys} to quit."},
    "help.more": {
        "nl": "PageDown of ↓ voor meer, Escape sluit.",
        "en": "PageDown or ↓ for more, Escape closes.",
    },
    # Help
    "help.title": {"nl": "Toetsen van bintui", "en": "bintui keys"},
    "help.remap": {
        "nl": "Andere toetsen? Zet ze in je instellingen onder [keys] met de naam van de "
        'actie, bijvoorbeeld "desk.claim" = "t" (alle namen staan in de handleiding).',
        "en": "Other keys? Put them in your settings under [keys] with the action's name, for "
        'example "desk.claim" = "t" (the guide lists every name).',
    },
    "help.section.everywhere": {"nl": "Overal", "en": "Everywhere"},
    "help.section.list": {"nl": "In de lijst met meldingen", "en": "In the list of reports"},
    "help.section.desk": {"nl": "Meldingen en antwoorden", "en": "Reports and answers"},
    "help.section.dialog": {"nl": "In een venster", "en": "In a dialog"},
    "help.section.forward": {"nl": "Doorsturen", "en": "Forwarding"},
    "help.section.filter": {"nl": "Filter", "en": "Filter"},
    "help.section.police": {"nl": "Politie & gemeente", "en": "Police & municipality"},
    "help.section.composer": {"nl": "Wijkbericht", "en": "Broadcast"},
    "help.section.overview": {"nl": "Overzicht", "en": "Overview"},
    # Police room
    "police.title": {"nl": "Politie & gemeente", "en": "Police & municipality"},
    "police.empty": {
        "nl": "Nog geen bulletins, doorgestuurde meldingen of reacties.",
        "en": "No bulletins, forwards or replies yet.",
    },
    "police.column.kind": {"nl": "Soort", "en": "Kind"},
    "police.column.label": {"nl": "Nr.", "en": "No."},
    "police.column.wijk": {"nl": "Wijk", "en": "Wijk"},
    "police.column.time": {"nl": "Tijd", "en": "Time"},
    "police.column.text": {"nl": "Tekst", "en": "Text"},
    "police.kind.bulletin": {"nl": "Bulletin", "en": "Bulletin"},
    "police.kind.forward": {"nl": "Doorgestuurd", "en": "Forwarded"},
    "police.kind.police_reply": {"nl": "Reactie politie", "en": "Police reply"},
    "police.note": {"nl": "Notitie van de coördinator", "en": "Coordinator's note"},
    "police.publish_hint": {"nl": "p: publiceren in de wijk", "en": "p: publish to the wijk"},
    "police.not_a_bulletin": {
        "nl": "Alleen een bulletin kun je in de wijk publiceren.",
        "en": "Only a bulletin can be published to the wijk.",
    },
    # Broadcast composer
    "composer.title": {"nl": "Wijkbericht aan alle leden", "en": "Message to every member"},
    "composer.placeholder": {
        "nl": "Tekst voor alle leden van de wijk… Alleen feiten: kleding, voertuig, richting.",
        "en": "Text for every member of the wijk… Facts only: clothing, vehicle, direction.",
    },
    "composer.preview_label": {
        "nl": "Zo zien de leden het:",
        "en": "This is what members see:",
    },
    "composer.unfair": {
        "nl": "⚠ Deze tekst beschrijft mensen naar afkomst of huidskleur:{phrases}",
        "en": "⚠ This text describes people by origin or skin colour:{phrases}",
    },
    "composer.unfair_bot": {
        "nl": "⚠ De bot waarschuwt: mensen beschreven naar afkomst of huidskleur:",
        "en": "⚠ The bot warns: people described by origin or skin colour:",
    },
    "composer.waiting": {
        "nl": "Voorbeeld gevraagd; wachten op de bot…",
        "en": "Preview asked for; waiting for the bot…",
    },
    "composer.previewed": {
        "nl": "Voorbeeld van {label}: gaat naar {count} {count:plural:lid:leden}.",
        "en": "Preview of {label}: goes to {count} {count:plural:member:members}.",
    },
    "composer.keys": {
        "nl": "{confirm} verstuurt, {stop} niet.",
        "en": "{confirm} sends, {stop} does not.",
    },
    "composer.confirm.title": {
        "nl": "{label} gaat naar {count} {count:plural:lid:leden}. Versturen?",
        "en": "{label} goes to {count} {count:plural:member:members}. Send it?",
    },
    "composer.send_to": {
        "nl": "Versturen naar {count} {count:plural:lid:leden}",
        "en": "Send to {count} {count:plural:member:members}",
    },
    "composer.send_anyway": {"nl": "Toch versturen", "en": "Send anyway"},
    "composer.rewrite": {"nl": "Herschrijven", "en": "Rewrite"},
    "composer.dont_send": {"nl": "Niet versturen", "en": "Do not send"},
    "composer.refused": {
        "nl": "{label} is niet verstuurd (afkomst of huidskleur). Herschrijf de tekst en vraag "
        "een nieuw voorbeeld, of verstuur toch met {confirm}.",
        "en": "{label} was not sent (origin or skin colour). Rewrite it and ask for a new "
        "preview, or send anyway with {confirm}.",
    },
    "composer.confirmed": {
        "nl": "{label} gaat over {seconds} {seconds:plural:seconde:seconden} naar alle leden. "
        "{stop} houdt het tegen.",
        "en": "{label} goes to every member in {seconds} {seconds:plural:second:seconds}. "
        "{stop} holds it back.",
    },
    "composer.confirmed_now": {
        "nl": "{label} gaat nu naar alle leden…",
        "en": "{label} is going out to all members now…",
    },
    "composer.sending": {
        "nl": "{label} wordt afgeleverd bij {count} {count:plural:lid:leden}…",
        "en": "{label} is being delivered to {count} {count:plural:member:members}…",
    },
    "composer.progress": {
        "nl": "{label} wordt afgeleverd: {delivered} van {total} {total:plural:lid:leden} bereikt…",
        "en": "{label} is being delivered: {delivered} of {total} "
        "{total:plural:member:members} reached…",
    },
    "composer.done": {
        "nl": "{label}: afgeleverd aan {delivered} van {total} {total:plural:lid:leden}.",
        "en": "{label}: delivered to {delivered} of {total} {total:plural:member:members}.",
    },
    "composer.cancelled": {
        "nl": "{label} is tegengehouden en wordt niet verstuurd.",
        "en": "{label} was held back and will not be sent.",
    },
    "composer.empty": {"nl": "Typ eerst de tekst.", "en": "Type the text first."},
    "composer.no_wijk": {
        "nl": "Geen wijkkamer bekend: wacht tot bintui verbonden is.",
        "en": "No wijk room known: wait until bintui is connected.",
    },
    "composer.nothing_to_confirm": {
        "nl": "Er is geen voorbeeld om te versturen; vraag er eerst een (Ctrl+S).",
        "en": "There is no preview to send; ask for one first (Ctrl+S).",
    },
    "composer.nothing_to_stop": {
        "nl": "Er is niets om tegen te houden.",
        "en": "There is nothing to hold back.",
    },
    # Overview
    "overview.title": {"nl": "Overzicht", "en": "Overview"},
    "overview.empty": {"nl": "Nog geen wijken bekend.", "en": "No wijken known yet."},
    "overview.wijk": {"nl": "Wijk", "en": "Wijk"},
    "overview.members": {"nl": "Leden: {members}", "en": "Members: {members}"},
    "overview.members_unknown": {
        "nl": "onbekend (r: vraag de bot om cijfers)",
        "en": "unknown (r: ask the bot for figures)",
    },
    "overview.open": {
        "nl": "Open meldingen: {open} van {total} ({unread} ongelezen)",
        "en": "Open reports: {open} of {total} ({unread} unread)",
    },
    "overview.urgent_open": {
        "nl": "⚠ Open en misschien dringend: {count}",
        "en": "⚠ Open and possibly urgent: {count}",
    },
    "overview.first_answer": {
        "nl": "Gemiddelde tijd tot eerste antwoord: {duration}",
        "en": "Average time to first answer: {duration}",
    },
    "duration.minutes": {"nl": "{minutes} min", "en": "{minutes} min"},
    "duration.hours": {"nl": "{hours} uur", "en": "{hours} hours"},
    "overview.first_answer_none": {
        "nl": "Gemiddelde tijd tot eerste antwoord: nog geen antwoorden",
        "en": "Average time to first answer: no answers yet",
    },
    "overview.per_week": {
        "nl": "Meldingen per week, laatste {weeks} weken (oud → nieuw): {counts}",
        "en": "Reports per week, last {weeks} weeks (old → new): {counts}",
    },
    "overview.note": {
        "nl": "Berekend uit de meldingen die dit apparaat kan lezen; de leden komen van de bot.",
        "en": "Computed from the reports this device can read; members come from the bot.",
    },
    "overview.stats_asked": {
        "nl": "Cijfers gevraagd aan de bot.",
        "en": "Asked the bot for figures.",
    },
    # Cross-signing identity
    "identity.created.title": {
        "nl": "Je herstelsleutel: schrijf hem op",
        "en": "Your recovery key: write it down",
    },
    "identity.created.explain": {
        "nl": "bintui heeft een identiteit voor je account gemaakt en dit apparaat daarmee "
        "ondertekend, zodat politie en coördinatoren in Element het vertrouwen. Met deze "
        "herstelsleutel onderteken je later een nieuw apparaat (ook in Element: "
        "'Beveiligingssleutel'). Bewaar hem op papier of in een wachtwoordkluis, niet op deze "
        "computer. bintui laat hem maar één keer zien.",
        "en": "bintui created an identity for your account and signed this device with it, so "
        "that police and coordinators on Element trust it. With this recovery key you sign a "
        "new device later (in Element too: 'Security key'). Keep it on paper or in a password "
        "manager, not on this computer. bintui shows it only once.",
    },
    "identity.created.done": {"nl": "Ik heb hem opgeschreven", "en": "I wrote it down"},
    "identity.ask.title": {
        "nl": "Dit apparaat ondertekenen",
        "en": "Sign this device",
    },
    "identity.ask.explain": {
        "nl": "Je account heeft al een identiteit. Typ je herstelsleutel (of "
        "'beveiligingssleutel' uit Element), dan ondertekent bintui dit apparaat. Zonder "
        "handtekening kan Element dit apparaat gaan overslaan.",
        "en": "Your account already has an identity. Type your recovery key (Element's "
        "'security key') and bintui signs this device. Unsigned, Element may start to skip "
        "this device.",
    },
    "identity.ask.submit": {"nl": "Ondertekenen", "en": "Sign"},
    "identity.ask.later": {"nl": "Later", "en": "Later"},
    "identity.signed": {
        "nl": "Dit apparaat is ondertekend met je identiteit.",
        "en": "This device is signed with your identity.",
    },
    "identity.unsigned": {
        "nl": "Dit apparaat is niet ondertekend; bintui vraagt het bij de volgende start weer.",
        "en": "This device is not signed; bintui asks again at the next start.",
    },
    "identity.failed": {
        "nl": "Ondertekenen van dit apparaat lukte niet",
        "en": "Signing this device failed",
    },
    "binding.identity.later": {"nl": "Later", "en": "Later"},
    # Command palette
    "command.send.help": {
        "nl": "Verstuur het antwoord in het invoerveld naar het lid",
        "en": "Send the answer in the composer to the member",
    },
    "command.next_unread.help": {
        "nl": "Ga naar de volgende melding met nieuwe berichten",
        "en": "Go to the next report with new messages",
    },
    "command.claim.title": {"nl": "Neem de melding", "en": "Claim the report"},
    "command.claim.help": {
        "nl": "Jij behandelt de gekozen melding (!neem)",
        "en": "You handle the chosen report (!claim)",
    },
    "command.status.title": {"nl": "Status kiezen", "en": "Set the status"},
    "command.status.help": {
        "nl": "Nieuw, in behandeling, doorgestuurd of afgehandeld (!status)",
        "en": "New, in progress, forwarded or closed (!status)",
    },
    "command.category.title": {"nl": "Categorie kiezen", "en": "Set the category"},
    "command.category.help": {
        "nl": "Inbraak, verdachte situatie, overlast … (!categorie)",
        "en": "Burglary, suspicious situation, nuisance … (!category)",
    },
    "command.forward.title": {"nl": "Doorsturen naar de politie", "en": "Forward to the police"},
    "command.forward.help": {
        "nl": "De tekst aanpassen en met een notitie doorsturen (!doorsturen)",
        "en": "Edit the text and forward it with a note (!forward)",
    },
    "command.block.title": {"nl": "Lid blokkeren of deblokkeren", "en": "Block or unblock"},
    "command.block.help": {
        "nl": "Het lid achter de melding blokkeren, zonder te weten wie het is",
        "en": "Block the member behind the report, without knowing who it is",
    },
    "command.search.title": {"nl": "Zoeken in meldingen", "en": "Search the reports"},
    "command.search.help": {
        "nl": "Toon alleen meldingen met deze woorden",
        "en": "Show only reports with these words",
    },
    "command.filter.title": {"nl": "Meldingen filteren", "en": "Filter the reports"},
    "command.filter.help": {
        "nl": "Op status, wijk, categorie of ongelezen",
        "en": "By status, wijk, category or unread",
    },
    "command.sort.title": {"nl": "Sortering wisselen", "en": "Change the sort order"},
    "command.sort.help": {
        "nl": "Activiteit, nieuwste, nummer, status, dringend eerst",
        "en": "Activity, newest, number, status, urgent first",
    },
    "command.reconnect.help": {
        "nl": "Maak opnieuw verbinding met de server",
        "en": "Connect to the server again",
    },
}


class I18n:
    """Looks up user-facing strings in one language, passed down to screens and widgets."""

    def __init__(self, language: Language = "nl") -> None:
        self.language: Language = language

    def __call__(self, key: str, **values: object) -> str:
        """The string for `key` in this language, with `{name}` fields filled in."""
        return fill(CATALOG[key][self.language], **values)

    def duration(self, hours: float) -> str:
        """A length of time: minutes under an hour, else hours with one decimal written the
        way the language writes it ("1,5 uur", "1.5 hours")."""
        if hours < 1:
            return self("duration.minutes", minutes=max(1, round(hours * 60)))
        text = f"{hours:.1f}"
        return self(
            "duration.hours", hours=text.replace(".", ",") if self.language == "nl" else text
        )

    def status(self, status: str) -> str:
        """A report status (the Dutch protocol value) in this language."""
        key = f"status.{status}"
        return self(key) if key in CATALOG else status

    def category(self, category: str) -> str:
        """A report category (the Dutch protocol value) in this language."""
        key = f"category.{category}"
        return self(key) if key in CATALOG else category

    def localise_bindings(self, node: DOMNode) -> None:
        """Replace the footer descriptions of `node`'s bindings that have a catalogued id."""
        bindings: BindingsMap = node._bindings
        for key, key_bindings in bindings.key_to_bindings.items():
            bindings.key_to_bindings[key] = [
                self._localised(binding) if binding.id else binding for binding in key_bindings
            ]

    def _localised(self, binding: Binding) -> Binding:
        """The footer shows the short label (`footer.<id>`) when there is one, the help screen
        and the tooltip the full one (`binding.<id>`)."""
        full_key, short_key = f"binding.{binding.id}", f"footer.{binding.id}"
        if full_key not in CATALOG:
            return binding
        full = self(full_key)
        short = self(short_key) if short_key in CATALOG else full
        return dataclasses.replace(binding, description=short, tooltip=full)
