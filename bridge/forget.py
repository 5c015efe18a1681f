"""Forgetting what was relayed: after a member's message is relayed, the bot ratchets its copy
of that member's Megolm session past the message (as mautrix's key-deletion options do).

The encrypted original stays on the homeserver; the bot then no longer holds a key that opens
it, so a later compromise of the bot's store does not open the past (DESIGN.md section 6).
Later messages of the same session still decrypt, because the ratchet only moves forward.
"""

from __future__ import annotations

import logging
from typing import Any

import nio
import vodozemac
from nio.crypto.sessions import InboundGroupSession

log = logging.getLogger(__name__)

INDEX_ATTRIBUTE = "bin_megolm_index"
"""Set on every event nio decrypts: the Megolm message index it was encrypted at."""


def record_message_indexes(client: nio.AsyncClient) -> None:
    """Make nio note the message index of every event it decrypts (it otherwise drops it)."""
    olm = client.olm
    if olm is None or getattr(olm, "_bin_records_indexes", False):
        return
    decrypt = olm.decrypt_megolm_event

    def decrypt_and_note(event: nio.MegolmEvent, room_id: str | None = None) -> Any:
        result = decrypt(event, room_id)
        try:
            index = vodozemac.MegolmMessage.from_base64(event.ciphertext).message_index
            setattr(result, INDEX_ATTRIBUTE, index() if callable(index) else index)
        except Exception:  # a malformed ciphertext was already refused by decrypt()
            pass
        return result

    olm.decrypt_megolm_event = decrypt_and_note
    olm._bin_records_indexes = True


def forget_up_to(client: nio.AsyncClient, room_id: str, event: Any) -> bool:
    """Ratchet the inbound session that decrypted `event` to just after it; True if done."""
    index = getattr(event, INDEX_ATTRIBUTE, None)
    sender_key = getattr(event, "sender_key", None)
    session_id = getattr(event, "session_id", None)
    olm = client.olm
    if olm is None or index is None or not sender_key or not session_id:
        return False
    sessions = olm.inbound_group_store[room_id][sender_key]
    session = sessions.get(session_id)
    if session is None:
        return False
    # nio 0.26 returns vodozemac's method here instead of calling it.
    first = session.first_known_index
    first_index = first() if callable(first) else first
    if first_index > index:
        return False
    forward = InboundGroupSession.import_session(
        session.export_session(index + 1),
        session.ed25519,
        sender_key,
        room_id,
        session.forwarding_chain,
    )
    sessions[session_id] = forward
    client.store.save_inbound_group_session(forward)
    return True
