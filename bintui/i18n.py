"""The client's user-facing strings in Dutch (default) and English, and binding localisation."""

from __future__ import annotations

import dataclasses
from typing import Literal

from textual.binding import BindingsMap
from textual.dom import DOMNode

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
    "age.now": {"nl": "nu", "en": "now"},
    "age.minutes": {"nl": "{n} min", "en": "{n} min"},
    "age.hours": {"nl": "{n} u", "en": "{n} h"},
    "age.days": {"nl": "{n} d", "en": "{n} d"},
    "role.member": {"nl": "lid", "en": "member"},
    "role.coordinator": {"nl": "coördinator", "en": "coordinator"},
    "role.bot": {"nl": "BIN", "en": "BIN"},
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
    "binding.desk.send": {"nl": "Versturen", "en": "Send"},
    "binding.desk.next_unread": {"nl": "Volgende nieuwe", "en": "Next unread"},
    "binding.desk.focus_list": {"nl": "Lijst", "en": "List"},
    "binding.desk.focus_composer": {"nl": "Antwoorden", "en": "Answer"},
    "binding.login.cancel": {"nl": "Stoppen", "en": "Quit"},
    # Command palette
    "command.send.help": {
        "nl": "Verstuur het antwoord in het invoerveld naar het lid",
        "en": "Send the answer in the composer to the member",
    },
    "command.next_unread.help": {
        "nl": "Ga naar de volgende melding met nieuwe berichten",
        "en": "Go to the next report with new messages",
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
        text = CATALOG[key][self.language]
        return text.format(**values) if values else text

    def status(self, status: str) -> str:
        """A report status (the Dutch protocol value) in this language."""
        key = f"status.{status}"
        return self(key) if key in CATALOG else status

    def localise_bindings(self, node: DOMNode) -> None:
        """Replace the footer descriptions of `node`'s bindings that have a catalogued id."""
        bindings: BindingsMap = node._bindings
        for key, key_bindings in bindings.key_to_bindings.items():
            bindings.key_to_bindings[key] = [
                dataclasses.replace(binding, description=self(f"binding.{binding.id}"))
                if binding.id and f"binding.{binding.id}" in CATALOG
                else binding
                for binding in key_bindings
            ]
