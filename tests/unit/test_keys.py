"""The bot's key bookkeeping around nio (bridge.keys): pure decisions on nio's own objects."""

from __future__ import annotations

from pathlib import Path

import nio

from bridge import keys

BOT = "@bin-bot:bin.local"


def client_with_olm(tmp_path: Path) -> nio.AsyncClient:
    client = nio.AsyncClient(
        "http://127.0.0.1:1",
        BOT,
        "BOTDEVICE",
        store_path=str(tmp_path),
        config=nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
    )
    client.restore_login(BOT, "BOTDEVICE", "token")
    return client


async def test_the_bots_own_user_is_queried_once_and_then_left_out(tmp_path: Path) -> None:
    client = client_with_olm(tmp_path)
    olm = client.olm
    assert olm is not None
    # Never queried yet: the bot's own user stays in the query (nio needs it once).
    olm.users_for_key_query.update({BOT, "@co:bin.local"})
    keys.drop_own_user(client)
    assert olm.users_for_key_query == {BOT, "@co:bin.local"}
    # Once known, Synapse listing it as changed again does not cost another query.
    olm.tracked_users.add(BOT)
    olm.users_for_key_query.clear()
    olm.users_for_key_query.add(BOT)
    keys.drop_own_user(client)
    assert not client.should_query_keys
    # Other users still are queried.
    olm.users_for_key_query.update({BOT, "@co:bin.local"})
    keys.drop_own_user(client)
    assert olm.users_for_key_query == {"@co:bin.local"}
    await client.close()
