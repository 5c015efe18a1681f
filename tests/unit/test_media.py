"""The pure part of the media pipeline: a photo in, only its pixels out (cases C04, C16)."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image, ImageDraw, PngImagePlugin

from bridge.media import MediaRefused, clean_image

SENTINELS = (b"SENTINELMAKE", b"SENTINELXMP", b"SENTINELIPTC", b"SENTINELCOMMENT", b"Jansen")
RED = (255, 0, 0)
BLUE = (0, 0, 255)


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _tiff_exif(thumbnail: bytes) -> bytes:
    """A little-endian TIFF block: Orientation 6, Make, a GPS IFD, and an IFD1 thumbnail."""
    make = b"SENTINELMAKE\x00"
    ifd0 = 8
    ifd0_size = 2 + 3 * 12 + 4
    gps = ifd0 + ifd0_size
    gps_size = 2 + 4 * 12 + 4
    ifd1 = gps + gps_size
    ifd1_size = 2 + 2 * 12 + 4
    data = ifd1 + ifd1_size
    make_at = data
    lat_at = make_at + len(make)
    lon_at = lat_at + 24
    thumb_at = lon_at + 24

    def entry(tag: int, kind: int, count: int, value: int | bytes) -> bytes:
        packed = value if isinstance(value, bytes) else struct.pack("<I", value)
        return struct.pack("<HHI", tag, kind, count) + packed.ljust(4, b"\x00")

    def rationals(*values: int) -> bytes:
        return b"".join(struct.pack("<II", v, 1) for v in values)

    out = b"II*\x00" + struct.pack("<I", ifd0)
    out += struct.pack("<H", 3)
    out += entry(0x010F, 2, len(make), make_at)  # Make
    out += entry(0x0112, 3, 1, struct.pack("<H", 6))  # Orientation: rotate 90 CW
    out += entry(0x8825, 4, 1, gps)  # GPS IFD
    out += struct.pack("<I", ifd1)
    out += struct.pack("<H", 4)
    out += entry(1, 2, 2, b"N\x00")
    out += entry(2, 5, 3, lat_at)
    out += entry(3, 2, 2, b"E\x00")
    out += entry(4, 5, 3, lon_at)
    out += struct.pack("<I", 0)
    out += struct.pack("<H", 2)
    out += entry(0x0201, 4, 1, thumb_at)  # JPEGInterchangeFormat
    out += entry(0x0202, 4, 1, len(thumbnail))
    out += struct.pack("<I", 0)
    assert len(out) == data
    return out + make + rationals(51, 41, 13) + rationals(5, 18, 7) + thumbnail


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def phone_photo() -> bytes:
    """A 40x20 JPEG as a phone writes it: EXIF with GPS, make and a thumbnail; XMP; IPTC."""
    stored = Image.new("RGB", (40, 20), BLUE)
    ImageDraw.Draw(stored).rectangle((0, 0, 9, 9), fill=RED)  # stored top-left corner
    thumbnail = _jpeg(Image.new("RGB", (8, 4), RED))
    segments = _segment(0xE1, b"Exif\x00\x00" + _tiff_exif(thumbnail))
    segments += _segment(
        0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>SENTINELXMP</x:xmpmeta>"
    )
    segments += _segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0cSENTINELIPTC")
    segments += _segment(0xFE, b"SENTINELCOMMENT IMG_20261201_Kerkstraat12_Jansen")
    body = _jpeg(stored)
    return body[:2] + segments + body[2:]


def test_the_test_photo_really_carries_gps_a_thumbnail_and_orientation() -> None:
    data = phone_photo()
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        assert exif[0x0112] == 6
        assert exif.get_ifd(0x8825)[1] == "N"
        assert image.size == (40, 20)
    assert data.count(b"\xff\xd8") == 2  # the photo and its embedded thumbnail
    assert all(sentinel in data for sentinel in SENTINELS)


def test_a_phone_photo_comes_out_as_pixels_only_with_the_orientation_applied() -> None:
    clean = clean_image(phone_photo(), max_pixels=10_000)

    assert clean.mimetype == "image/jpeg"
    for sentinel in (*SENTINELS, b"Exif", b"xap/1.0", b"Photoshop", b"8BIM"):
        assert sentinel not in clean.data
    assert clean.data.count(b"\xff\xd8") == 1  # no embedded thumbnail
    assert b"\xff\xe1" not in clean.data  # no APP1 (EXIF, XMP) at all
    assert b"\xff\xfe" not in clean.data  # no comment
    with Image.open(io.BytesIO(clean.data)) as image:
        assert not image.getexif()
        assert set(image.info) <= {"jfif", "jfif_version", "jfif_unit", "jfif_density"}
        # Orientation 6: the stored top-left corner is shown top-right, upright.
        assert image.size == (20, 40) == (clean.width, clean.height)
        top_right = image.convert("RGB").getpixel((17, 2))
        top_left = image.convert("RGB").getpixel((2, 2))
        assert isinstance(top_right, tuple) and isinstance(top_left, tuple)
        assert top_right[0] > 200 and top_right[2] < 60
        assert top_left[2] > 200 and top_left[0] < 60


def test_png_text_chunks_and_exif_do_not_survive() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "SENTINELMAKE Jansen")
    info.add_text("Comment", "SENTINELCOMMENT", zip=True)
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>SENTINELXMP</x:xmpmeta>")
    exif = Image.Exif()
    exif[0x010F] = "SENTINELMAKE"
    out = io.BytesIO()
    Image.new("RGBA", (30, 30), (0, 255, 0, 128)).save(out, format="PNG", pnginfo=info, exif=exif)
    source = out.getvalue()
    assert b"tEXt" in source and b"zTXt" in source and b"iTXt" in source and b"eXIf" in source

    clean = clean_image(source, max_pixels=10_000)

    for sentinel in SENTINELS:
        assert sentinel not in clean.data
    with Image.open(io.BytesIO(clean.data)) as image:
        assert image.format == "JPEG"
        assert image.mode == "RGB"  # transparency flattened onto white
        assert not image.getexif()


def test_a_large_photo_is_scaled_down() -> None:
    clean = clean_image(_jpeg(Image.new("RGB", (3000, 1000), BLUE)), max_pixels=10**8)
    assert (clean.width, clean.height) == (2048, 683)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"%PDF-1.7 Author: Jansen", id="a PDF"),
        pytest.param(phone_photo()[:200], id="truncated JPEG"),
        pytest.param(b"GIF89a" + b"\x00" * 10, id="broken GIF"),
    ],
)
def test_what_is_not_a_readable_image_is_refused(data: bytes) -> None:
    with pytest.raises(MediaRefused):
        clean_image(data, max_pixels=10_000)


@pytest.mark.parametrize(
    ("side", "limit"),
    [
        pytest.param(3_000, 4_000_000, id="above our own pixel limit"),
        pytest.param(10_000, 10**9, id="above Pillow's own bomb limit"),
    ],
)
def test_a_decompression_bomb_is_refused_before_its_pixels_are_read(side: int, limit: int) -> None:
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, format="PNG", compress_level=1)
    assert len(out.getvalue()) < 2_000_000  # small on disk, huge in memory
    with pytest.raises(MediaRefused, match=r"pixels|DecompressionBomb"):
        clean_image(out.getvalue(), max_pixels=limit)
