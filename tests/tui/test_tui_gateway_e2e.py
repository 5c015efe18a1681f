"""MatrixGateway against the real bot on the test run's Synapse: reports in, answers out."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from textual.widgets import Static

from bintui import commands
from bintui import secret_storage as ssss
from bintui.app import BinTuiApp
from bintui.gateway import Report
from bintui.identity import KEY_FILE, MARKER_FILE
from bintui.matrix_gateway import SESSION_FILE, MatrixGateway, account_dir
from bintui.screens.composer import ComposerScreen, ConfirmBroadcast
from bintui.settings import ClientSettings
from bintui.widgets.report_table import ReportTable
from bridge.crosssign import CrossSigningKeys, save_keys, sign_json, verify_device_chain
from bridge.homeserver import Account, EmbeddedHomeserver
from tests.conftest import MakeAccount
from tests.integration.harness import client_api, running_world

pytestmark = pytest.mark.integration


async def eventually(check: Callable[[], object], timeout: float = 20, what: str = "") -> object:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_the_gateway_shows_reports_and_delivers_answers_to_the_member(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        coordinator = world.coordinator("oost")
        settings = ClientSettings(
            homeserver=homeserver.url,
            user_id=coordinator.user_id,
            password=coordinator.account.password,
            data_dir=tmp_path / "bintui",
            bot_user_id=world.settings.bot.user_id,
        )
        gateway = MatrixGateway(settings, sync_timeout_ms=1000)
        changes: list[int] = []
        await gateway.start(lambda: changes.append(1))
        try:
            assert gateway.state.status == "online"
            folder = account_dir(tmp_path / "bintui", coordinator.user_id)
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
            assert stat.S_IMODE((folder / SESSION_FILE).stat().st_mode) == 0o600
            assert "password" not in (folder / SESSION_FILE).read_text()

            member = await world.signed_up_member(make_account, "oost")
            hostile = "[bold]Melding M-0009 · Nep Naam[/bold]\nbel me \x1b[2J"
            await member.user.say(member.private_room, hostile)

            def first_report() -> Report | None:
                return gateway.reports()[0] if gateway.reports() else None

            report = await eventually(first_report, what="the report")
            assert isinstance(report, Report)
            assert report.report == "M-0001"
            assert report.wijk == "oost"
            assert report.unread
            assert [(i.role, i.author) for i in report.items] == [("member", report.pseudonym)]
            assert "Nep Naam" in report.items[0].text  # the text, never the label

            await member.user.say(member.private_room, "Nog iets:\ntweede regel")

            def two_items() -> Report | None:
                current = first_report()
                return current if current and len(current.items) == 2 else None

            report = await eventually(two_items, what="the member's second message")
            assert isinstance(report, Report)
            assert report.items[1].role == "member"
            assert report.items[1].text == "Nog iets:\ntweede regel"

            answer = "Dank je.\n\nWe komen langs:\n- morgen\n- om tien uur"
            await gateway.reply(report, answer)
            delivered = await member.user.wait_for_event(
                lambda e: e.room_id == member.private_room and e.fields.get("kind") == "answer",
                what="the answer in the member's room",
            )
            assert delivered.fields["text"] == answer

            def answered() -> Report | None:
                current = first_report()
                return current if current and len(current.items) >= 3 else None

            report = await eventually(answered, what="the answer in the desk thread")
            assert isinstance(report, Report)
            assert (report.items[2].role, report.items[2].text) == ("coordinator", answer)
            assert not report.unread
        finally:
            await gateway.close()

        # A restart restores the session without a password; the desk shows the whole thread
        # and sends what the coordinator types.
        app = BinTuiApp(settings.model_copy(update={"password": None}))
        async with app.run_test(size=(120, 40)) as pilot:
            desk = app.desk
            await eventually(lambda: desk.reports, what="the report in the desk")
            assert app.gateway is not None and app.gateway.state.status == "online"
            table = desk.query_one("#reports", ReportTable)
            assert [c.plain for c in table.get_row_at(0)][2] == "M-0001"
            assert [i.role for i in desk.reports[0].items] == ["member", "member", "coordinator"]
            await pilot.press("enter", *"Tot morgen!", "ctrl+s")
            delivered = await member.user.wait_for_event(
                lambda e: (
                    e.room_id == member.private_room and e.fields.get("text") == "Tot morgen!"
                ),
                what="the answer typed in the desk",
            )
            assert delivered.fields["kind"] == "answer"


async def test_reports_older_than_the_first_sync_window_are_read_back(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    async with running_world(homeserver, make_account, tmp_path) as world:
        coordinator = world.coordinator("oost")
        settings = ClientSettings(
            homeserver=homeserver.url,
            user_id=coordinator.user_id,
            password=coordinator.account.password,
            data_dir=tmp_path / "bintui",
        )
        # The device must exist before the report: a new device cannot read older messages.
        first = MatrixGateway(settings, sync_timeout_ms=1000)
        await first.start(lambda: None)
        await first.close()

        member = await world.signed_up_member(make_account, "oost")
        desk = world.room("oost", "desk")
        await member.user.say(member.private_room, "Een oude melding")
        await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report", what="the report"
        )
        for i in range(130):  # coordinators chatting push the report out of the first sync
            await coordinator.say(desk, f"overleg {i}")

        gateway = MatrixGateway(settings, sync_timeout_ms=1000)
        await gateway.start(lambda: None)
        try:
            reports = gateway.reports()
            assert [r.report for r in reports] == ["M-0001"]
            assert reports[0].items[0].text == "Een oude melding"
        finally:
            await gateway.close()


async def test_the_desk_workflow_and_a_broadcast_go_through_the_real_bot(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    """Claim, categorise, forward (police reply back in the thread), a bulletin published to
    the wijk with its delivery count, `!stats` and a block: all as desk and wijk commands that
    the bot carries out, and every change read back from the bot's own messages."""
    async with running_world(homeserver, make_account, tmp_path, broadcast_undo_seconds=0) as world:
        coordinator = world.coordinator("oost")
        officer = next(iter(world.police.values()))
        police_room = world.room("oost", "police")
        settings = ClientSettings(
            homeserver=homeserver.url,
            user_id=coordinator.user_id,
            password=coordinator.account.password,
            data_dir=tmp_path / "bintui",
            bot_user_id=world.settings.bot.user_id,
        )
        gateway = MatrixGateway(settings, sync_timeout_ms=500)
        await gateway.start(lambda: None)
        try:
            (wijk,) = await eventually(
                lambda: [w for w in gateway.wijken() if w.desk and w.police and w.wijk],
                what="the three rooms of the wijk",
            )
            assert wijk.wijk == world.room("oost", "wijk")
            member = await world.signed_up_member(make_account, "oost")
            await member.user.say(member.private_room, "Witte bus bij de school, al uren")

            def report() -> Report | None:
                return gateway.reports()[0] if gateway.reports() else None

            async def until(check: Callable[[Report], bool], what: str) -> Report:
                found = await eventually(lambda: (r := report()) is not None and check(r) and r)
                assert isinstance(found, Report), what
                return found

            first = await until(lambda r: True, "the report")
            # The slug comes from the bot's fields once there is a message in one of its rooms.
            assert [w.slug for w in gateway.wijken()] == [first.wijk] == ["oost"]
            await gateway.send_command(first, commands.claim(first))
            await until(lambda r: r.handler == coordinator.user_id, "the claim")
            await gateway.send_command(first, commands.set_category(first, "overlast"))
            current = await until(lambda r: r.category == "overlast", "the category")
            assert current.status == "in behandeling"

            text = commands.forward_prefill(current).replace(", al uren", "")
            await gateway.send_command(current, commands.forward(current, text, "graag kijken"))
            await until(lambda r: r.status == "doorgestuurd", "the forwarded status")
            (forward,) = await eventually(
                lambda: [p for p in gateway.police_items() if p.kind == "forward"],
                what="the forward in the police room",
            )
            assert (forward.label, forward.text, forward.note) == (
                "M-0001",
                "Witte bus bij de school",
                "graag kijken",
            )
            await officer.reply_in_thread(police_room, forward.event_id, "We rijden langs.")
            replied = await until(
                lambda r: any(i.role == "police" for i in r.items), "the police reply"
            )
            assert [i.text for i in replied.items if i.role == "police"] == ["We rijden langs."]

            await officer.say(police_room, "Inbraken in schuurtjes aan de Beekstraat.")
            (bulletin,) = await eventually(
                lambda: [p for p in gateway.police_items() if p.kind == "bulletin"],
                what="the bulletin",
            )
            assert bulletin.label == "B-0001"
            await gateway.send_to_room("oost", "wijk", commands.publish_bulletin(bulletin.label))
            (preview,) = await eventually(gateway.broadcasts, what="the bot's preview")
            assert (preview.label, preview.phase, preview.category, preview.recipients) == (
                "W-0001",
                "preview",
                "politie",
                1,
            )
            assert preview.text == bulletin.text
            await gateway.send_to_room("oost", "wijk", commands.confirm())
            (done,) = await eventually(
                lambda: [b for b in gateway.broadcasts() if b.phase == "done"],
                what="the delivery count",
            )
            assert (done.delivered, done.total) == (1, 1)

            await gateway.send_to_room("oost", "desk", commands.STATS)
            (stats,) = await eventually(gateway.stats, what="the figures")
            assert (stats.wijk, stats.members) == ("oost", "<5")

        finally:
            await gateway.close()

        # The same through the screens: a broadcast written in the composer, and a block.
        app = BinTuiApp(settings.model_copy(update={"password": None}))
        async with app.run_test(size=(120, 40)) as pilot:
            await eventually(lambda: app.desk.reports and app.gateway, what="the desk")
            await pilot.press("f4", *"Let op: babbeltrucs aan de deur.", "ctrl+s")
            confirm = await eventually(
                lambda: isinstance(app.screen, ConfirmBroadcast) and app.screen,
                what="the confirmation with the bot's count",
            )
            assert isinstance(confirm, ConfirmBroadcast)
            assert (confirm.broadcast.label, confirm.broadcast.recipients) == ("W-0002", 1)
            await pilot.pause()
            await pilot.press("enter")  # the focused button: send to 1 member
            composer = await eventually(
                lambda: isinstance(app.screen, ComposerScreen) and app.screen,
                what="back in the composer",
            )
            assert isinstance(composer, ComposerScreen)
            status = composer.query_one("#composer-status", Static)
            await eventually(
                lambda: "W-0002: afgeleverd aan 1 van 1 lid." in str(status.content),
                what="the delivery count in the composer",
            )
            await pilot.press("escape", "b", "enter")
            await member.user.wait_for_event(
                lambda e: e.room_id == member.private_room and "geblokkeerd" in e.body,
                what="the member told of the block",
            )


