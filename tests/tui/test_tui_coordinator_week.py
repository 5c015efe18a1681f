"""A coordinator's week in bintui, end to end: the real app, its real MatrixGateway, the real
Synapse and the real bot, with members and a police officer played by nio clients.

Every step is driven with the keys a coordinator presses (the ones in the footer and the
Dutch guide, docs/handleiding-coordinator.md) and checked at both ends: what the screen shows,
and what members and police actually receive.
"""

from __future__ import annotations

import asyncio
import io
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nio
import pytest
from PIL import Image
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Input, Static, TextArea

from bintui.app import BinTuiApp
from bintui.gateway import Report
from bintui.matrix_gateway import MatrixGateway, account_dir
from bintui.screens.actions import ChoiceScreen, ForwardScreen, PathScreen
from bintui.screens.composer import ComposerScreen, ConfirmBroadcast
from bintui.screens.identity import RecoveryKeyScreen
from bintui.screens.login import LoginScreen
from bintui.screens.overview import OverviewScreen, WijkPanel
from bintui.screens.police import PoliceScreen
from bintui.settings import ClientSettings
from bintui.widgets.report_table import ReportTable
from bridge.homeserver import EmbeddedHomeserver
from tests.conftest import MakeAccount
from tests.integration.harness import Member, User, client_api, running_world

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

MEMBERS = 5
REPORTS = [
    "Witte bestelbus staat al uren bij de basisschool, kenteken begint met V.",
    "Vannacht is de schuur van nummer 12 opengebroken.",
    "Jongeren gooien stenen naar de bushalte aan de Dorpsstraat.",
    "Iemand belde aan en zei van het waterbedrijf te zijn, zonder pasje.",
    "Een oudere buurvrouw is sinds gisteren niet meer gezien.",
    "Auto met open raam staat al drie dagen op het pleintje.",
    "Graffiti op de muur van het buurthuis.",
    "Harde muziek elke nacht na twee uur bij de flat.",
    "Fiets zonder slot tegen mijn hek gezet, niet van mij.",
    "Straatlantaarn bij het park is stuk, het is daar erg donker.",
]
BULLETINS = [
    "Inbraakgolf: let op schuurtjes en tuindeuren in Oost. Meld verdachte situaties.",
    "Woensdag 19:00 spreekuur van de wijkagent in het buurthuis.",
]
BROADCAST = "Let op: babbeltrucs aan de deur. Vraag altijd om een pasje."


