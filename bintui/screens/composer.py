"""The broadcast composer: text, category, what members will see, and the bot's answers.

Everything goes through the wijk room, as a coordinator in Element would do it: the client
sends `!publiceer` and follows the bot's preview, then `!ja` (or `!ja zeker` after the
fairness warning) or `!stop`, and shows the delivery as the bot reports it ("250 van 1000
leden bereikt…") until "afgeleverd aan N van M". The bot's undo window is counted down
second by second; Ctrl+G and Ctrl+T are offered only while they can still do something, and
a delivered message leaves an empty composer for the next one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import Button, Header, Label, ProgressBar, Select, Static, TextArea

from bridge import i18n as bot_i18n
from bridge.anonymise import clean_text
from bridge.fairness import check_broadcast

from .. import commands
from ..gateway import Broadcast
from ..i18n import I18n
from ..safe_text import safe_line, safe_text
from ..widgets.key_footer import KeyFooter
from ..widgets.thread import QuotedMessage
from .help import key_label

MEMBER_LANGUAGE = "nl"
"""Members read broadcasts in their own language; most use the deployment's default, Dutch."""
PENDING_LABEL = "W-…"
COUNTDOWN_TICK = 0.25
"""How often the undo countdown looks at the clock (the line changes once a second)."""


def member_preview(label: str, category: str, text: str) -> tuple[Text, Text]:
    """Exactly what a member's app shows: the bot's header line, then the text as a quote
    (shown in a `QuotedMessage`, as the thread shows messages)."""
    header = bot_i18n.t("broadcast.header", MEMBER_LANGUAGE, label=label, category=category)
    return Text(" ".join(clean_text(header).split())), safe_text(clean_text(text))


