"""The media pipeline: a member's photo is downloaded, decrypted, cleaned and uploaded anew.

Only the pixels cross. `clean_image` (pure: bytes in, bytes out) decodes the image, applies the
EXIF orientation to the pixels, and builds a brand-new image from the raw pixel values, so no
EXIF (GPS, camera, time), XMP, IPTC, ICC profile, PNG text chunk, comment or embedded thumbnail
can survive; it also scales the photo down, which blurs the sensor noise that could tie photos
to one camera. `relay_copy` does the network part with nio: the copy is encrypted with a fresh
key and uploaded by the bot without a file name. Images too large to decode safely
(decompression bombs) are refused before their pixels are read.
"""

from __future__ import annotations

import asyncio
import io
import warnings
from dataclasses import dataclass
from typing import Any

import nio
from nio.crypto.attachments import decrypt_attachment
from PIL import Image, ImageOps

from bridge.relay import RelayedImage

MAX_SIDE = 2048
"""The longest side of a relayed photo, in pixels."""
JPEG_QUALITY = 85
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"})


class MediaRefused(Exception):
    """An upload the bot will not relay: not an image, too large, damaged, or a bomb."""


@dataclass(frozen=True, slots=True)
class CleanImage:
    """A re-encoded image with nothing but pixels."""

    data: bytes
    mimetype: str
    width: int
    height: int


def clean_image(data: bytes, max_pixels: int, max_side: int = MAX_SIDE) -> CleanImage:
    """Re-encode `data` as a JPEG made from its pixels only; raise MediaRefused otherwise."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                if opened.format not in ACCEPTED_FORMATS:
                    raise MediaRefused("not a supported image format")
                width, height = opened.size
                if width < 1 or height < 1 or width * height > max_pixels:
                    raise MediaRefused("too many pixels")  # checked before any pixel is read
                if opened.format == "JPEG":
                    opened.draft("RGB", (max_side, max_side))  # decode at a smaller scale
                upright = ImageOps.exif_transpose(opened)  # orientation into the pixels
                pixels = _flatten(upright)
    except MediaRefused:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise MediaRefused(type(exc).__name__) from None
    except (Image.DecompressionBombWarning, MemoryError, EOFError) as exc:
        raise MediaRefused(type(exc).__name__) from None
    pixels.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # A new image from raw pixel values: it has no `info`, so nothing of the original's
    # metadata can be written back, whatever Pillow's encoder would otherwise carry over.
    fresh = Image.frombytes("RGB", pixels.size, pixels.tobytes())
    out = io.BytesIO()
    fresh.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return CleanImage(out.getvalue(), "image/jpeg", fresh.width, fresh.height)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB pixels of the first frame; transparency over white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _source(content: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """The mxc URL of an image and, when it is encrypted, its decryption info."""
    file = content.get("file")
    if isinstance(file, dict) and isinstance(file.get("url"), str):
        return file["url"], file
    url = content.get("url")
    if isinstance(url, str):
        return url, None
    raise MediaRefused("no media URL")


async def relay_copy(
    client: nio.AsyncClient, content: dict[str, Any], max_bytes: int, max_pixels: int
) -> RelayedImage:
    """Download, decrypt, clean, re-encrypt (fresh key) and upload a member's image."""
    info = content.get("info")
    declared = info.get("size") if isinstance(info, dict) else None
    if isinstance(declared, int) and declared > max_bytes:
        raise MediaRefused("too large")
    mxc, encrypted = _source(content)
    response = await client.download(mxc=mxc)
    if not isinstance(response, nio.DownloadResponse):
        raise MediaRefused("download failed")
    body = response.body
    if not isinstance(body, bytes) or len(body) > max_bytes:
        raise MediaRefused("too large")
    if encrypted is not None:
        try:
            body = decrypt_attachment(
                body, encrypted["key"]["k"], encrypted["hashes"]["sha256"], encrypted["iv"]
            )
        except (KeyError, TypeError, nio.EncryptionError) as exc:
            raise MediaRefused(type(exc).__name__) from None
    # Decoding is CPU work: off the event loop, so the sync loop keeps relaying meanwhile.
    clean = await asyncio.to_thread(clean_image, body, max_pixels)
    uploaded, keys = await client.upload(
        io.BytesIO(clean.data),
        content_type=clean.mimetype,
        filename=None,
        encrypt=True,
        filesize=len(clean.data),
    )
    if not isinstance(uploaded, nio.UploadResponse) or keys is None:
        raise ConnectionError("upload failed")
    file = {
        "url": uploaded.content_uri,
        "key": keys["key"],
        "iv": keys["iv"],
        "hashes": keys["hashes"],
        "v": keys.get("v", "v2"),
    }
    return RelayedImage(
        file=file,
        info={
            "mimetype": clean.mimetype,
            "size": len(clean.data),
            "w": clean.width,
            "h": clean.height,
        },
    )
