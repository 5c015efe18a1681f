"""The core flows on a production-shaped homeserver: Synapse on PostgreSQL from the config
`bin-bridge init` generated, with Synapse's default rate limits and federation on; and a
resident whose account lives on another homeserver, over federation (TLS on loopback).
"""

from __future__ import annotations

import asyncio
import io
import urllib.parse
import uuid
from contextlib import redirect_stdout
from pathlib import Path

import aiohttp
import nio

from bridge.__main__ import main as bin_bridge
from bridge.homeserver import register_user_async
from bridge.leakscan import MemberTrace, assert_no_leaks
from tests.conftest import MakeAccount
from tests.integration import test_broadcasts, test_relay_flow
from tests.integration.conftest import account_factory
from tests.integration.harness import client_api, make_user, running_world
from tests.integration.production import ProductionSynapse

ENCRYPTED = [
    {
        "type": "m.room.encryption",
        "state_key": "",
        "content": {"algorithm": "m.megolm.v1.aes-sha2"},
    }
]


async def test_a_report_and_its_answer_cross_a_synapse_on_postgresql_made_by_init(
    production_homeserver: ProductionSynapse, make_production_account: MakeAccount, tmp_path: Path
) -> None:
    assert production_homeserver.generated()["database"]["name"] == "psycopg2"
    await test_relay_flow.test_a_members_report_reaches_the_desk_under_a_pseudonym_and_the_answer_comes_back(  # noqa: E501
        production_homeserver,  # type: ignore[arg-type]
        make_production_account,
        tmp_path,
    )


async def test_a_broadcast_reaches_every_member_on_a_synapse_on_postgresql_made_by_init(
    production_homeserver: ProductionSynapse, make_production_account: MakeAccount, tmp_path: Path
) -> None:
    await test_broadcasts.test_a_confirmed_broadcast_reaches_every_member_once_and_chat_is_never_broadcast(  # noqa: E501
        production_homeserver,  # type: ignore[arg-type]
        make_production_account,
        tmp_path,
    )


async def test_setup_bot_creates_the_bot_and_lifts_only_its_rate_limits_and_can_run_twice(
    production_homeserver: ProductionSynapse, tmp_path: Path
) -> None:
    server = production_homeserver
    # init's config, with a bot name of this test's own: other tests set up init's bot too.
    own = tmp_path / "bridge.toml"
    own.write_text(
        server.bridge_config.read_text().replace(
            'user_id = "@bin:', 'user_id = "@bot-of-setup-test:', 1
        )
    )
    own.chmod(0o600)
    config = str(own)
    for expected in ("Created the bot's account", "exists already"):
        out = io.StringIO()
        with redirect_stdout(out):
            # The command runs its own event loop, as it does on an operator's terminal.
            assert await asyncio.to_thread(bin_bridge, ["setup-bot", "--config", config]) == 0
        assert expected in out.getvalue()
        assert "burst_count=0" in out.getvalue()

    admin = await register_user_async(
        server.url,
        server.registration_shared_secret,
        f"operator-check-{uuid.uuid4().hex[:8]}",
        admin=True,
    )
    bot = f"@bot-of-setup-test:{server.server_name}"
    quoted = urllib.parse.quote(bot, safe="@:")
    status, override = await client_api(
        server.url,
        admin.access_token,
        "GET",
        f"/_synapse/admin/v1/users/{quoted}/override_ratelimit",
    )
    assert status == 200
    assert override == {"messages_per_second": 0, "burst_count": 0}
    # The one-off admins that did it are gone, and nobody else got an override.
    status, listing = await client_api(
        server.url,
        admin.access_token,
        "GET",
        "/_synapse/admin/v2/users?name=bin-setup-&deactivated=true&limit=50",
    )
    assert status == 200
    setup_admins = listing["users"]
    assert setup_admins, listing
    assert all(u["deactivated"] for u in setup_admins)
    status, other = await client_api(
        server.url,
        admin.access_token,
        "GET",
        f"/_synapse/admin/v1/users/{urllib.parse.quote(admin.user_id, safe='@:')}"
        "/override_ratelimit",
    )
    assert other == {}

    # Open registration is off: only the shared secret (the sign-up page) makes accounts.
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            server.url + "/_matrix/client/v3/register", json={"username": "x", "password": "y"}
        ) as response,
    ):
        assert response.status == 403


async def test_a_resident_whose_account_lives_on_another_server_reports_over_federation(
    production_homeserver: ProductionSynapse,
    federated_homeserver: ProductionSynapse,
    make_production_account: MakeAccount,
    tmp_path: Path,
) -> None:
    async with running_world(
        production_homeserver,  # type: ignore[arg-type]
        make_production_account,
        tmp_path,
    ) as world:
        account = account_factory(federated_homeserver)("buur", displayname="Buurvrouw Elders")
        assert account.user_id.endswith(":" + federated_homeserver.server_name)
        user = await make_user(account, federated_homeserver.url, tmp_path / "remote")
        world.users.append(user)
        bot = world.settings.bot.user_id
        dm = await user.client.room_create(is_direct=True, invite=[bot], initial_state=ENCRYPTED)
        assert isinstance(dm, nio.RoomCreateResponse), dm
        welcome = await user.wait_for_event(
            lambda e: e.room_id != dm.room_id and e.fields.get("kind") == "notice",
            timeout=90,
            what="the welcome in the bot's private room, over federation",
        )
        room = welcome.room_id
        await user.say(room, world.join_code("oost"))
        await user.wait_for_event(
            lambda e: e.room_id == room and "aangemeld" in e.body,
            timeout=60,
            what="the sign-up confirmation",
        )
        text = "Er staat al een uur een busje met draaiende motor bij de speeltuin"
        sent = await user.say(room, text)
        desk = world.room("oost", "desk")
        coordinator = world.coordinator("oost")
        report = await coordinator.wait_for_event(
            lambda e: e.room_id == desk and e.fields.get("kind") == "report",
            timeout=60,
            what="the remote resident's report in the desk",
        )
        assert report.fields["text"] == text
        await coordinator.reply_in_thread(desk, report.event_id, "Dank je, de wijkagent kijkt.")
        answer = await user.wait_for_event(
            lambda e: e.room_id == room and e.fields.get("kind") == "answer",
            timeout=60,
            what="the answer, over federation",
        )
        assert "de wijkagent kijkt" in answer.body

        trace = MemberTrace(
            user_id=user.user_id,
            display_name="Buurvrouw Elders",
            room_ids=[room, dm.room_id],
            event_ids=[sent],
        )
        outside = [s.content for s in world.sent if s.room_id not in (room, dm.room_id)]
        assert_no_leaks(outside, trace)
        assert_no_leaks(
            [e.source for e in coordinator.events if e.sender == world.settings.bot.user_id],
            trace,
        )
