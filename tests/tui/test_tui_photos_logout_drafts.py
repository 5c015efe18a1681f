"""A member's photo saved or shown, logging out, and unsent answers encrypted at rest."""

from __future__ import annotations

import io
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from textual.app import App
from textual.widgets import Input, Static, TextArea

from bintui.gateway import MediaFile, Report, ThreadItem
from bintui.local_cache import DRAFT_DAYS, DraftStore, new_key
from bintui.media_view import CannotShow, half_blocks, suggested_name
from bintui.screens.actions import ChoiceScreen, ImageScreen, PathScreen
from bintui.screens.login import LoginScreen
from bintui.widgets.key_footer import footer_keys

from .fakes import FakeGateway, report
from .helpers import make_app

PHOTO = MediaFile("mxc://localhost/abc", "k", "iv", "sha", "image/png")


def png(width: int = 8, height: int = 6) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.putpixel((0, 0), (0, 0, 255))
    image.save(out, format="PNG")
    return out.getvalue()


def saved(path: Path) -> tuple[bytes, int, int]:
    """A saved file's bytes, its mode and its folder's mode."""
    return (
        path.read_bytes(),
        stat.S_IMODE(path.stat().st_mode),
        stat.S_IMODE(path.parent.stat().st_mode),
    )


def with_photo(number: int = 3, others: tuple[Report, ...] = ()) -> FakeGateway:
    base = report(number, "Rode Vos", "Kijk, deze auto.")
    photo = ThreadItem(
        "$photo", "member", "Rode Vos", "", base.opened_ts + 5, media="image", file=PHOTO
    )
    gateway = FakeGateway([replace(base, items=[*base.items, photo]), *others])
    gateway.media[PHOTO.url] = png()
    return gateway


async def test_a_photo_is_saved_to_a_private_file_where_the_coordinator_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/Downloads: the data dir
    gateway = with_photo()
    app, _ = make_app(gateway, tmp_path=tmp_path / "data")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, PathScreen)
        suggested = Path(dialog.query_one("#path", Input).value)
        assert suggested == tmp_path / "data" / "media" / "bin-M-0003-foto-1.png"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert saved(suggested) == (png(), 0o600, 0o700)
        # Saving again never overwrites: the coordinator is told to pick another name.
        await pilot.press("e", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("bestaat al" in m for m in messages)
        assert saved(suggested)[0] == png()


async def test_a_photo_is_shown_with_half_blocks_and_escape_closes_it(tmp_path: Path) -> None:
    app, _ = make_app(with_photo(), tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("i")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ImageScreen)
        picture = app.screen.query_one("#image", Static).content
        assert "▀" in str(picture)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ImageScreen)