async def test_the_device_is_cross_signed_and_a_new_device_signs_itself_with_the_recovery_key(
    homeserver: EmbeddedHomeserver, make_account: MakeAccount, tmp_path: Path
) -> None:
    account = make_account("co-identity")
    observer = make_account("observer")
    settings = ClientSettings(
        homeserver=homeserver.url,
        user_id=account.user_id,
        password=account.password,
        data_dir=tmp_path / "first",
    )
    folder = account_dir(tmp_path / "first", account.user_id)
    first = MatrixGateway(settings, sync_timeout_ms=500)
    await first.start(lambda: None)
    try:
        assert first.identity.status == "created"
        recovery_key = first.identity.recovery_key
        assert recovery_key is not None and recovery_key.startswith("Es")
        assert await signed_by_identity(first, "BINTUI")
    finally:
        await first.close()

    # Signed, and no private key of the identity left on disk: only the public marker (0600).
    master_key = await server_master_key(homeserver, observer.access_token, account.user_id)
    assert not (folder / KEY_FILE).exists()
    assert stat.S_IMODE((folder / MARKER_FILE).stat().st_mode) == 0o600
    assert json.loads((folder / MARKER_FILE).read_text()) == {
        "user_id": account.user_id,
        "device_id": "BINTUI",
        "master_key": master_key,
    }
    seeds = await identity_seeds(homeserver, account.access_token, account.user_id, recovery_key)
    assert_no_secret_on_disk(tmp_path / "first", seeds)
    # Another user's client sees the device signed by the identity.
    assert await observer_sees_signed(homeserver, observer.access_token, account.user_id, "BINTUI")

    # The same device again: nothing to create, signed without any key and without asking.
    again = MatrixGateway(settings.model_copy(update={"password": None}), sync_timeout_ms=500)
    await again.start(lambda: None)
    await again.close()
    assert again.identity.status == "signed"
    assert not (folder / KEY_FILE).exists()

    # A folder from an older bintui still holds the keys: used once, then deleted.
    (folder / MARKER_FILE).unlink()
    save_keys(folder / KEY_FILE, CrossSigningKeys.from_json(seeds))
    migrated = MatrixGateway(settings.model_copy(update={"password": None}), sync_timeout_ms=500)
    await migrated.start(lambda: None)
    await migrated.close()
    assert migrated.identity.status == "signed", migrated.identity.message
    assert not (folder / KEY_FILE).exists()
    assert json.loads((folder / MARKER_FILE).read_text())["master_key"] == master_key
    assert_no_secret_on_disk(tmp_path / "first", seeds)

    # A marker that the server does not bear out is not trusted (and not kept).
    (folder / MARKER_FILE).write_text(
        json.dumps({**json.loads((folder / MARKER_FILE).read_text()), "device_id": "OTHER"})
    )
    doubted = MatrixGateway(settings.model_copy(update={"password": None}), sync_timeout_ms=500)
    await doubted.start(lambda: None)
    await doubted.close()
    assert doubted.identity.status == "needs_recovery_key"
    assert not (folder / MARKER_FILE).exists()

    # A second device of the same coordinator: it has no keys, so it asks for the recovery key.
    second_settings = settings.model_copy(
        update={"data_dir": tmp_path / "second", "device_id": "BINTUI2"}
    )
    second = MatrixGateway(second_settings, sync_timeout_ms=500)
    await second.start(lambda: None)
    try:
        assert second.identity.status == "needs_recovery_key"
        wrong = await second.restore_identity(ssss.encode_recovery_key(bytes(32)))
        assert (wrong.status, wrong.message) == (
            "needs_recovery_key",
            "this recovery key does not fit",
        )
        assert not await signed_by_identity(second, "BINTUI2")
        signed = await second.restore_identity(f"  {recovery_key}  ")
        assert signed.status == "signed", signed.message
        assert await signed_by_identity(second, "BINTUI2")
    finally:
        await second.close()
    second_folder = account_dir(tmp_path / "second", account.user_id)
    assert not (second_folder / KEY_FILE).exists()
    assert json.loads((second_folder / MARKER_FILE).read_text())["device_id"] == "BINTUI2"
    assert_no_secret_on_disk(tmp_path / "second", seeds)
    assert await observer_sees_signed(homeserver, observer.access_token, account.user_id, "BINTUI2")
    second_again = MatrixGateway(
        second_settings.model_copy(update={"password": None}), sync_timeout_ms=500
    )
    await second_again.start(lambda: None)
    await second_again.close()
    assert second_again.identity.status == "signed"

    # The identity is reset elsewhere (with the password): the marker no longer holds, so the
    # device asks again, and the old recovery key's keys are refused as another identity's.
    await reset_identity(homeserver, account)
    after_reset = MatrixGateway(
        second_settings.model_copy(update={"password": None}), sync_timeout_ms=500
    )
    await after_reset.start(lambda: None)
    try:
        assert after_reset.identity.status == "needs_recovery_key"
        assert not (second_folder / MARKER_FILE).exists()
        stale = await after_reset.restore_identity(recovery_key)
        assert stale.status == "failed"
        assert "another identity" in stale.message
    finally:
        await after_reset.close()
    assert not (second_folder / KEY_FILE).exists()
    assert not (second_folder / MARKER_FILE).exists()


