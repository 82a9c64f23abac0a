"""A cheap, forgiving reading of an inference body: what routing and estimates look at.

Owns the text, turns, tools, images and ``max_tokens`` of a body of any of
the four inference endpoints (Ollama ``/api/chat`` and ``/api/generate``,
OpenAI ``/v1/chat/completions``, Anthropic ``/v1/messages``), and brb's one
prompt-token *estimate*: the one brb shows (``brb estimate``, the rules'
``prompt_tokens``, ``X-BRB-Cost-Estimate-USD``), whose content part
(:func:`content_tokens`) is what the waiting room's service model predicts
prefill from (:func:`request_shape`, with the output cap). It runs on every
request, so it reads at most an image's header, never builds the cloud
request and never raises on an odd shape: what it can't read, it leaves out.
The true upper bound the budget reserves is not this: it is
:mod:`brb.core.convert.token_bound`'s. Must not do I/O.

The estimate: about four characters a token for English text and code (the
ratio Anthropic's and OpenAI's tokenizer pages quote; the same rule brb's
Anthropic simulator counts with), plus framing per message, each image by
its padded pixel area as its header gives it (width*height/750, Anthropic's
vision page; the budget's rule), or a typical image when the header doesn't
say (a 1092x1092 picture is ~1600 tokens), and the tool-use system prompt
(~350 tokens for current models, Anthropic's tool-use pricing table).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from brb.core.convert.images import header_token_bound
from brb.core.service_model import RequestShape
from brb.core.value_type import value_type

CHARS_PER_TOKEN = 4
REQUEST_TOKENS = 8
MESSAGE_TOKENS = 4
IMAGE_TOKENS = 1600
TOOL_SYSTEM_PROMPT_TOKENS = 350

OLLAMA_CHAT = "/api/chat"
OLLAMA_GENERATE = "/api/generate"
OPENAI_CHAT = "/v1/chat/completions"
ANTHROPIC_MESSAGES = "/v1/messages"
ENDPOINTS = (OLLAMA_CHAT, OLLAMA_GENERATE, OPENAI_CHAT, ANTHROPIC_MESSAGES)


@value_type
class Conversation:
    """What a body says, as plain counts and text."""

    system: str = ""
    user_texts: tuple[str, ...] = ()  # every user turn's text, in order
    other_texts: tuple[str, ...] = ()  # assistant turns, tool calls and results
    turns: int = 0  # user + assistant messages (system not counted)
    tools: int = 0  # tool definitions offered to the model
    tool_chars: int = 0  # characters of the tool definitions as JSON
    images: int = 0
    image_tokens: int = 0  # the images' estimate (see the module doc)
    max_tokens: int | None = None  # what the client allowed, if it said

    @property
    def last_user_text(self) -> str:
        return self.user_texts[-1] if self.user_texts else ""

    @property
    def has_tools(self) -> bool:
        return self.tools > 0

    @property
    def has_images(self) -> bool:
        return self.images > 0

    @property
    def chars(self) -> int:
        chars = len(self.system) + self.tool_chars
        for text in self.user_texts:  # a loop: cheaper than sum(map(len, ...)) for a few
            chars += len(text)
        for text in self.other_texts:
            chars += len(text)
        return chars


def content_tokens(conv: Conversation) -> int:
    """The prompt's own tokens: its text (tool definitions and calls included) at
    about four characters a token, and its images."""
    return math.ceil(conv.chars / CHARS_PER_TOKEN) + conv.image_tokens


def estimate_prompt_tokens(conv: Conversation) -> int:
    """About how many tokens the prompt is billed as (an estimate, not a bound: see the
    module doc): its content, the framing of each message, the tool-use system prompt."""
    tokens = REQUEST_TOKENS + MESSAGE_TOKENS * (conv.turns + (1 if conv.system else 0))
    tokens += content_tokens(conv)
    if conv.tools:
        tokens += TOOL_SYSTEM_PROMPT_TOKENS
    return tokens


def request_shape(conv: Conversation) -> RequestShape:
    """What the service model needs of a request: its prompt's content tokens and its
    output cap. Content only: the room's per-token rates are learned against this
    figure, and a cloud's framing and tool-use system prompt are not Ollama's."""
    return RequestShape(content_tokens(conv), conv.max_tokens)  # prompt, max output tokens


def image_tokens(encoded: object) -> int:
    """One image's estimate: its padded pixel area from its header, else a typical image."""
    found = header_token_bound(encoded)
    return IMAGE_TOKENS if found is None else found