async def test_a_report_without_a_photo_says_so(tmp_path: Path) -> None:
    app, _ = make_app(FakeGateway([report(1, "Rode Vos", "Geen foto")]), tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("i")
        await pilot.pause()
        assert any("geen foto" in n.message for n in app._notifications)


def footer(app: App[None]) -> dict[str, str]:
    """The footer's keys with their labels, as on screen now."""
    return footer_keys(app.screen)


def photo_and_plain() -> FakeGateway:
    """M-0003 with a photo on top of the list, M-0001 without one below it."""
    return with_photo(others=(report(1, "Gele Uil", "Geen foto", minutes_ago=60),))


@pytest.mark.parametrize(
    ("language", "labels"),
    [
        ("nl", ("Foto", "Opslaan", "Antwoord")),
        ("en", ("Photo", "Save", "Answer")),
    ],
)
async def test_the_footer_offers_the_photo_keys_only_for_a_report_with_a_photo(
    tmp_path: Path, language: str, labels: tuple[str, str, str]
) -> None:
    view, save, answer = labels  # the footer's short labels (F1 help has the long ones)
    app, _ = make_app(photo_and_plain(), tmp_path=tmp_path, language=language)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.selected == "$root3"
        keys = footer(app)
        assert (keys["i"], keys["e"]) == (view, save)
        assert keys["ctrl+o"] == answer
        # At 80 columns the photo keys are in view, right after 'n', not scrolled away.
        order = list(keys)
        assert order[:3] == ["n", "i", "e"]

        await pilot.press("down")  # M-0001: no photo
        await pilot.pause()
        assert app.screen.selected == "$root1"
        keys = footer(app)
        assert "i" not in keys and "e" not in keys
        assert keys["ctrl+o"] == answer

        await pilot.press("up")
        await pilot.pause()
        assert {"i", "e"} <= footer(app).keys()


async def test_a_photo_key_on_a_report_without_a_photo_says_so_once(tmp_path: Path) -> None:
    app, _ = make_app(photo_and_plain(), tmp_path=tmp_path, keys={"desk.view_image": "v"})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "v" in footer(app) and "i" not in footer(app)  # remapped in the settings
        await pilot.press("down", "v", "i", "e")
        await pilot.pause()
        said = [n.message for n in app._notifications if "geen foto" in n.message]
        assert len(said) == 2  # 'v' and 'e'; 'i' is no photo key any more
        assert app.screen.query_one("#reports").has_focus
        # A photo arriving in the report on display brings the keys into the footer.
        gateway = app.gateway
        assert isinstance(gateway, FakeGateway)
        plain = next(r for r in gateway.reports() if r.root_event_id == "$root1")
        photo = ThreadItem(
            "$photo1", "member", "Gele Uil", "", plain.opened_ts + 5, media="image", file=PHOTO
        )
        others = [r for r in gateway.reports() if r is not plain]
        gateway.push([*others, replace(plain, items=[*plain.items, photo])])
        await pilot.pause()
        assert app.screen.selected == "$root1"
        assert {"v", "e"} <= footer(app).keys()


def test_half_blocks_fit_the_box_and_refuse_what_is_not_an_image() -> None:
    picture = half_blocks(png(100, 40), columns=20, rows=5)
    lines = picture.plain.split("\n")
    assert len(lines) <= 5 and max(len(line) for line in lines) <= 20
    assert set(picture.plain) <= {"▀", "\n"}
    with pytest.raises(CannotShow):
        half_blocks(b"\x1b[2Jnot an image", 20, 5)


def test_a_suggested_file_name_holds_the_report_number_only() -> None:
    assert suggested_name("M-0003", 2, "image/jpeg") == "bin-M-0003-foto-2.jpg"
    assert suggested_name("../../etc/M-1", 1, "image/png") == "bin-etcM-1-foto-1.png"


async def test_logout_asks_first_then_wipes_the_desk_and_asks_for_a_login(
    tmp_path: Path,
) -> None:
    gateway = FakeGateway([report(1, "Rode Vos", "Melding")])
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f9")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceScreen)
        explain = str(app.screen.query_one(".dialog-explain", Static).content)
        assert "herstelsleutel" in explain
        await pilot.press("down", "enter")  # "stay logged in"
        await pilot.pause()
        assert not gateway.logged_out and app.desk.reports
        await pilot.press("f9", "enter")
        for _ in range(50):  # the login screen waits for the coordinator: no worker ends
            await pilot.pause(0.05)
            if isinstance(app.screen, LoginScreen):
                break
        assert gateway.logged_out
        assert app.desk.reports == ()
        assert isinstance(app.screen, LoginScreen)


async def test_a_refused_logout_deletes_nothing_and_says_why(tmp_path: Path) -> None:
    gateway = FakeGateway([report(1, "Rode Vos", "Melding")])
    gateway.logout_error = "not logged out, server unreachable"
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f9", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.desk.reports
        assert any("server unreachable" in n.message for n in app._notifications)


async def test_an_unsent_answer_survives_a_restart_and_is_gone_once_sent(tmp_path: Path) -> None:
    reports = [report(2, "Gele Uil", "Tweede"), report(1, "Rode Vos", "Eerste")]
    gateway = FakeGateway(reports)
    app, _ = make_app(gateway, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter", *"Half af", "ctrl+l")
        await pilot.pause()
        first = app.desk.selected
    assert gateway.drafts == {first: "Half af"}  # written on exit

    again = FakeGateway(reports)
    again.drafts = dict(gateway.drafts)
    app, _ = make_app(again, tmp_path=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        composer = app.desk.query_one("#composer", TextArea)
        assert composer.text == "Half af"
        await pilot.press("enter", *" en nu klaar", "ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.desk.selected == first
        assert again.replies == [(first, "Half af en nu klaar")]
        assert again.drafts == {}


def test_drafts_are_encrypted_private_and_kept_no_longer_than_needed(tmp_path: Path) -> None:
    now = [1_000_000.0]
    key = new_key()
    store = DraftStore(tmp_path / "drafts.bin", key, clock=lambda: now[0])
    store.save({"$a": "Geheim concept over de Beekstraat", "$b": "  "})
    blob = (tmp_path / "drafts.bin").read_bytes()
    assert b"Beekstraat" not in blob and b"$a" not in blob
    assert stat.S_IMODE((tmp_path / "drafts.bin").stat().st_mode) == 0o600
    assert DraftStore(tmp_path / "drafts.bin", key, clock=lambda: now[0]).load() == {
        "$a": "Geheim concept over de Beekstraat"
    }
    # Another session's key (after a logout and a new login) reads nothing.
    assert DraftStore(tmp_path / "drafts.bin", new_key()).load() == {}
    # Saving the same text again keeps its age; after DRAFT_DAYS it is dropped.
    now[0] += (DRAFT_DAYS - 1) * 86400
    store.save(store.load())
    now[0] += 2 * 86400
    assert store.load() == {}
    store.save({})
    assert not (tmp_path / "drafts.bin").exists()