async def eventually(
    check: Callable[[], Any],
    timeout: float = 30,  # noqa: ASYNC109
    what: str = "a condition",
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def plain(widget: Static) -> str:
    content = widget.content
    return content.plain if isinstance(content, Text) else str(content)


class Desk:
    """The coordinator at the keyboard: small steps of the week, each checked on screen."""

    def __init__(self, app: BinTuiApp, pilot: Pilot[None]) -> None:
        self.app = app
        self.pilot = pilot

    def report(self, label: str) -> Report:
        found = [r for r in self.app.desk.reports if r.report == label]
        assert found, f"{label} is not in the desk"
        return found[0]

    async def until(self, label: str, check: Callable[[Report], bool], what: str) -> Report:
        def matches() -> Report | None:
            found = [r for r in self.app.desk.reports if r.report == label]
            return found[0] if found and check(found[0]) else None

        report: Report = await eventually(matches, what=f"{label}: {what}")
        return report

    async def open(self, label: str) -> None:
        """Search the list for the report's number (/, type, Enter): the one row is selected."""
        await self.pilot.press("ctrl+l", "slash", "escape", "slash", *label, "enter")
        await eventually(
            lambda: self.app.desk.current is not None and self.app.desk.current.report == label,
            what=f"{label} on display",
        )

    async def answer(self, label: str, text: str) -> None:
        await self.open(label)
        await self.pilot.press("enter")
        for number, line in enumerate(text.split("\n")):
            await self.pilot.press(*(["enter"] if number else []), *line)
        composer = self.app.desk.query_one("#composer", TextArea)
        assert composer.has_focus and composer.text == text
        await self.pilot.press("ctrl+s")
        await eventually(lambda: not composer.text, what="the composer emptied once sent")
        await self.pilot.press("ctrl+l")
        await self.until(
            label,
            lambda r: any(i.role == "coordinator" and i.text == text for i in r.items),
            "the answer in the thread",
        )

    async def choose(self, key: str, value: str) -> None:
        """A status or category dialog: move to `value` and take it."""
        await self.pilot.press(key)
        dialog = await eventually(
            lambda: isinstance(self.app.screen, ChoiceScreen) and self.app.screen,
            what="the choice dialog",
        )
        assert isinstance(dialog, ChoiceScreen)
        values = [v for v, _ in dialog.options]
        start = values.index(dialog.current) if dialog.current in values else 0
        target = values.index(value)
        await self.pilot.press(*(["down"] * (target - start) or ["up"] * (start - target)))
        await self.pilot.press("enter")


async def test_a_coordinator_week_in_bintui_against_the_real_bot(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path, broadcast_undo_seconds=0) as world:
        coordinator = world.coordinator("oost")
        officer: User = next(iter(world.police.values()))
        police_room = world.room("oost", "police")
        settings = ClientSettings(
            homeserver=homeserver.url,
            user_id=coordinator.user_id,
            password=coordinator.account.password,
            data_dir=tmp_path / "bintui",
            bot_user_id=world.settings.bot.user_id,
        )
        app = BinTuiApp(settings, gateway_factory=lambda s: MatrixGateway(s, sync_timeout_ms=1000))
        async with app.run_test(size=(120, 40)) as pilot:
            desk = Desk(app, pilot)

            # -- Monday: the first start. The identity is created; the recovery key shown once.
            await eventually(
                lambda: isinstance(app.screen, RecoveryKeyScreen), what="the recovery key"
            )
            await pilot.press("enter")
            gateway = await eventually(
                lambda: (
                    app.gateway
                    and [w for w in app.gateway.wijken() if w.desk and w.police and w.wijk]
                    and app.gateway
                ),
                what="the wijk's three rooms",
            )
            assert app.desk.reports == ()

            # -- Ten reports arrive live, from five members (two conversations each).
            members: list[Member] = []
            for _ in range(MEMBERS):
                members.append(await world.signed_up_member(make_account, "oost"))
            sender: dict[str, Member] = {}
            for number, text in enumerate(REPORTS, start=1):
                member = members[(number - 1) % MEMBERS]
                if number > MEMBERS:
                    await member.user.say(member.private_room, "!nieuw")
                await member.user.say(member.private_room, text)
                label = f"M-{number:04d}"
                await desk.until(label, lambda r: True, "the new report")
                sender[label] = member
            table = app.desk.query_one("#reports", ReportTable)
            assert table.row_count == len(REPORTS)
            shown = {r.report: r for r in app.desk.reports}
            assert sorted(shown) == [f"M-{n:04d}" for n in range(1, 11)]
            for number, text in enumerate(REPORTS, start=1):
                report = shown[f"M-{number:04d}"]
                assert (report.status, report.wijk, report.items[0].text) == ("nieuw", "oost", text)
                assert report.unread
            # One pseudonym per conversation: a member's two reports are not linkable by name.
            assert len({r.pseudonym for r in app.desk.reports}) == len(REPORTS)

            # -- Answers: typed in the composer under the thread, delivered to the member.
            answers = {
                "M-0001": "Dank je, we kijken ernaar.\nDe wijkagent is ingelicht.",
                "M-0003": "Dank voor je melding. Bel bij gevaar 112.",
                "M-0006": "We hebben het doorgegeven aan de gemeente.",
                "M-0010": "Gemeld bij de gemeente (openbare verlichting).",
            }
            for label, text in answers.items():
                await desk.answer(label, text)
                member = sender[label]
                got = await member.user.wait_for_event(
                    lambda e, label=label, member=member: (
                        e.room_id == member.private_room
                        and e.fields.get("kind") == "answer"
                        and e.fields.get("report") == label
                    ),
                    what=f"the answer to {label}",
                )
                assert got.fields["text"] == text
                assert coordinator.user_id not in str(got.content)  # unsigned: nobody's name
                assert not desk.report(label).unread

            # -- A member adds a photo (cleaned by the bot); the coordinator saves it (e).
            photographer = sender["M-0010"]  # M-0010 is that member's open conversation
            await send_photo(photographer)
            with_photo = await desk.until(
                "M-0010", lambda r: any(i.media == "image" for i in r.items), "the photo"
            )
            await desk.open("M-0010")
            await pilot.press("e")
            dialog = await eventually(
                lambda: isinstance(app.screen, PathScreen) and app.screen, what="where to save"
            )
            assert isinstance(dialog, PathScreen)
            assert dialog.suggested.name == "bin-M-0010-foto-1.jpg"
            target = tmp_path / "bewaard" / "foto.jpg"
            dialog.query_one("#path", Input).value = str(target)
            await pilot.press("enter")
            saved = await eventually(lambda: file_facts(target), what="the saved photo")
            assert saved[1] == 0o600 and saved[0].startswith(b"\xff\xd8")  # the bot's JPEG
            assert b"Exif" not in saved[0]
            assert with_photo.pseudonym.encode() not in saved[0]

            # -- Claim and categorise (n, c), status by hand (s).
            categories = {
                "M-0001": "verdachte situatie",
                "M-0002": "inbraak",
                "M-0003": "vernieling",
                "M-0004": "oplichting/babbeltruc",
                "M-0008": "overlast",
            }
            for label, category in categories.items():
                await desk.open(label)
                await pilot.press("n")
                await desk.until(label, lambda r: r.handler == coordinator.user_id, "the claim")
                await desk.choose("c", category)
                current = await desk.until(
                    label, lambda r, c=category: r.category == c, "the category"
                )
                assert current.status == "in behandeling"
                title = plain(app.desk.query_one("#thread-title", Static))
                assert label in title and category in title
                assert coordinator.user_id.lstrip("@").split(":")[0] in title

            # -- Forward two to the police, the text edited and a note added (d).
            forwards = {
                "M-0001": ("Witte bestelbus al uren bij de basisschool.", "kenteken volgt"),
                "M-0002": ("Schuur opengebroken in Oost, vannacht.", "tweede deze maand"),
            }
            for label, (text, note) in forwards.items():
                await desk.open(label)
                await pilot.press("d")
                dialog = await eventually(
                    lambda: isinstance(app.screen, ForwardScreen) and app.screen,
                    what="the forward dialog",
                )
                assert isinstance(dialog, ForwardScreen)
                await pilot.press("f7", *text, "tab", *note, "enter")
                await desk.until(label, lambda r: r.status == "doorgestuurd", "forwarded")
                received = await officer.wait_for_event(
                    lambda e, label=label: (
                        e.room_id == police_room
                        and e.fields.get("kind") == "forward"
                        and e.fields.get("report") == label
                    ),
                    what=f"the forward of {label} in the police room",
                )
                assert (received.fields["text"], received.fields["note"]) == (text, note)
                assert "pseudonym" not in received.fields  # the police see the number only
                assert desk.report(label).pseudonym not in str(received.content)
                # The member's original words stay with the coordinators.
                assert REPORTS[int(label[2:]) - 1] not in str(received.content)

            # The police answer the first forward; it shows in the report's thread.
            first_forward = await officer.wait_for_event(
                lambda e: e.room_id == police_room and e.fields.get("report") == "M-0001",
                what="the forward",
            )
            await officer.reply_in_thread(police_room, first_forward.event_id, "We rijden langs.")
            await desk.until(
                "M-0001",
                lambda r: any(i.role == "police" and i.text == "We rijden langs." for i in r.items),
                "the police reply in the thread",
            )
            # M-0002 is open: M-0001 gets the unread marker, and a toast says who answered.
            await desk.until("M-0001", lambda r: r.unread, "the police reply marks it unread")
            toast = "Politie antwoordde op M-0001"
            await eventually(
                lambda: any(n.message == toast for n in app._notifications),
                what="the toast for the police reply",
            )

            # -- Close three (s → afgehandeld).
            closed = ["M-0003", "M-0006", "M-0010"]
            for label in closed:
                await desk.open(label)
                await desk.choose("s", "afgehandeld")
                await desk.until(label, lambda r: r.status == "afgehandeld", "closed")

            # -- Two police bulletins, published to the wijk (F3, p; one edited first).
            for text in BULLETINS:
                await officer.say(police_room, text)
            await pilot.press("f3")
            police = await eventually(
                lambda: (
                    isinstance(app.screen, PoliceScreen)
                    and len([i for i in app.screen.items if i.kind == "bulletin"]) == 2
                    and app.screen
                ),
                what="two bulletins in the police room",
            )
            assert isinstance(police, PoliceScreen)
            kinds = sorted(i.kind for i in police.items)
            assert kinds == ["bulletin", "bulletin", "forward", "forward", "police_reply"]
            published = []
            for number, edit in ((1, None), (2, " Iedereen welkom.")):
                await pilot.press("f3")
                police = await eventually(
                    lambda: isinstance(app.screen, PoliceScreen) and app.screen,
                    what="the police room",
                )
                assert isinstance(police, PoliceScreen)
                bulletin = next(i for i in police.items if i.label == f"B-{number:04d}")
                police.selected = bulletin.event_id
                await pilot.pause()
                await pilot.press("p")
                composer = await eventually(
                    lambda: isinstance(app.screen, ComposerScreen) and app.screen,
                    what="the composer with the bulletin",
                )
                assert isinstance(composer, ComposerScreen)
                assert composer.text == bulletin.text and composer.category == "politie"
                if edit:
                    await pilot.press("ctrl+e", *edit)
                text = bulletin.text + (edit or "")
                label = f"W-{number:04d}"
                await send_broadcast(app, pilot, label)
                published.append((label, text))
            for label, text in published:
                for member in members:
                    got = await member.user.wait_for_event(
                        lambda e, label=label, member=member: (
                            e.room_id == member.private_room
                            and e.fields.get("kind") == "broadcast"
                            and e.fields.get("report") == label
                        ),
                        what=f"{label} at a member",
                    )
                    assert got.fields["text"] == text

            # -- A wijk message of the coordinator's own (F4).
            await pilot.press("f4")
            await eventually(lambda: isinstance(app.screen, ComposerScreen), what="composer")
            await pilot.press(*BROADCAST)
            await send_broadcast(app, pilot, "W-0003")
            for member in members:
                got = await member.user.wait_for_event(
                    lambda e, member=member: (
                        e.room_id == member.private_room and e.fields.get("report") == "W-0003"
                    ),
                    what="the wijk message at a member",
                )
                assert (got.fields["kind"], got.fields["text"]) == ("broadcast", BROADCAST)
            (done,) = [b for b in gateway.broadcasts() if b.label == "W-0003"]
            assert (done.phase, done.delivered, done.total) == ("done", MEMBERS, MEMBERS)

            # -- A block (b, Enter): the member is told, and what they send next never arrives.
            await pilot.press("f2")
            blocked_label = "M-0008"
            blocked = sender[blocked_label]
            await desk.open(blocked_label)
            await pilot.press("b")
            await eventually(lambda: isinstance(app.screen, ChoiceScreen), what="block dialog")
            await pilot.press("enter")
            await blocked.user.wait_for_event(
                lambda e: e.room_id == blocked.private_room and "geblokkeerd" in e.body,
                what="the member told of the block",
            )
            await desk.until(blocked_label, lambda r: r.blocked, "the block in the desk")
            title = plain(app.desk.query_one("#thread-title", Static))
            assert "GEBLOKKEERD" in title
            assert blocked.user_id not in title
            before = {r.report: len(r.items) for r in app.desk.reports}
            notices = len(
                [e for e in blocked.user.in_room(blocked.private_room) if "geblokkeerd" in e.body]
            )
            await blocked.user.say(blocked.private_room, "Nog een scheldpartij van mij")
            await blocked.user.wait_for(
                lambda: (
                    len(
                        [
                            e
                            for e in blocked.user.in_room(blocked.private_room)
                            if "geblokkeerd" in e.body
                        ]
                    )
                    > notices
                ),
                what="the blocked member's notice",
            )
            # Another member's message after it does arrive: the desk has caught up by then.
            # (M-0007 is that member's open conversation, so it joins it.)
            other = sender["M-0007"]
            await other.user.say(other.private_room, "Nog een aanvulling op mijn melding.")
            await desk.until(
                "M-0007",
                lambda r: r.items[-1].text == "Nog een aanvulling op mijn melding.",
                "the other member's message",
            )
            texts = [i.text for r in app.desk.reports for i in r.items]
            assert not any("scheldpartij" in t for t in texts)
            assert len(app.desk.reports) == len(REPORTS)
            assert len(desk.report(blocked_label).items) == before[blocked_label]

            # -- The overview (F5, r asks the bot for its figures).
            await pilot.press("f5")
            overview = await eventually(
                lambda: isinstance(app.screen, OverviewScreen) and app.screen, what="overview"
            )
            assert isinstance(overview, OverviewScreen)
            await pilot.press("r")

            def panel_text() -> str:
                panels = list(app.screen.query(WijkPanel))
                if len(panels) != 1:
                    return ""
                return "\n".join(plain(s) for s in panels[0].query(Static))

            text = await eventually(
                lambda: f"Leden: {MEMBERS}" in panel_text() and panel_text(),
                what="the member count from the bot",
            )
            open_count = len(REPORTS) - len(closed)
            assert f"Open meldingen: {open_count} van {len(REPORTS)}" in text
            assert "Gemiddelde tijd tot eerste antwoord: " in text
            assert "nog geen antwoorden" not in text
            assert f"(oud → nieuw): 0 · 0 · 0 · 0 · 0 · 0 · 0 · {len(REPORTS)}" in text

            # -- The end of a volunteer's term: F9 logs the device out and wipes the folder.
            token = coordinator_token(app)
            await pilot.press("escape", "f9")
            await eventually(lambda: isinstance(app.screen, ChoiceScreen), what="the question")
            await pilot.press("enter")
            await eventually(lambda: isinstance(app.screen, LoginScreen), what="the login")
            assert app.desk.reports == ()
            assert not folder_exists(account_dir(settings.data_dir, coordinator.user_id))
            status, _ = await client_api(
                homeserver.url, token, "GET", "/_matrix/client/v3/account/whoami"
            )
            assert status == 401

        # Nothing of a member's identity reached the coordinator's screen or the police.
        for member in members:
            for event in officer.events:
                assert member.user_id not in str(event.content)


async def send_photo(member: Member) -> None:
    """A member sends a phone photo (with EXIF) into their private room, as Element does."""
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SENTINEL-camera"  # Make
    Image.new("RGB", (60, 30), (30, 140, 60)).save(out, format="JPEG", exif=exif)
    data = out.getvalue()
    uploaded, keys = await member.user.client.upload(
        io.BytesIO(data), content_type="image/jpeg", encrypt=True, filesize=len(data)
    )
    assert isinstance(uploaded, nio.UploadResponse) and keys is not None
    await member.user.send(
        member.private_room,
        {
            "msgtype": "m.image",
            "body": "IMG_20261201_thuis.jpg",
            "file": {"url": uploaded.content_uri, **keys},
            "info": {"mimetype": "image/jpeg", "size": len(data)},
        },
    )


def file_facts(path: Path) -> tuple[bytes, int] | None:
    """A file's bytes and mode, once it exists."""
    if not path.is_file():
        return None
    return path.read_bytes(), stat.S_IMODE(path.stat().st_mode)


def folder_exists(path: Path) -> bool:
    return path.exists()


def coordinator_token(app: BinTuiApp) -> str:
    gateway = app.gateway
    assert isinstance(gateway, MatrixGateway) and gateway._client is not None
    return str(gateway._client.access_token)


async def send_broadcast(app: BinTuiApp, pilot: Pilot[None], label: str) -> None:
    """Ctrl+S asks the bot for a preview; confirm with Enter; wait for the delivery count."""
    await pilot.press("ctrl+s")
    confirm = await eventually(
        lambda: (
            isinstance(app.screen, ConfirmBroadcast)
            and app.screen.query(".dialog-title")
            and app.screen
        ),
        what=f"the confirmation of {label}, composed",
    )
    assert isinstance(confirm, ConfirmBroadcast)
    assert (confirm.broadcast.label, confirm.broadcast.recipients) == (label, MEMBERS)
    title = plain(confirm.query_one(".dialog-title", Static))
    assert str(MEMBERS) in title
    await pilot.pause()
    await pilot.press("enter")
    composer = await eventually(
        lambda: isinstance(app.screen, ComposerScreen) and app.screen, what="the composer"
    )
    assert isinstance(composer, ComposerScreen)
    status = composer.query_one("#composer-status", Static)
    expected = f"{label}: afgeleverd aan {MEMBERS} van {MEMBERS} leden."
    await eventually(lambda: expected in plain(status), what=f"the delivery count of {label}")
    # Delivered: an empty editor for the next message, nothing left to confirm or stop.
    await eventually(
        lambda: composer.query_one("#composer-text", TextArea).text == "",
        what=f"the composer emptied after {label}",
    )
    assert composer.check_action("confirm", ()) is False
    assert composer.check_action("stop", ()) is False
