"""Helpers for Pilot tests: build the app around a fake gateway, read what widgets render."""

from __future__ import annotations

from pathlib import Path

from textual.geometry import Region
from textual.widget import Widget

from bintui.app import BinTuiApp
from bintui.gateway import Gateway
from bintui.settings import ClientSettings

from .fakes import FakeGateway

SIZES = [(80, 24), (120, 40)]


def make_app(
    *gateways: FakeGateway, tmp_path: Path, language: str = "nl", **settings: object
) -> tuple[BinTuiApp, list[ClientSettings]]:
    """An app whose gateway factory hands out `gateways` in turn, recording the settings."""
    seen: list[ClientSettings] = []
    queue = list(gateways)

    def factory(current: ClientSettings) -> Gateway:
        seen.append(current)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    config = ClientSettings(data_dir=tmp_path, language=language, **settings)  # type: ignore[arg-type]
    return BinTuiApp(config, gateway_factory=factory), seen


def rendered(widget: Widget) -> str:
    """The text a widget paints on the screen, line by line."""
    width, height = widget.size
    strips = widget.render_lines(Region(0, 0, width, height))
    return "\n".join(strip.text.rstrip() for strip in strips)


def painted_segments(widget: Widget) -> list[str]:
    """Every segment of text a widget sends towards the terminal."""
    width, height = widget.size
    return [
        segment.text
        for strip in widget.render_lines(Region(0, 0, width, height))
        for segment in strip
    ]
