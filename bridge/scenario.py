"""The scripted demo: real Matrix clients play a member and a coordinator against the running bot.

Each step prints what happened; the result is 0 only if every step succeeded and no member
identifier appears in any event the bot sent to the coordinators.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nio

from bridge.homeserver import register_user_async
from bridge.leakscan import MemberTrace, find_leaks
from bridge.matrix import write_private_file
from bridge.protocol import FIELD

STEP_TIMEOUT_S = 30
PHOTO_NAME = "IMG_20261201_Kerkstraat12_Jansen.jpg"
"""A phone's file name that gives away an address and a family name (case C04)."""


class StepFailed(Exception):
    """A scenario step did not happen in time."""


@dataclass
class Seen:
    """An event a client received, decrypted where possible (also used by the tests)."""

    room_id: str
    event_id: str
    sender: str
    source: dict[str, Any]
    """The whole event (decrypted payload merged with the clear-text envelope)."""

    @property
    def content(self) -> dict[str, Any]:
        value = self.source.get("content")
        return value if isinstance(value, dict) else {}

    @property
    def body(self) -> str:
        return str(self.content.get("body", ""))

    @property
    def fields(self) -> dict[str, Any]:
        value = self.content.get(FIELD)
        return value if isinstance(value, dict) else {}


@dataclass
class ScriptClient:
    """A minimal E2EE Matrix client for the scenario."""

    client: nio.AsyncClient
    seen: list[Seen] = field(default_factory=list)

    @classmethod
    async def login(
        cls, homeserver: str, user_id: str, password: str, store: Path, device_id: str
    ) -> ScriptClient:
        """Log in once per store (the device is reused on later demo runs)."""
        store.mkdir(parents=True, exist_ok=True, mode=0o700)  # noqa: ASYNC240 (setup)
        config = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
        client = nio.AsyncClient(homeserver, user_id, store_path=str(store), config=config)
        session_file = store / "session.json"
        if session_file.exists():
            session = json.loads(session_file.read_text())
            client.restore_login(user_id, session["device_id"], session["access_token"])
        else:
            client.device_id = device_id
            response = await client.login(password, device_name="BIN-demo script")
            if not isinstance(response, nio.LoginResponse):
                raise StepFailed(f"login failed: {response.message}")
            payload = {"device_id": client.device_id, "access_token": client.access_token}
            write_private_file(session_file, json.dumps(payload).encode())
        me = cls(client)
        await me.sync(0)
        return me

    async def sync(self, wait_ms: int = 500) -> None:
        """One sync: keys maintained, invites accepted, decrypted messages recorded."""
        response = await self.client.sync(timeout=wait_ms, full_state=not self.client.next_batch)
        if not isinstance(response, nio.SyncResponse):
            return
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())
        await self.client.send_to_device_messages()
        for room_id in response.rooms.invite:
            await self.client.join(room_id)
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                if isinstance(event, nio.RoomMessage):
                    self.seen.append(
                        Seen(room_id, event.event_id, event.sender, dict(event.source))
                    )

    async def wait_for(self, match: Callable[[Seen], bool], what: str) -> Seen:
        """Sync until a matching event arrives."""
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while time.monotonic() < deadline:
            hits = [s for s in self.seen if match(s)]
            if hits:
                return hits[-1]
            await self.sync()
        raise StepFailed(f"{what} did not arrive within {STEP_TIMEOUT_S} s")

    async def joined(self, room_id: str) -> None:
        """Sync until the room is joined (invites are accepted while syncing)."""
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while room_id not in self.client.rooms:
            if time.monotonic() > deadline:
                raise StepFailed("a demo account was not invited to its room")
            await self.sync(200)

    async def send(self, room_id: str, content: dict[str, Any]) -> str:
        """Send (encrypted) and return the event id."""
        response = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        if not isinstance(response, nio.RoomSendResponse):
            raise StepFailed(f"sending failed: {response.message}")
        return str(response.event_id)


def _thread(root: str, body: str) -> dict[str, Any]:
    """A message in a thread, as Element sends it."""
    return {
        "msgtype": "m.text",
        "body": body,
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},
        },
    }