def read_conversation(endpoint: str, body: Mapping[str, Any]) -> Conversation:
    """The conversation in ``body``, an inference body sent to ``endpoint``."""
    if endpoint == OLLAMA_GENERATE:
        return _generate(body)
    reader = _Reader()
    if endpoint == ANTHROPIC_MESSAGES:
        reader.system(body.get("system"))
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                reader.message(message)
    tools = body.get("tools")
    if endpoint == OLLAMA_CHAT:
        options = body.get("options")
        max_tokens = _int(options.get("num_predict")) if isinstance(options, dict) else None
    elif endpoint == OPENAI_CHAT:
        max_tokens = _int(body.get("max_completion_tokens")) or _int(body.get("max_tokens"))
    else:
        max_tokens = _int(body.get("max_tokens"))
    tool_count = len(tools) if isinstance(tools, list) else 0
    return Conversation(  # positional, in the fields' order: keywords cost twice as much
        "\n".join(reader.system_parts),  # system
        tuple(reader.user),  # user_texts
        tuple(reader.other),  # other_texts
        reader.turns,
        tool_count,  # tools
        _json_chars(tools) if tool_count else 0,  # tool_chars
        reader.images,
        reader.image_tokens,
        max_tokens,
    )


def _generate(body: Mapping[str, Any]) -> Conversation:
    prompt = body.get("prompt")
    system = body.get("system")
    images = _list(body.get("images"))
    options = body.get("options")
    return Conversation(
        system=system if isinstance(system, str) else "",
        user_texts=(prompt,) if isinstance(prompt, str) and prompt else (),
        turns=1 if isinstance(prompt, str) and prompt else 0,
        images=len(images),
        image_tokens=sum(image_tokens(i) for i in images),
        max_tokens=_int(options.get("num_predict")) if isinstance(options, dict) else None,
    )


class _Reader:
    """Accumulates texts over messages of any of the dialects."""

    def __init__(self) -> None:
        self.system_parts: list[str] = []
        self.user: list[str] = []
        self.other: list[str] = []
        self.turns = 0
        self.images = 0
        self.image_tokens = 0

    def system(self, value: object) -> None:
        self.system_parts.extend(self._texts(value))

    def message(self, message: Mapping[str, Any]) -> None:
        role = message.get("role")
        content = message.get("content")
        texts = [content] if isinstance(content, str) else self._texts(content)
        images = message.get("images")
        if isinstance(images, list):  # Ollama: base64 strings
            for encoded in images:
                self._image(encoded)
        if role in ("system", "developer"):
            self.system_parts.extend(texts)
            return
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                texts.append(_json_text(call))
        if role == "user":
            self.user.append("\n".join(texts))
        else:
            self.other.append("\n".join(texts))
        if role in ("user", "assistant"):
            self.turns += 1

    def _texts(self, content: object) -> list[str]:
        """Text of a content field: a string, or a list of parts/blocks of any dialect."""
        if isinstance(content, str):
            return [content]
        out: list[str] = []
        for part in _list(content):
            if isinstance(part, str):
                out.append(part)
                continue
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind in ("image", "image_url", "input_image"):
                self._image(_image_data(part))
            elif isinstance(part.get("text"), str):
                out.append(part["text"])
            elif kind == "tool_use":
                out.append(_json_text(part.get("input")))
            elif kind == "tool_result":
                out.extend(self._texts(part.get("content")))
        return out

    def _image(self, encoded: object) -> None:
        self.images += 1
        self.image_tokens += image_tokens(encoded)


def _image_data(part: Mapping[str, Any]) -> object:
    """The base64 or data URL of an image part of any dialect (None: not inline)."""
    for key in ("image_url", "source"):  # OpenAI {url: ...}, Anthropic {data: ...}
        inner = part.get(key)
        if isinstance(inner, dict):
            return inner.get("url", inner.get("data"))
        if isinstance(inner, str):
            return inner
    return None


def _list(value: object) -> Sequence[Any]:
    return value if isinstance(value, list) else _NONE


_NONE: tuple[Any, ...] = ()  # what a missing or odd list reads as (shared: no list made)


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def _json_text(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return ""


def _json_chars(value: object) -> int:
    return len(_json_text(value))
