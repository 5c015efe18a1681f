"""The bintui application: owns the gateway, runs all network work in workers, shows errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from importlib import import_module
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from . import commands
from .gateway import ConnectionState, Gateway, GatewayError, LoginRequired, Report, RoomRole
from .i18n import I18n
from .keys import help_sections
from .media_view import CannotShow, default_folder, half_blocks, save_private
from .safe_text import safe_line
from .screens.actions import BinCommandPalette, ChoiceScreen, ImageScreen
from .screens.composer import ComposerScreen
from .screens.desk import DeskScreen
from .screens.help import HelpScreen, key_label_of
from .screens.identity import AskRecoveryKeyScreen, RecoveryKeyScreen
from .screens.login import LoginScreen
from .screens.overview import OverviewScreen
from .screens.police import PoliceScreen
from .settings import ClientSettings
from .widgets.key_footer import KeyFooter

GatewayFactory = Callable[[ClientSettings], Gateway]


def matrix_gateway(settings: ClientSettings) -> Gateway:
    """The real gateway (imported late, so tests with a fake never load nio)."""
    from .matrix_gateway import MatrixGateway

    return MatrixGateway(settings)


DESK_ACTIONS = (
    "claim",
    "status",
    "category",
    "forward",
    "block",
    "view_image",
    "save_image",
    "search",
    "filter",
    "sort",
)
DRAFT_SAVE_SECONDS = 20.0
"""How often unsent answers are written (encrypted) to disk, besides on exit and after a send."""
"""Desk actions offered in the command palette (each has `command.<name>.title/help`)."""


class BinTuiApp(App[None]):
    """The coordinator's client: a desk of reports over one Matrix account."""

    CSS_PATH = "app.tcss"
    TITLE = "BIN"
    # Textual declares this without ClassVar, so mypy would reject ours with it.
    # The list needs ~76 columns: side by side with a readable thread only from 150 on.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (150, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # noqa: RUF012
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1,question_mark", "help", "Toetsen", id="app.help"),
        Binding("f2", "show_desk", "Meldingen", id="app.desk"),
        Binding("f3", "show_police", "Politie", id="app.police"),
        Binding("f4", "show_composer", "Wijkbericht", id="app.composer"),
        Binding("f5", "show_overview", "Overzicht", id="app.overview"),
        Binding("ctrl+r", "reconnect", "Opnieuw verbinden", id="app.reconnect"),
        Binding("f9", "logout", "Uitloggen", id="app.logout"),
        Binding("ctrl+q", "quit", "Afsluiten", id="app.quit", priority=True),
        # Replaces the one Textual adds (so the footer says 'menu', in the app's language).
        Binding("ctrl+p", "command_palette", "menu", id="app.palette", show=False, priority=True),
    ]

    class GatewayChanged(Message):
        """The gateway reported new data or a new connection state."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        gateway_factory: GatewayFactory = matrix_gateway,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.i18n = I18n(settings.language)
        self.gateway_factory = gateway_factory
        self.clock = clock
        self.gateway: Gateway | None = None
        self.desk = DeskScreen(self.i18n, clock=clock)
        self._opened: str | None = None
        self._unread: set[str] | None = None
        self._known: set[str] | None = None
        self._police_replies: dict[str, str | None] | None = None
        self._sending: set[str] = set()
        self.i18n.localise_bindings(self)
        KeyFooter.TEXTUAL_LABELS = {"Dismiss menu": self.i18n("select.close")}
        self.set_keymap(dict(settings.keys))

    def get_default_screen(self) -> Screen[None]:
        return self.desk

    def on_mount(self) -> None:
        self.title = self.i18n("app.title")
        self.desk.media_folder = default_folder(self.settings.data_dir)
        self.set_interval(DRAFT_SAVE_SECONDS, self._save_drafts)
        # The desk is painted first; connecting (and importing nio for it) comes after.
        self.call_after_refresh(self.connect)

    async def on_unmount(self) -> None:
        if self.gateway is not None:
            self._save_drafts()
            await self.gateway.close()

    def _save_drafts(self) -> None:
        """Write the unsent answers (encrypted, see bintui.local_cache); never fatal."""
        gateway = self.gateway
        if gateway is None:
            return
        try:
            gateway.save_drafts(self.desk.drafts())
        except OSError as exc:
            self.notify(str(exc), title=self.i18n("error.title"), severity="error", markup=False)

    # -- network work, always in workers ----------------------------------------------

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def connect(self) -> None:
        """Start a gateway; when it needs credentials, ask for them and try again."""
        if self.gateway is not None:
            gateway, self.gateway = self.gateway, None
            await gateway.close()
        if self.gateway_factory is matrix_gateway:
            # nio and its encryption take about a second to import: in a thread, so that the
            # screen already painted keeps answering keys meanwhile.
            await asyncio.to_thread(import_module, ".matrix_gateway", __package__)
        while True:
            gateway = self.gateway_factory(self.settings)
            self.gateway = gateway
            try:
                await gateway.start(self._gateway_changed)
            except LoginRequired as exc:
                self.gateway = None
                details = await self.push_screen_wait(
                    LoginScreen(
                        self.i18n,
                        homeserver=self.settings.homeserver,
                        user_id=self.settings.user_id or "",
                        message=str(exc),
                    )
                )
                if details is None:
                    self.exit()
                    return
                self.settings = self.settings.with_login(
                    details.homeserver, details.user_id, details.password
                )
                continue
            except Exception as exc:
                self.gateway = None
                self.desk.connection = ConnectionState("offline", str(exc) or type(exc).__name__)
                raise  # shown by the one error handler below
            self._known = {r.root_event_id for r in gateway.reports()}
            self._refresh()
            self.desk.restore_drafts(gateway.load_drafts())
            await self._settle_identity(gateway)
            return

    async def _settle_identity(self, gateway: Gateway) -> None:
        """Show a new recovery key once, or ask for it until the device is signed (or later)."""
        t = self.i18n
        identity = gateway.identity
        if identity.status == "created" and identity.recovery_key:
            await self.push_screen_wait(RecoveryKeyScreen(t, identity.recovery_key))
        while identity.status == "needs_recovery_key":
            typed = await self.push_screen_wait(AskRecoveryKeyScreen(t, identity.message))
            if typed is None:
                self.notify(t("identity.unsigned"), severity="warning", markup=False)
                return
            identity = await gateway.restore_identity(typed)
            if identity.status == "signed":
                self.notify(t("identity.signed"), markup=False)
        if identity.status == "failed":
            self.notify(
                safe_line(identity.message).plain,
                title=t("identity.failed"),
                severity="warning",
                markup=False,
                timeout=15,
            )

    @work(group="send", exit_on_error=False)
    async def send_reply(self, report: Report, text: str) -> None:
        """Send an answer; the composer is cleared only once the server accepted it."""
        gateway = self.gateway
        if gateway is None:
            self.notify(self.i18n("desk.not_connected"), severity="warning", markup=False)
            return
        if report.root_event_id in self._sending:
            return  # a second Ctrl+S while the first is still on its way
        self._sending.add(report.root_event_id)
        try:
            await gateway.reply(report, text)
        finally:
            self._sending.discard(report.root_event_id)
        self.desk.reply_sent(report, text)
        self._save_drafts()
        self.notify(self.i18n("desk.sent"), markup=False)

    @work(group="send", exit_on_error=False)
    async def send_command(self, report: Report, command: str) -> None:
        """Send a desk command into the report's thread; the bot announces the result."""
        gateway = self.gateway
        if gateway is None:
            self.notify(self.i18n("desk.not_connected"), severity="warning", markup=False)
            return
        await gateway.send_command(report, command)
        first_line = command.split("\n", 1)[0]
        shown = first_line if len(first_line) <= 60 else first_line[:59] + "…"
        self.notify(self.i18n("desk.command_sent", command=shown), markup=False)

    @work(group="send", exit_on_error=False)
    async def send_to_room(self, wijk: str, role: RoomRole, text: str) -> None:
        """Send a command into one of a wijk's rooms (`!publiceer`, `!ja`, `!stats` …)."""
        gateway = self.gateway
        if gateway is None:
            self.notify(self.i18n("desk.not_connected"), severity="warning", markup=False)
            return
        await gateway.send_to_room(wijk, role, text)

    @work(group="media", exit_on_error=False)
    async def show_or_save_image(self, request: DeskScreen.ImageRequested) -> None:
        """Fetch a photo from the homeserver; save it (0600) or draw it in the terminal."""
        t, gateway, file = self.i18n, self.gateway, request.item.file
        if gateway is None or file is None:
            self.notify(t("desk.not_connected"), severity="warning", markup=False)
            return
        if request.save_to is None and self.console.color_system is None:
            self.notify(t("image.cannot_show"), severity="warning", markup=False, timeout=10)
            return
        data = await gateway.fetch_media(file)
        if request.save_to is not None:
            try:
                path = await asyncio.to_thread(save_private, request.save_to, data)
            except FileExistsError:
                raise GatewayError(t("image.exists", path=str(request.save_to))) from None
            except OSError as exc:
                raise GatewayError(t("image.not_saved", reason=exc.strerror or "")) from None
            self.notify(t("image.saved", path=str(path)), markup=False, timeout=10)
            return
        width, height = self.size
        try:
            picture = await asyncio.to_thread(half_blocks, data, width - 8, height - 8)
        except CannotShow:
            raise GatewayError(t("image.cannot_decode")) from None
        title = Text(t("image.title", number=request.number) + " · ")
        title.append_text(safe_line(request.report.report, style="bold"))
        self.push_screen(ImageScreen(t, title, picture))

    @work(group="logout", exclusive=True, exit_on_error=False)
    async def logout(self) -> None:
        """Log the device out on the homeserver, wipe what is kept locally, ask to log in."""
        gateway = self.gateway
        if gateway is None:
            self.notify(self.i18n("desk.not_connected"), severity="warning", markup=False)
            return
        await gateway.logout()  # raises (and nothing is deleted) when the server refused
        self.gateway = None
        self.desk.forget_everything()
        self._known = self._unread = None
        self.settings = self.settings.model_copy(update={"password": None})
        self.notify(self.i18n("logout.done"), markup=False, timeout=10)
        self.connect()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """The one place where errors from network work are shown to the coordinator."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            text = str(error) or type(error).__name__
            self.notify(
                text, title=self.i18n("error.title"), severity="error", markup=False, timeout=10
            )
            if self.gateway is not None:
                self._refresh()

    # -- messages up --------------------------------------------------------------------

    def _gateway_changed(self) -> None:
        self.post_message(self.GatewayChanged())

    @on(GatewayChanged)
    def _on_gateway_changed(self) -> None:
        self._refresh()

    @on(DeskScreen.ReportOpened)
    def _report_opened(self, event: DeskScreen.ReportOpened) -> None:
        self._opened = event.root_event_id
        shown = self.desk.current
        # Only opening an unread report changes anything (it is marked read): moving through
        # read ones must not cost a pass over every report.
        if shown is None or shown.root_event_id != self._opened or shown.unread:
            self._refresh()

    @on(DeskScreen.ReplyRequested)
    def _reply_requested(self, event: DeskScreen.ReplyRequested) -> None:
        self.send_reply(event.report, event.text)

    @on(DeskScreen.ImageRequested)
    def _image_requested(self, event: DeskScreen.ImageRequested) -> None:
        self.show_or_save_image(event)

    @on(DeskScreen.CommandRequested)
    def _command_requested(self, event: DeskScreen.CommandRequested) -> None:
        self.send_command(event.report, event.command)

    @on(PoliceScreen.PublishRequested)
    def _publish_bulletin(self, event: PoliceScreen.PublishRequested) -> None:
        item = event.item
        self._open_composer(
            ComposerScreen(
                self.i18n,
                self._wijk_slugs(),
                wijk=item.wijk,
                text=item.text,
                category="politie",
                bulletin=item.label,
                keymap=dict(self.settings.keys),
            )
        )

    @on(ComposerScreen.RoomCommand)
    def _room_command(self, event: ComposerScreen.RoomCommand) -> None:
        self.send_to_room(event.wijk, "wijk", event.text)

    @on(OverviewScreen.StatsRequested)
    def _stats_requested(self) -> None:
        for wijk in self._wijk_slugs():
            self.send_to_room(wijk, "desk", commands.STATS)
        self.notify(self.i18n("overview.stats_asked"), markup=False)

    def _wijk_slugs(self) -> list[str]:
        gateway = self.gateway
        if gateway is None:
            return []
        slugs = {w.slug for w in gateway.wijken()} | {r.wijk for r in self.desk.reports}
        return sorted(s for s in slugs if s)

    def _refresh(self) -> None:
        """Push the gateway's reports and state down to the desk."""
        gateway = self.gateway
        if gateway is None:
            return
        reports = gateway.reports()
        opened = next((r for r in reports if r.root_event_id == self._opened), None)
        if opened is not None and opened.unread and self.desk.selected == self._opened:
            # The coordinator has this report open: what arrives in it is seen.
            gateway.mark_read(opened)
            reports = gateway.reports()
        self._announce_new(reports)
        self._ring_for_new(reports)
        slugs = {w.slug for w in gateway.wijken()} | {r.wijk for r in reports if r.wijk}
        self.desk.wijk_choices = tuple(sorted(slugs))
        self.desk.reports = tuple(reports)
        self.desk.connection = gateway.state
        for screen in self.screen_stack:
            if isinstance(screen, PoliceScreen):
                screen.items = tuple(gateway.police_items())
            elif isinstance(screen, ComposerScreen):
                screen.broadcasts = tuple(gateway.broadcasts())
            elif isinstance(screen, OverviewScreen):
                self._fill_overview(screen, gateway)

    def _fill_overview(self, screen: OverviewScreen, gateway: Gateway) -> None:
        screen.reports = tuple(self.desk.reports)
        screen.stats = tuple(gateway.stats())
        screen.wijken = tuple(w.slug for w in gateway.wijken())

    def _announce_new(self, reports: list[Report]) -> None:
        """A toast for each report that arrived, and each police reply that came in, since
        the last look (not those at start-up)."""
        # Few reports have a police reply: only those are compared (by the latest reply's id).
        replied = {r.root_event_id: r for r in reports if r.police_reply is not None}
        before = self._police_replies
        self._police_replies = {key: r.police_reply for key, r in replied.items()}
        if self._known is None:
            self._police_replies = None
            return  # still starting: what the first sync brings is not news
        if before is not None:
            answered = [r for key, r in replied.items() if before.get(key) != r.police_reply]
            for report in answered[:3]:
                line = self.i18n("desk.police_replied", report=safe_line(report.report).plain)
                self.notify(line, markup=False, timeout=10)
        new = [r for r in reports if r.root_event_id not in self._known]
        for report in new[:3]:  # a burst is not a flood of toasts
            title = "desk.new_urgent_report" if report.urgent else "desk.new_report"
            # Untrusted names pass through safe_line: escapes become visible markers.
            line = safe_line(f"{report.report} · {report.pseudonym} ({report.wijk})").plain
            self.notify(
                line,
                title=self.i18n(title),
                severity="warning" if report.urgent else "information",
                markup=False,
            )
        self._known = {r.root_event_id for r in reports}

    def _ring_for_new(self, reports: Iterable[Report]) -> None:
        unread = {r.root_event_id for r in reports if r.unread}
        if self.settings.bell and self._unread is not None and unread - self._unread:
            self.bell()
        self._unread = unread

    # -- actions and command palette ----------------------------------------------------

    def action_reconnect(self) -> None:
        """Drop the connection and connect again."""
        self.connect()

    def action_logout(self) -> None:
        """After a confirmation: log this device out and delete its session and store."""
        t = self.i18n
        options = [("logout", t("logout.yes")), ("stay", t("logout.no"))]

        def chosen(choice: str | None) -> None:
            if choice == "logout":
                self.logout()

        screen = ChoiceScreen(t, t("logout.title"), options, explain=t("logout.explain"))
        self.push_screen(screen, chosen)

    def action_show_desk(self) -> None:
        """Back to the desk (closing the police room, composer or overview)."""
        while len(self.screen_stack) > 1 and self.screen is not self.desk:
            self.pop_screen()

    def action_show_police(self) -> None:
        """The police & gemeente room."""
        self.action_show_desk()
        screen = PoliceScreen(self.i18n, clock=self.clock)
        if self.gateway is not None:
            screen.items = tuple(self.gateway.police_items())
        self.push_screen(screen)

    def action_show_composer(self) -> None:
        """A new wijk message."""
        keymap = dict(self.settings.keys)
        self._open_composer(ComposerScreen(self.i18n, self._wijk_slugs(), keymap=keymap))

    def _open_composer(self, screen: ComposerScreen) -> None:
        self.action_show_desk()
        if self.gateway is not None:
            screen.broadcasts = tuple(self.gateway.broadcasts())
        self.push_screen(screen)

    def action_show_overview(self) -> None:
        """Figures per wijk."""
        self.action_show_desk()
        screen = OverviewScreen(self.i18n, clock=self.clock)
        if self.gateway is not None:
            self._fill_overview(screen, self.gateway)
        self.push_screen(screen)

    def action_help(self) -> None:
        """Every key, as remapped in the settings."""
        if isinstance(self.screen, HelpScreen):
            return
        t = self.i18n
        sections = [
            (t(f"help.section.{name}"), [b for b in bindings if isinstance(b, Binding)])
            for name, bindings in help_sections()
        ]
        self.push_screen(HelpScreen(t, sections, dict(self.settings.keys)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No screenshots: Textual's would write the screen, report text included, to an SVG
        file outside bintui's private store. F2 is left out of the desk's own footer."""
        if action in {"screenshot", "deliver_screenshot"}:
            return False
        if action == "show_desk":
            return self.screen is not self.desk
        # F3/F4/F5 on their own screen would only open it afresh (losing a typed message).
        opened = {"show_police": PoliceScreen, "show_composer": ComposerScreen}
        opened["show_overview"] = OverviewScreen
        if action in opened:
            return not isinstance(self.screen, opened[action])
        return True

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Disabled (see `check_action`): whatever calls it, no file is written."""

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """Disabled (see `check_action`)."""
        return None

    def action_help_quit(self) -> None:
        """Ctrl+C does not quit: say (in the app's language) which key does."""
        keys = [k for k, b in self.active_bindings.items() if b.binding.action == "quit"]
        key = keys[0] if keys else "ctrl+q"
        self.notify(self.i18n("quit.how", keys=key_label_of(key)), markup=False)

    def action_command_palette(self) -> None:
        """The command palette, in the app's language."""
        if self.use_command_palette and not CommandPalette.is_open(self):  # type: ignore[arg-type]
            self.push_screen(BinCommandPalette(self.i18n))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Only what a coordinator needs, translated; no screenshot (see `check_action`)."""
        t = self.i18n
        yield SystemCommand(t("binding.app.help"), t("command.help.help"), self.action_help)
        yield SystemCommand(t("binding.app.quit"), t("command.quit.help"), self.action_quit)
        if isinstance(screen, DeskScreen):
            yield SystemCommand(t("binding.desk.send"), t("command.send.help"), screen.action_send)
            yield SystemCommand(
                t("binding.desk.next_unread"),
                t("command.next_unread.help"),
                screen.action_next_unread,
            )
            for action in DESK_ACTIONS:
                yield SystemCommand(
                    t(f"command.{action}.title"),
                    t(f"command.{action}.help"),
                    getattr(screen, f"action_{action}"),
                )
        yield SystemCommand(
            t("binding.app.reconnect"), t("command.reconnect.help"), self.action_reconnect
        )
        yield SystemCommand(t("binding.app.logout"), t("command.logout.help"), self.action_logout)


def run_app(settings: ClientSettings) -> None:
    """Run the client in the terminal with these settings (logged in if they allow it)."""
    BinTuiApp(settings).run()
