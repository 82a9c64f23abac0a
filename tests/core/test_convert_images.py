"""Images: media type from magic bytes, pixel size from headers, limits, token bound."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image as PILImage

from brb.core.capabilities import capabilities_for
from brb.core.convert import Endpoint, to_cloud
from brb.core.convert.images import (
    IMAGE_TOKENS_CEILING,
    check_image_limits,
    image_block,
    image_token_bound,
    pixel_size,
    sniff_media_type,
)
from brb.errors import ConversionError

CAPS = capabilities_for("claude-sonnet-4-5", "2023-06-01")


def encoded(fmt: str, size: tuple[int, int] = (3, 2), **save: object) -> str:
    mode = "RGBA" if save.pop("alpha", False) else "RGB"
    buffer = io.BytesIO()
    PILImage.new(mode, size, (200, 30, 30)).save(buffer, format=fmt, **save)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize(
    ("fmt", "save", "media_type"),
    [
        ("JPEG", {}, "image/jpeg"),
        ("JPEG", {"progressive": True}, "image/jpeg"),
        ("PNG", {}, "image/png"),
        ("GIF", {}, "image/gif"),
        ("WEBP", {}, "image/webp"),  # lossy: VP8
        ("WEBP", {"lossless": True}, "image/webp"),  # VP8L
        ("WEBP", {"alpha": True}, "image/webp"),  # VP8X (alpha)
    ],
)
def test_each_format_is_sniffed_and_sized(
    fmt: str, save: dict[str, object], media_type: str
) -> None:
    image = image_block(encoded(fmt, (37, 21), **save), "img")
    assert image.block["source"]["media_type"] == media_type
    assert (image.width_px, image.height_px) == (37, 21)
    data = base64.b64decode(image.block["source"]["data"])
    assert sniff_media_type(data) == media_type


def test_the_declared_type_of_a_data_url_is_ignored() -> None:
    png = encoded("PNG")
    image = image_block(f"data:image/jpeg;base64,{png}", "img")
    assert image.block["source"]["media_type"] == "image/png"


def test_base64_with_line_breaks_and_missing_padding_is_made_canonical() -> None:
    png = encoded("PNG")
    wrapped = "\n".join(png[i : i + 10] for i in range(0, len(png), 10)).rstrip("=")
    image = image_block(wrapped, "img")
    assert image.block["source"]["data"] == png


@pytest.mark.parametrize(
    "value",
    [
        base64.b64encode(b"BM\x00\x00 a bitmap").decode(),  # BMP: not accepted by the cloud
        base64.b64encode(b"%PDF-1.7").decode(),
        "not base64 at all!",
        base64.b64encode(b"\x89PNG\r\n\x1a\n").decode(),  # PNG magic, header cut off
        base64.b64encode(b"\xff\xd8\xff\xe0\x00\x10JFIF").decode(),  # JPEG with no frame
        12345,
    ],
)
def test_unknown_or_broken_images_stay_local(value: object) -> None:
    with pytest.raises(ConversionError):
        image_block(value, "img")


def test_too_large_dimensions_stay_local() -> None:
    with pytest.raises(ConversionError, match="8000"):
        image_block(encoded("PNG", (8001, 1)), "img")
    assert image_block(encoded("PNG", (8000, 1)), "img").width_px == 8000


def test_request_wide_limits() -> None:
    check_image_limits(20, 8000)
    check_image_limits(21, 2000)
    with pytest.raises(ConversionError, match="2000"):
        check_image_limits(21, 2001)
    with pytest.raises(ConversionError, match="100"):
        check_image_limits(101, 10)


def test_token_bound_follows_padded_area_and_is_capped() -> None:
    assert image_token_bound(28, 28) == 2  # 784 / 750 rounded up
    assert image_token_bound(1000, 1000) == 1355  # padded to 1008x1008: 1016064 / 750
    assert image_token_bound(8000, 8000) == IMAGE_TOKENS_CEILING
    # The 4.7+ native maximum is below the ceiling: the ceiling is a true bound.
    assert image_token_bound(2576, 2576) <= IMAGE_TOKENS_CEILING


def test_pixel_size_of_truncated_headers_is_none() -> None:
    assert pixel_size(b"GIF89a\x01", "image/gif") is None
    assert pixel_size(b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp") is None


def test_ollama_images_become_image_blocks_before_the_text() -> None:
    body = {
        "model": "llava",
        "messages": [{"role": "user", "content": "what is this?", "images": [encoded("GIF")]}],
    }
    req = to_cloud(
        Endpoint.OLLAMA_CHAT,
        body,
        cloud_model="m",
        default_max_tokens=100,
        max_input_tokens=None,
        caps=CAPS,
    )
    content = req.params["messages"][0]["content"]
    assert [block["type"] for block in content] == ["image", "text"]
    assert content[0]["source"]["media_type"] == "image/gif"


def test_generate_top_level_images() -> None:
    body = {"model": "llava", "prompt": "describe", "images": [encoded("WEBP")], "stream": False}
    req = to_cloud(
        Endpoint.OLLAMA_GENERATE,
        body,
        cloud_model="m",
        default_max_tokens=100,
        max_input_tokens=None,
        caps=CAPS,
    )
    assert req.params["messages"][0]["content"][0]["source"]["media_type"] == "image/webp"
    assert req.is_stream is False


def test_openai_image_url_parts() -> None:
    jpeg = encoded("JPEG")
    body = {
        "model": "gpt",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{jpeg}"}},
                ],
            }
        ],
    }
    req = to_cloud(
        Endpoint.OPENAI_CHAT,
        body,
        cloud_model="m",
        default_max_tokens=100,
        max_input_tokens=None,
        caps=CAPS,
    )
    blocks = req.params["messages"][0]["content"]
    assert [block["type"] for block in blocks] == ["text", "image"]
    assert blocks[1]["source"]["media_type"] == "image/jpeg"


def test_openai_remote_image_urls_stay_local() -> None:
    body = {
        "model": "gpt",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
            }
        ],
    }
    with pytest.raises(ConversionError):
        to_cloud(
            Endpoint.OPENAI_CHAT,
            body,
            cloud_model="m",
            default_max_tokens=100,
            max_input_tokens=None,
            caps=CAPS,
        )


def test_more_than_20_images_with_a_large_one_stays_local() -> None:
    small = encoded("PNG", (10, 10))
    big = encoded("PNG", (2001, 10))
    body = {
        "model": "llava",
        "messages": [{"role": "user", "content": "compare", "images": [small] * 20 + [big]}],
    }
    with pytest.raises(ConversionError, match="2000"):
        to_cloud(
            Endpoint.OLLAMA_CHAT,
            body,
            cloud_model="m",
            default_max_tokens=100,
            max_input_tokens=None,
            caps=CAPS,
        )
    body["messages"][0]["images"] = [small] * 21
    to_cloud(
        Endpoint.OLLAMA_CHAT,
        body,
        cloud_model="m",
        default_max_tokens=100,
        max_input_tokens=None,
        caps=CAPS,
    )


def test_images_from_an_assistant_stay_local() -> None:
    body = {
        "model": "llava",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "here", "images": [encoded("PNG")]},
            {"role": "user", "content": "thanks"},
        ],
    }
    with pytest.raises(ConversionError):
        to_cloud(
            Endpoint.OLLAMA_CHAT,
            body,
            cloud_model="m",
            default_max_tokens=100,
            max_input_tokens=None,
            caps=CAPS,
        )
