"""A member's photo (already cleaned by the bot) in the terminal, or saved to a private file.

Showing: the pixels are drawn with half-block characters ("▀", upper pixel as the foreground
colour, lower pixel as the background), which every colour terminal can show, also over SSH;
no terminal graphics protocol and nothing fetched but the homeserver's own copy. A terminal
without colour cannot show it, and the coordinator is told to save it instead.

Saving: a new file, mode 0600 from the first byte, never over an existing file.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from rich.style import Style
from rich.text import Text

MAX_PIXELS = 40_000_000
"""Decoding limit (the bot's cleaned copies are far smaller): a decompression bomb is refused."""


class CannotShow(Exception):
    """The bytes are not an image this client will decode."""


def default_folder(data_dir: Path) -> Path:
    """~/Downloads when it exists, else a private `media` folder in bintui's data dir."""
    downloads = Path("~/Downloads").expanduser()
    return downloads if downloads.is_dir() else data_dir / "media"


def suggested_name(report_label: str, index: int, mimetype: str) -> str:
    """'bin-M-0003-foto-1.jpg': the report number only (no pseudonym, no original name)."""
    extension = {"image/png": "png", "image/webp": "webp"}.get(mimetype, "jpg")
    safe = "".join(c for c in report_label if c.isalnum() or c == "-") or "melding"
    return f"bin-{safe}-foto-{index}.{extension}"


def save_private(path: Path, data: bytes) -> Path:
    """Write `data` to a new file at `path` (0600); parent folders are made private (0700).

    Raises FileExistsError rather than overwrite, OSError when it cannot be written.
    """
    path = path.expanduser()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def half_blocks(data: bytes, columns: int, rows: int) -> Text:
    """The image scaled to fit `columns` × `rows` cells (two pixels per cell, one above the
    other). Raises CannotShow for anything Pillow will not decode safely."""
    from PIL import Image  # here, not at the top: Pillow is not needed for the first screen

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise CannotShow("too many pixels")
            rgb = image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise CannotShow(type(exc).__name__) from None
    scale = min(columns / rgb.width, (rows * 2) / rgb.height, 1.0)
    width, height = max(1, int(rgb.width * scale)), max(2, int(rgb.height * scale))
    height += height % 2
    small = rgb.resize((width, height), Image.Resampling.BILINEAR)
    pixels = small.load()
    assert pixels is not None
    text = Text(no_wrap=True, overflow="crop")
    for y in range(0, height, 2):
        if y:
            text.append("\n")
        for x in range(width):
            top, bottom = pixels[x, y], pixels[x, y + 1]
            assert isinstance(top, tuple) and isinstance(bottom, tuple)
            style = Style(color=_hex(top), bgcolor=_hex(bottom))
            text.append("▀", style=style)
    return text


def _hex(pixel: tuple[int, ...]) -> str:
    r, g, b = pixel[:3]
    return f"#{r:02x}{g:02x}{b:02x}"