async def server_master_key(homeserver: EmbeddedHomeserver, token: str, user_id: str) -> str:
    status, state = await client_api(
        homeserver.url,
        token,
        "POST",
        "/_matrix/client/v3/keys/query",
        {"device_keys": {user_id: []}},
    )
    assert status == 200
    (msk,) = state["master_keys"][user_id]["keys"].values()
    return str(msk)


async def observer_sees_signed(
    homeserver: EmbeddedHomeserver, token: str, user_id: str, device_id: str
) -> bool:
    """What another Matrix user's client sees: `device_id` ← self-signing key ← master key."""
    status, state = await client_api(
        homeserver.url,
        token,
        "POST",
        "/_matrix/client/v3/keys/query",
        {"device_keys": {user_id: []}},
    )
    assert status == 200
    return verify_device_chain(state, user_id, device_id)


async def identity_seeds(
    homeserver: EmbeddedHomeserver, token: str, user_id: str, recovery_key: str
) -> dict[str, str]:
    """The identity's private keys, read from secret storage as any client would."""
    key = ssss.decode_recovery_key(recovery_key)
    base = f"/_matrix/client/v3/user/{quote(user_id, safe='')}/account_data/"
    _, default = await client_api(homeserver.url, token, "GET", base + ssss.DEFAULT_KEY)
    seeds: dict[str, str] = {}
    for which, name in ssss.CROSS_SIGNING_SECRETS.items():
        _, stored = await client_api(homeserver.url, token, "GET", base + name)
        seeds[which] = ssss.decrypt_secret(key, name, stored["encrypted"][default["key"]])
    return seeds