class ConfirmBroadcast(ModalScreen[str | None]):
    """'W-0004 goes to 42 members. Send?' — with 'send anyway' after a fairness warning."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Annuleren", id="dialog.cancel"),
    ]

    def __init__(self, i18n: I18n, broadcast: Broadcast) -> None:
        super().__init__(classes="dialog")
        self.i18n = i18n
        self.broadcast = broadcast
        i18n.localise_bindings(self)

    def compose(self) -> ComposeResult:
        t, b = self.i18n, self.broadcast
        count = "?" if b.recipients is None else str(b.recipients)
        with Vertical(classes="dialog-box", id="confirm-box"):
            yield Static(
                t("composer.confirm.title", label=b.label, count=count),
                classes="dialog-title",
                markup=False,
            )
            if b.unfair:
                warning = Text(t("composer.unfair", phrases="") + " ", style="bold")
                warning.append_text(safe_line(b.unfair))
                yield Static(warning, id="confirm-unfair", markup=False)
            with Horizontal(classes="dialog-buttons"):
                if b.unfair:
                    yield Button(t("composer.rewrite"), variant="primary", id="confirm-rewrite")
                    yield Button(t("composer.send_anyway"), variant="error", id="confirm-anyway")
                else:
                    yield Button(
                        t("composer.send_to", count=count), variant="primary", id="confirm-send"
                    )
                yield Button(t("composer.dont_send"), id="confirm-stop")

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        choice = {
            "confirm-send": "send",
            "confirm-anyway": "send_anyway",
            "confirm-stop": "stop",
            "confirm-rewrite": None,
        }.get(event.button.id or "")
        self.dismiss(choice)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ComposerScreen(Screen[None]):
    """Write a wijk message and follow it until it is delivered."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "preview", "Voorbeeld aan de bot vragen", id="composer.preview"),
        Binding("ctrl+g", "confirm", "Versturen", id="composer.confirm"),
        Binding("ctrl+t", "stop", "Tegenhouden", id="composer.stop"),
        Binding("escape", "app.show_desk", "Terug", id="screen.back"),
    ]

    broadcasts: reactive[tuple[Broadcast, ...]] = reactive(())
    """Everything the bot reported about broadcasts (set by the app)."""
    label: reactive[str | None] = reactive(None)
    """The W-number the bot gave this message, once its preview came."""

    class RoomCommand(Message):
        """Send `text` into `wijk`'s broadcast room."""

        def __init__(self, wijk: str, text: str) -> None:
            super().__init__()
            self.wijk = wijk
            self.text = text

    def __init__(
        self,
        i18n: I18n,
        wijken: Sequence[str],
        *,
        wijk: str | None = None,
        text: str = "",
        category: str = commands.DEFAULT_BROADCAST_CATEGORY,
        bulletin: str | None = None,
        keymap: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.monotonic = monotonic
        self.keymap = dict(keymap or {})
        self.i18n = i18n
        self.wijken = list(wijken) or ([wijk] if wijk else [])
        self.initial_wijk: str | None = wijk if wijk in self.wijken else None
        if self.initial_wijk is None and self.wijken:
            self.initial_wijk = self.wijken[0]
        self.initial_text = text
        self.initial_category = category
        self.bulletin = bulletin
        """B-0001 when the text came from a bulletin: unchanged, it is published by number."""
        self._labels_before: set[str] = set()
        self._waiting_for: str | None = None
        self._asked: set[str] = set()
        self._cleared: set[str] = set()
        """Labels delivered and so taken out of the editor."""
        self._undo_ends: dict[str, float] = {}
        """Per confirmed label: when (monotonic) its undo window ends, as first seen."""
        self._countdown: Timer | None = None
        self._seconds_shown: int | None = None
        self._offered: tuple[bool | None, ...] = ()
        """Which of Ctrl+G / Ctrl+T the footer offered last (refreshed only on a change)."""
        i18n.localise_bindings(self)

    def compose(self) -> ComposeResult:
        t = self.i18n
        yield Header()
        with VerticalScroll(id="composer-screen"):
            with Horizontal(id="composer-choices"):
                yield Select(
                    [(w, w) for w in self.wijken],
                    value=self.initial_wijk if self.initial_wijk else Select.NULL,
                    allow_blank=not self.wijken,
                    id="composer-wijk",
                    compact=True,
                )
                yield Select(
                    [(c, c) for c in commands.BROADCAST_CATEGORIES],
                    value=self.initial_category,
                    allow_blank=False,
                    id="composer-category",
                    compact=True,
                )
            yield TextArea(
                self.initial_text,
                id="composer-text",
                soft_wrap=True,
                show_line_numbers=False,
                placeholder=t("composer.placeholder"),
            )
            yield Label(t("composer.preview_label"), classes="section", markup=False)
            yield QuotedMessage(id="composer-preview")
            yield Static("", id="composer-fairness", markup=False)
            yield Static("", id="composer-status", markup=False)
            yield ProgressBar(id="composer-progress", show_eta=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.title = self.i18n("app.title")
        self.sub_title = self.i18n("composer.title")
        self.query_one("#composer-progress").display = False
        self._countdown = self.set_interval(COUNTDOWN_TICK, self._tick, pause=True)
        self._update_preview()
        self.query_one("#composer-text", TextArea).focus()

    # -- what is typed -----------------------------------------------------------------

    @property
    def wijk(self) -> str | None:
        value = self.query_one("#composer-wijk", Select).value
        return value if isinstance(value, str) else None

    @property
    def category(self) -> str:
        value = self.query_one("#composer-category", Select).value
        return value if isinstance(value, str) else commands.DEFAULT_BROADCAST_CATEGORY

    @property
    def text(self) -> str:
        return self.query_one("#composer-text", TextArea).text.replace("\r\n", "\n").strip()

    @on(TextArea.Changed, "#composer-text")
    @on(Select.Changed)
    def _update_preview(self) -> None:
        if not self.is_mounted:
            return
        current = self.current
        if current is not None and current.phase == "done":
            current = None  # delivered: the editor holds the next message
        label = current.label if current is not None else PENDING_LABEL
        self.query_one("#composer-preview", QuotedMessage).set_parts(
            *member_preview(label, self.category, self.text)
        )
        verdict = check_broadcast(self.text) if self.text else None
        fairness = Text("")
        if current is not None and current.unfair:
            fairness = Text(self.i18n("composer.unfair_bot") + " ", style="bold red")
            fairness.append_text(safe_line(current.unfair))
        elif verdict is not None and verdict.flagged:
            fairness = Text(self.i18n("composer.unfair", phrases="") + " ", style="bold yellow")
            fairness.append_text(safe_line(verdict.quoted))
        self.query_one("#composer-fairness", Static).update(fairness)

    # -- following the bot -------------------------------------------------------------

    @property
    def current(self) -> Broadcast | None:
        """The bot's latest word on this message, once it has a number."""
        if self.label is None:
            return None
        return next(
            (b for b in self.broadcasts if b.label == self.label and b.wijk == self.wijk), None
        )

    def watch_broadcasts(self) -> None:
        if self._waiting_for is not None and self.label is None:
            for b in self.broadcasts:
                if (
                    b.wijk == self.wijk
                    and b.label not in self._labels_before
                    and b.text == self._waiting_for
                ):
                    self.label = b.label
                    break
        if self.is_mounted:
            self._show_phase()

    def watch_label(self) -> None:
        if self.is_mounted:
            self._show_phase()

    def _show_phase(self) -> None:
        self._update_preview()
        b = self.current
        t = self.i18n
        status = Text("")
        progress = self.query_one("#composer-progress", ProgressBar)
        progress.display = False
        if b is None:
            if self._waiting_for is not None:
                status = Text(t("composer.waiting"))
        elif b.phase == "preview":
            count = "?" if b.recipients is None else str(b.recipients)
            status = Text(
                t("composer.previewed", label=b.label, count=count)
                + " "
                + t("composer.keys", confirm=self._key("confirm"), stop=self._key("stop"))
            )
            if b.label not in self._asked:
                self._asked.add(b.label)
                self.app.push_screen(ConfirmBroadcast(t, b), self._confirmed)
        elif b.phase == "refused":
            status = Text(
                t("composer.refused", label=b.label, confirm=self._key("confirm")),
                style="bold red",
            )
        elif b.phase == "confirmed":
            seconds = self._seconds_shown = self._seconds_left(b)
            if seconds > 0:
                status = Text(
                    t("composer.confirmed", label=b.label, seconds=seconds, stop=self._key("stop"))
                )
            else:
                status = Text(t("composer.confirmed_now", label=b.label))
        elif b.phase == "sending":
            if b.delivered is not None and b.total is not None:
                status = Text(
                    t("composer.progress", label=b.label, delivered=b.delivered, total=b.total)
                )
            else:
                status = Text(t("composer.sending", label=b.label, count=b.total or "?"))
            progress.display = True
            # The recipients from the bot's start line, then its progress lines' counts.
            progress.update(total=b.total, progress=b.delivered or 0)
        elif b.phase == "done":
            status = Text(
                t("composer.done", label=b.label, delivered=b.delivered, total=b.total),
                style="bold",
            )
            progress.display = True
            progress.update(total=b.total or 1, progress=b.delivered or 0)
            if b.label not in self._cleared:
                self._clear_for_next(b.label)
        elif b.phase == "cancelled":
            status = Text(t("composer.cancelled", label=b.label))
        self.query_one("#composer-status", Static).update(status)
        self._follow_undo_window(b)
        offered = (self.check_action("confirm", ()), self.check_action("stop", ()))
        if offered != self._offered:
            self._offered = offered
            self.refresh_bindings()

    # -- the undo window -----------------------------------------------------------------

    def _seconds_left(self, b: Broadcast) -> int:
        """Whole seconds left to hold `b` back: from the bot's notice (its age as far as the
        clocks agree, never more than the window), counted on from when it was first seen."""
        ends = self._undo_ends.get(b.label)
        if ends is None:
            window = max(0.0, b.undo_seconds or 0.0)
            left = min(window, max(0.0, b.ts + window - self.clock())) if b.ts else window
            ends = self._undo_ends[b.label] = self.monotonic() + left
        return max(0, math.ceil(ends - self.monotonic()))

    def _follow_undo_window(self, b: Broadcast | None) -> None:
        """The countdown runs while the bot's undo window is open, and stops after it."""
        if self._countdown is None:
            return
        if b is not None and b.phase == "confirmed" and self._seconds_left(b) > 0:
            self._countdown.resume()
        else:
            self._countdown.pause()

    def _tick(self) -> None:
        """The status line follows once the number of seconds it shows is out of date."""
        b = self.current
        if b is None or b.phase != "confirmed":
            self._follow_undo_window(b)
        elif self._seconds_left(b) != self._seconds_shown:
            self._show_phase()

    def _clear_for_next(self, label: str) -> None:
        """After delivery: an empty editor for the next message (the status line stays)."""
        self._cleared.add(label)
        self.bulletin = None
        editor = self.query_one("#composer-text", TextArea)
        editor.clear()
        editor.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Ctrl+G only while there is a preview to confirm, Ctrl+T only until the undo
        window ends: after delivery neither is in the footer."""
        if action not in ("confirm", "stop") or not self.is_mounted:
            return True
        b = self.current
        phase = b.phase if b is not None else None
        if phase in ("preview", "refused"):
            return True
        if action == "stop" and b is not None and phase == "confirmed":
            return self._seconds_left(b) > 0
        return False

    def _key(self, action: str) -> str:
        """The key of one of this screen's actions, as remapped in the settings."""
        binding = next(
            b for b in self.BINDINGS if isinstance(b, Binding) and b.id == f"composer.{action}"
        )
        return key_label(binding, self.keymap)

    def _confirmed(self, choice: str | None) -> None:
        if choice == "send":
            self._send(commands.confirm())
        elif choice == "send_anyway":
            self._send(commands.confirm(send_anyway=True))
        elif choice == "stop":
            self._send(commands.STOP)
        else:
            self.query_one("#composer-text", TextArea).focus()

    def _send(self, text: str) -> None:
        wijk = self.wijk
        if wijk is None:
            self.notify(self.i18n("composer.no_wijk"), severity="warning", markup=False)
            return
        self.post_message(self.RoomCommand(wijk, text))

    # -- actions ------------------------------------------------------------------------

    def action_preview(self) -> None:
        """Ask the bot for a preview (`!publiceer`); a changed text gets a new number."""
        text = self.text
        if not text:
            self.notify(self.i18n("composer.empty"), severity="warning", markup=False)
            return
        if self.wijk is None:
            self.notify(self.i18n("composer.no_wijk"), severity="warning", markup=False)
            return
        self._labels_before = {b.label for b in self.broadcasts if b.wijk == self.wijk}
        self._waiting_for = clean_text(text)
        self.label = None
        if (
            self.bulletin is not None
            and text == self.initial_text.strip()
            and self.category == "politie"
        ):
            self._send(commands.publish_bulletin(self.bulletin))
        else:
            self._send(commands.publish(self.category, text))
        self._show_phase()

    def action_confirm(self) -> None:
        """Open the confirmation again for the current preview."""
        b = self.current
        if b is None or b.phase not in ("preview", "refused"):
            self.notify(self.i18n("composer.nothing_to_confirm"), markup=False)
            return
        self.app.push_screen(ConfirmBroadcast(self.i18n, b), self._confirmed)

    def action_stop(self) -> None:
        """Hold the message back (`!stop`), within the bot's undo window."""
        b = self.current
        if b is None or b.phase not in ("preview", "refused", "confirmed"):
            self.notify(self.i18n("composer.nothing_to_stop"), markup=False)
            return
        self._send(commands.STOP)