def _phone_photo() -> bytes:
    """A JPEG as a phone makes it: GPS position, camera, capture time in EXIF."""
    from PIL import Image

    image = Image.new("RGB", (64, 48), (90, 140, 200))
    exif = Image.Exif()
    exif[0x010F] = "DemoPhone"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x0132] = "2026:12:01 21:14:03"  # DateTime
    gps = {1: "N", 2: (51.0, 41.0, 12.5), 3: "E", 4: (5.0, 21.0, 40.2)}
    exif[0x8825] = gps  # GPSInfo
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def _hostile_inputs(
    state: dict[str, Any],
    coordinator: ScriptClient,
    member: ScriptClient,
    private: str,
    bot: str,
) -> tuple[list[str], str]:
    """A reply quote, a photo with GPS, and an edit followed by a deletion (cases C01, C04, C06).

    Returns the member's event ids and the URL of their original photo (for the leak check).
    """
    desk = state["wijken"]["oost"]["rooms"]["desk"]
    answer = next(s for s in reversed(member.seen) if s.fields.get("kind") == "answer")
    quoted = answer.content.get("body", "").splitlines()[0]
    new_text = "Ik zag hem net weer, nu met een rode rugzak."
    reply_id = await member.send(
        private,
        {
            "msgtype": "m.text",
            "body": f"> <{bot}> {quoted}\n\n{new_text}",
            "format": "org.matrix.custom.html",
            "formatted_body": f'<mx-reply><blockquote><a href="https://matrix.to/#/{private}/'
            f'{answer.event_id}">In reply to</a> <a href="https://matrix.to/#/{bot}">{bot}</a>'
            f"<br>{quoted}</blockquote></mx-reply>{new_text}",
            "m.relates_to": {"m.in_reply_to": {"event_id": answer.event_id}},
        },
    )
    await coordinator.wait_for(
        lambda s: s.room_id == desk and s.fields.get("text") == new_text,
        "the reply without its quote",
    )
    _step("een antwoord met citaat komt aan als alleen de nieuwe tekst, in hetzelfde gesprek")

    photo = _phone_photo()
    upload, keys = await member.client.upload(
        io.BytesIO(photo),
        content_type="image/jpeg",
        filename=PHOTO_NAME,
        encrypt=True,
        filesize=len(photo),
    )
    if not isinstance(upload, nio.UploadResponse) or keys is None:
        raise StepFailed("the member could not upload a photo")
    photo_id = await member.send(
        private,
        {
            "msgtype": "m.image",
            "body": PHOTO_NAME,
            "info": {"mimetype": "image/jpeg", "size": len(photo), "w": 64, "h": 48},
            "file": {**keys, "url": upload.content_uri},
        },
    )
    image = await coordinator.wait_for(
        lambda s: s.room_id == desk and s.content.get("msgtype") == "m.image",
        "the cleaned photo in the desk",
    )
    file_info = image.content.get("file", {})
    if file_info.get("url") == upload.content_uri or "Kerkstraat" in str(image.content):
        raise StepFailed("the photo crossed with its original upload or file name")
    _step(f"een foto met GPS komt aan als nieuwe upload '{image.content.get('filename')}'")

    typo = "Het adres is Kerkstraat 12, ik zag het vanuit mijn raam."
    original = await member.send(private, {"msgtype": "m.text", "body": typo})
    first_copy = await coordinator.wait_for(
        lambda s: s.room_id == desk and s.fields.get("text") == typo, "the message to be edited"
    )
    fixed = "Ik zag het vanaf de overkant."
    edit_id = await member.send(
        private,
        {
            "msgtype": "m.text",
            "body": f" * {fixed}",
            "m.new_content": {"msgtype": "m.text", "body": fixed},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        },
    )
    second_copy = await coordinator.wait_for(
        lambda s: s.room_id == desk and s.fields.get("text") == fixed, "the edited version"
    )
    await _gone(coordinator, desk, first_copy.event_id, "the old version")
    redaction = await member.client.room_redact(private, original)
    if not isinstance(redaction, nio.RoomRedactResponse):
        raise StepFailed("the member could not delete the message")
    await _gone(coordinator, desk, second_copy.event_id, "the deleted message")
    _step("een bewerking vervangt de kopie in de desk, een verwijdering haalt hem weg")
    return [reply_id, photo_id, original, edit_id], upload.content_uri


