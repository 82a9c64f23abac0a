"""Client images (Ollama base64, OpenAI data URLs) to Anthropic image blocks, checked first.

Owns: decoding, sniffing the media type from magic bytes (JPEG, PNG, GIF,
WebP), reading the pixel size from the header, the API's image limits, and a
true upper bound on the tokens one image can cost (also from its header
alone, for estimates). Anything we can't vouch for
raises ConversionError so the request stays local: sending bytes whose
``media_type`` is wrong is a 400 ("Image does not match the provided media
type"), and so is an image over 5 MB or 8000 px.

Limits and token math: https://platform.claude.com/docs/en/build-with-claude/vision
(read 2026-11-25): at most 8000x8000 px, 2000x2000 px when a request has more
than 20 images, 100 images per request on 200K-window models (we apply 100 to
all), 5 MB per image (base64); an image costs about width*height/750 tokens
after being shrunk to the model's native resolution (long edge 1568 px before
Opus 4.7, 2576 px since) and padded to a multiple of 28 px.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from dataclasses import dataclass

from brb.errors import ConversionError

from .request import JSON

MAX_IMAGE_BASE64_BYTES = 5 * 1024 * 1024
# Enough base64 for any image header we read (a JPEG's size can follow its EXIF block).
HEADER_BASE64_CHARS = 96 * 1024
MAX_SIDE_PX = 8000
MAX_SIDE_PX_MANY_IMAGES = 2000
MANY_IMAGES = 20
MAX_IMAGES_PER_REQUEST = 100
# The largest native resolution of any model (2576 px square, already a
# multiple of 28) is 2576*2576/750 = 8848 tokens; round up.
IMAGE_TOKENS_CEILING = 9000

_DATA_URL = re.compile(r"^data:([\w.+/-]*)(;[\w=.+-]+)*;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Image:
    """An image block ready to send, and what the bound and limits need to know."""

    block: JSON
    width_px: int
    height_px: int
    token_bound: int


def image_block(encoded: object, where: str) -> Image:
    """Base64 (optionally a ``data:`` URL) to a checked Anthropic image block."""
    if not isinstance(encoded, str):
        raise ConversionError(f"{where}: an image must be a base64 string")
    text = _WHITESPACE.sub("", _DATA_URL.sub("", encoded.strip(), count=1))
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConversionError(f"{where}: image is not valid base64") from None
    media_type = sniff_media_type(data)
    if media_type is None:
        raise ConversionError(f"{where}: image is not JPEG, PNG, GIF or WebP")
    canonical = base64.b64encode(data).decode("ascii")
    if len(canonical) > MAX_IMAGE_BASE64_BYTES:
        raise ConversionError(f"{where}: image is larger than 5 MB")
    size = pixel_size(data, media_type)
    if size is None:
        raise ConversionError(f"{where}: can't read the {media_type} image's size")
    width, height = size
    if not (0 < width <= MAX_SIDE_PX and 0 < height <= MAX_SIDE_PX):
        raise ConversionError(f"{where}: image is {width}x{height} px; the limit is 8000x8000")
    block = {
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": canonical},
    }
    return Image(block, width, height, image_token_bound(width, height))


def image_from_data_url(url: object, where: str) -> Image:
    """An OpenAI ``image_url.url``: only ``data:`` URLs; remote URLs stay local."""
    if not isinstance(url, str) or not _DATA_URL.match(url.strip()):
        raise ConversionError(f"{where}: only base64 data: image URLs can go to the cloud")
    return image_block(url, where)


def check_image_limits(count: int, max_side_px: int) -> None:
    """Request-wide limits, applied to what is finally sent."""
    if count > MAX_IMAGES_PER_REQUEST:
        raise ConversionError(f"{count} images; the cloud takes at most 100 per request")
    if count > MANY_IMAGES and max_side_px > MAX_SIDE_PX_MANY_IMAGES:
        raise ConversionError(
            f"{count} images and one is {max_side_px} px wide or tall; with more than 20 "
            "images the cloud takes at most 2000x2000 px"
        )


def image_token_bound(width_px: int, height_px: int) -> int:
    """Shrinking only lowers the cost, so the padded original size bounds it."""
    padded_w = math.ceil(width_px / 28) * 28
    padded_h = math.ceil(height_px / 28) * 28
    return min(math.ceil(padded_w * padded_h / 750), IMAGE_TOKENS_CEILING)


def header_token_bound(encoded: object) -> int | None:
    """One image's :func:`image_token_bound`, from the first bytes of its base64
    (or data URL) alone; None when they don't say (not base64, not an image
    kind brb reads, no size in the header). Never decodes the whole image."""
    if not isinstance(encoded, str):
        return None
    head = _DATA_URL.sub("", encoded[: HEADER_BASE64_CHARS + 256].lstrip(), count=1)
    head = head[:HEADER_BASE64_CHARS]
    head = head[: len(head) - len(head) % 4]
    try:
        data = base64.b64decode(head)
    except (binascii.Error, ValueError):
        return None
    media = sniff_media_type(data)
    size = pixel_size(data, media) if media else None
    return image_token_bound(*size) if size else None


def sniff_media_type(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def pixel_size(data: bytes, media_type: str) -> tuple[int, int] | None:
    """(width, height) from the header, or None when the header is truncated or odd."""
    try:
        if media_type == "image/png":
            if data[12:16] != b"IHDR":
                return None
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if media_type == "image/gif":
            width, height = struct.unpack("<HH", data[6:10])
            return width, height
        if media_type == "image/webp":
            return _webp_size(data)
        return _jpeg_size(data)
    except struct.error:
        return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20:21] == b"\x2f":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None


# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) don't.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        if marker == 0xDA:  # start of scan: no frame header before it
            return None
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        position += 2 + length
    return None