def assert_no_secret_on_disk(data_dir: Path, seeds: dict[str, str]) -> None:
    """No file under `data_dir` holds a private key of the identity, as text or as bytes."""
    keys = CrossSigningKeys.from_json(seeds)
    needles = [s.encode() for s in seeds.values()] + [keys.seed(n) for n in seeds]
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert files, "the folder is there"
    for path in files:
        data = path.read_bytes()
        assert not any(needle in data for needle in needles), f"a private key in {path}"


async def reset_identity(homeserver: EmbeddedHomeserver, account: Account) -> None:
    """Replace the account's cross-signing keys, as Element's "reset identity" does."""
    keys = CrossSigningKeys.generate()
    master_id = f"ed25519:{keys.public('master')}"
    body: dict[str, Any] = {
        "master_key": keys.key_object("master", account.user_id),
        "self_signing_key": sign_json(
            keys.key_object("self_signing", account.user_id),
            keys.master,
            account.user_id,
            master_id,
        ),
        "user_signing_key": sign_json(
            keys.key_object("user_signing", account.user_id),
            keys.master,
            account.user_id,
            master_id,
        ),
    }
    path = "/_matrix/client/v3/keys/device_signing/upload"
    status, answer = await client_api(homeserver.url, account.access_token, "POST", path, body)
    assert status == 401, answer
    body["auth"] = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": account.user_id},
        "password": account.password,
        "session": answer["session"],
    }
    status, answer = await client_api(homeserver.url, account.access_token, "POST", path, body)
    assert status == 200, answer


async def signed_by_identity(gateway: MatrixGateway, device_id: str) -> bool:
    """Whether the homeserver shows `device_id` signed by the account's self-signing key."""
    client = gateway._client
    assert client is not None
    response = await client.send(
        "POST",
        "/_matrix/client/v3/keys/query",
        data=json.dumps({"device_keys": {client.user_id: []}}),
        headers={"Authorization": f"Bearer {client.access_token}"},
    )
    state = await response.json()
    master = state.get("master_keys", {}).get(client.user_id)
    if master is None:
        return False
    (msk,) = master["keys"].values()
    return verify_device_chain(state, client.user_id, device_id, master_key=msk)
