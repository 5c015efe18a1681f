"""The connection indicator: connecting, online, or offline with the last error."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from ..gateway import ConnectionState
from ..i18n import I18n
from ..safe_text import safe_line


class ConnectionIndicator(Static):
    """Shows `state`; the parent sets it (attributes down)."""

    DEFAULT_CSS = """
    ConnectionIndicator {
        height: 1;
        width: 1fr;
        padding: 0 1;
        &.-connecting { color: $warning; }
        &.-online { color: $success; }
        &.-offline { color: $error; }
    }
    """

    state: reactive[ConnectionState] = reactive(ConnectionState)

    def __init__(self, i18n: I18n, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.i18n = i18n

    def watch_state(self, state: ConnectionState) -> None:
        for status in ("connecting", "online", "offline"):
            self.set_class(state.status == status, f"-{status}")
        self.update(self.describe(state))

    def describe(self, state: ConnectionState) -> Text:
        """The indicator's line; the error text comes from outside, so it is made safe."""
        line = Text("● ")
        line.append(self.i18n(f"connection.{state.status}"))
        if state.error and state.status != "online":
            line.append(" — ")
            line.append_text(safe_line(state.error))
        return line
