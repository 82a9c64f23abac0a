"""What a request body says about its service time before it is served: prompt size and cap.

Owns the estimate of a request's prompt tokens as the local model will count
them (for the service model's prefill), and its output cap
(``options.num_predict`` for Ollama, ``max_tokens`` /
``max_completion_tokens`` for OpenAI, ``max_tokens`` for Anthropic). Must
not validate or convert the body (the front and ``convert`` do), and is an
estimate, not a bound: the budget's bound (``convert.token_bound``) counts a
byte per token; a local tokenizer averages about four bytes a token of text.
Images count by the budget's rule (their padded pixel area, read from the
header; the ceiling when it can't be read).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any

from brb.core.convert.images import (
    IMAGE_TOKENS_CEILING,
    image_token_bound,
    pixel_size,
    sniff_media_type,
)
from brb.core.service_model import RequestShape

BYTES_PER_TOKEN = 4
# Enough base64 for any image header we read (a JPEG's size can follow its EXIF block).
_HEADER_BASE64_CHARS = 96 * 1024
_DATA_URL = re.compile(r"^data:[^,]*;base64,", re.IGNORECASE)


def request_shape(body: dict[str, Any]) -> RequestShape:
    """The prompt-token estimate and output cap of an inference body (any of the
    four endpoints' shapes; unknown parts count by their JSON text)."""
    counter = _Counter()
    for key in ("system", "prompt", "suffix"):
        counter.text(body.get(key))
    counter.images(body.get("images"))
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            counter.message(message)
    tools = body.get("tools")
    if tools:
        counter.bytes += len(json.dumps(tools))
    tokens = math.ceil(counter.bytes / BYTES_PER_TOKEN) + counter.image_tokens
    return RequestShape(prompt_tokens=tokens, max_output_tokens=output_cap(body))


def output_cap(body: dict[str, Any]) -> int | None:
    """The client's cap on output tokens, if it set a positive one."""
    options = body.get("options")
    candidates = [
        options.get("num_predict") if isinstance(options, dict) else None,
        body.get("max_completion_tokens"),
        body.get("max_tokens"),
    ]
    for value in candidates:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


class _Counter:
    __slots__ = ("bytes", "image_tokens")

    def __init__(self) -> None:
        self.bytes = 0
        self.image_tokens = 0

    def text(self, value: object) -> None:
        if isinstance(value, str):
            self.bytes += len(value.encode("utf-8", errors="replace"))
        elif isinstance(value, list):
            for part in value:
                self.part(part)

    def images(self, value: object) -> None:
        if isinstance(value, list):
            for encoded in value:
                self.image_tokens += image_tokens(encoded)

    def message(self, message: object) -> None:
        if not isinstance(message, dict):
            return
        self.text(message.get("content"))
        self.images(message.get("images"))
        calls = message.get("tool_calls")
        if calls:
            self.bytes += len(json.dumps(calls))

    def part(self, part: object) -> None:
        if isinstance(part, str):
            self.text(part)
            return
        if not isinstance(part, dict):
            return
        kind = part.get("type")
        if kind == "text":
            self.text(part.get("text"))
        elif kind == "image_url":
            url = part.get("image_url")
            self.image_tokens += image_tokens(url.get("url") if isinstance(url, dict) else url)
        elif kind == "image":
            source = part.get("source")
            self.image_tokens += image_tokens(
                source.get("data") if isinstance(source, dict) else None
            )
        elif kind == "tool_result":
            self.text(part.get("content"))
        else:
            self.bytes += len(json.dumps(part))


def image_tokens(encoded: object) -> int:
    """One image's tokens by the budget's rule, from its header alone."""
    if not isinstance(encoded, str):
        return IMAGE_TOKENS_CEILING
    head = _DATA_URL.sub("", encoded[: _HEADER_BASE64_CHARS + 256].lstrip(), count=1)
    head = head[:_HEADER_BASE64_CHARS]
    head = head[: len(head) - len(head) % 4]
    try:
        data = base64.b64decode(head)
    except (binascii.Error, ValueError):
        return IMAGE_TOKENS_CEILING
    media = sniff_media_type(data)
    size = pixel_size(data, media) if media else None
    return image_token_bound(*size) if size else IMAGE_TOKENS_CEILING