async def _gone(client: ScriptClient, room_id: str, event_id: str, what: str) -> None:
    """Wait until an event in the desk has been redacted (nothing readable left)."""
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        response = await client.client.room_get_event(room_id, event_id)
        if isinstance(response, nio.RoomGetEventResponse) and not response.event.source.get(
            "content"
        ):
            return
        await client.sync(300)
    raise StepFailed(f"{what} was still readable in the desk")


async def _full_loop(
    state: dict[str, Any],
    work_dir: Path,
    coordinator: ScriptClient,
    member: ScriptClient,
    private: str,
) -> list[str]:
    """Bulletin → broadcast → reaction → forward → police reply. Returns the member's events."""
    rooms = state["wijken"]["oost"]["rooms"]
    police_account = state["accounts"]["police"]
    police = await ScriptClient.login(
        state["homeserver"],
        police_account["user_id"],
        police_account["password"],
        work_dir / "police",
        "DEMOPOLITIE",
    )
    try:
        await police.joined(rooms["police"])
        await coordinator.sync(0)
        earlier = {s.event_id for s in coordinator.seen}
        bulletin = "Vannacht is er ingebroken in schuurtjes aan de Beekstraat. Sluit uw schuur af."
        await police.send(rooms["police"], {"msgtype": "m.text", "body": bulletin})
        ack = await coordinator.wait_for(
            lambda s: (
                s.event_id not in earlier
                and s.room_id == rooms["police"]
                and s.fields.get("kind") == "bulletin"
            ),
            "the bulletin's number",
        )
        label = ack.fields["report"]
        _step(f"de wijkagent plaatst een bericht; de bot nummert het {label}")

        await coordinator.send(rooms["wijk"], {"msgtype": "m.text", "body": f"!publiceer {label}"})
        await coordinator.wait_for(
            lambda s: (
                s.room_id == rooms["wijk"]
                and s.event_id not in earlier
                and "Voorbeeld" in s.content.get("body", "")
            ),
            "the broadcast preview",
        )
        await coordinator.send(rooms["wijk"], {"msgtype": "m.text", "body": "!ja"})
        broadcast = await member.wait_for(
            lambda s: (
                s.room_id == private
                and s.fields.get("kind") == "broadcast"
                and s.fields.get("text") == bulletin
            ),
            "the broadcast at the member",
        )
        _step(
            f"de coördinator publiceert {label} als {broadcast.fields['report']}; "
            "de bewoner ontvangt het",
        )

        reaction_text = "Bij ons in de straat stond vannacht ook een schuurdeur open."
        reaction_id = await member.send(
            private,
            {
                "msgtype": "m.text",
                "body": reaction_text,
                "m.relates_to": {"m.in_reply_to": {"event_id": broadcast.event_id}},
            },
        )
        reaction = await coordinator.wait_for(
            lambda s: (
                s.room_id == rooms["desk"]
                and s.fields.get("reaction_to") == broadcast.fields["report"]
            ),
            "the reaction in the desk",
        )
        heading = reaction.content.get("body", "").splitlines()[0]
        _step(f"de bewoner reageert; de desk krijgt '{heading}'")

        await coordinator.send(
            rooms["desk"],
            _thread(reaction.event_id, f"!doorsturen {reaction_text}\nnotitie: past bij {label}"),
        )
        forward = await police.wait_for(
            lambda s: s.room_id == rooms["police"] and s.fields.get("kind") == "forward",
            "the forward at the police",
        )
        report = forward.fields["report"]
        _step(f"de coördinator stuurt {report} door; de politie ziet het zonder schuilnaam")

        await police.send(rooms["police"], _thread(forward.event_id, "Dank, we nemen het mee."))
        await coordinator.wait_for(
            lambda s: s.room_id == rooms["desk"] and s.fields.get("kind") == "police_reply",
            "the police reply in the desk",
        )
        _step("het antwoord van de politie verschijnt in de draad van de melding")
        return [reaction_id]
    finally:
        await police.client.close()


_STEPS = [0]


def _step(text: str) -> None:
    """Print one completed step, numbered in order."""
    _STEPS[0] += 1
    print(f"  ✓ stap {_STEPS[0]}: {text}", flush=True)


async def play(state: dict[str, Any], work_dir: Path) -> int:
    """Play the scenario; 0 if every step succeeded and nothing leaked."""
    _STEPS[0] = 0
    print("\nScenario: een bewoner meldt, de coördinator antwoordt.", flush=True)
    homeserver = state["homeserver"]
    bot = state["bot"]
    wijk = state["wijken"]["oost"]
    desk = wijk["rooms"]["desk"]
    coordinator_account = state["accounts"]["coordinator1"]
    member_name = f"Demo Bewoner {uuid.uuid4().hex[:4]}"
    account = await register_user_async(
        homeserver,
        state["registration_shared_secret"],
        f"lid-demo-{uuid.uuid4().hex[:8]}",
        displayname=member_name,
    )
    coordinator = await ScriptClient.login(
        homeserver,
        coordinator_account["user_id"],
        coordinator_account["password"],
        work_dir / "coordinator",
        "DEMOSCRIPT",
    )
    member = await ScriptClient.login(
        homeserver, account.user_id, account.password, work_dir / account.user_id, "DEMOLID"
    )
    member_events: list[str] = []
    try:
        dm = await member.client.room_create(
            is_direct=True,
            invite=[bot],
            initial_state=[
                {
                    "type": "m.room.encryption",
                    "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                }
            ],
        )
        if not isinstance(dm, nio.RoomCreateResponse):
            raise StepFailed("the member could not start a chat with the bot")
        welcome = await member.wait_for(
            lambda s: (
                s.room_id != dm.room_id
                and s.sender == bot
                and "Welkom" in s.content.get("body", "")
            ),
            "the welcome in the bot's private room",
        )
        private = welcome.room_id
        _step("de bewoner start een chat; de bot opent een eigen versleutelde kamer en verwelkomt")

        member_events.append(
            await member.send(private, {"msgtype": "m.text", "body": wijk["join_code"]})
        )
        await member.wait_for(
            lambda s: s.room_id == private and "aangemeld" in s.content.get("body", ""),
            "the sign-up confirmation",
        )
        _step(f"de bewoner meldt zich aan met code {wijk['join_code']}")

        text = "Er loopt iemand met een koevoet langs de schuurtjes achter de Kerkstraat."
        await coordinator.sync(0)
        earlier = {s.event_id for s in coordinator.seen}  # reports of earlier demo runs
        member_events.append(await member.send(private, {"msgtype": "m.text", "body": text}))
        report = await coordinator.wait_for(
            lambda s: (
                s.room_id == desk
                and s.event_id not in earlier
                and s.fields.get("kind") == "report"
                and s.fields.get("text") == text
            ),
            "the report in the desk",
        )
        label, pseudonym = report.fields["report"], report.fields["pseudonym"]
        _step(f"de coördinator ziet melding {label} van '{pseudonym}' in de desk")

        await member.wait_for(
            lambda s: s.room_id == private and label in s.content.get("body", ""),
            "the delivery confirmation",
        )
        _step("de bewoner krijgt de bevestiging dat de melding is afgeleverd")

        answer = "Dank je! We houden het in de gaten en geven het door aan de wijkagent."
        await coordinator.send(
            desk,
            {
                "msgtype": "m.text",
                "body": answer,
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": report.event_id,
                    "is_falling_back": True,
                    "m.in_reply_to": {"event_id": report.event_id},
                },
            },
        )
        await member.wait_for(
            lambda s: (
                s.room_id == private
                and s.fields.get("kind") == "answer"
                and answer in s.content.get("body", "")
            ),
            "the coordinator's answer",
        )
        _step("het antwoord van de coördinator komt aan bij de bewoner")

        hostile_events, photo_url = await _hostile_inputs(state, coordinator, member, private, bot)
        member_events += hostile_events
        member_events += await _full_loop(state, work_dir, coordinator, member, private)

        trace = MemberTrace(
            user_id=account.user_id,
            display_name=member_name,
            room_ids=[private, dm.room_id],
            event_ids=member_events,
            mxc_urls=[photo_url],
            file_names=[PHOTO_NAME],
        )
        bot_events = [s.source for s in coordinator.seen if s.sender == bot]
        leaks = [leak for event in bot_events for leak in find_leaks(event, trace)]
        if leaks:
            print(f"  ✗ LEK: {len(leaks)} plaatsen met gegevens van de bewoner", flush=True)
            return 1
        _step(f"geen enkel gegeven van de bewoner in {len(bot_events)} berichten van de bot")
        print("Scenario geslaagd.", flush=True)
        return 0
    except StepFailed as exc:
        print(f"  ✗ {exc}", flush=True)
        return 1
    finally:
        await member.client.close()
        await coordinator.client.close()
