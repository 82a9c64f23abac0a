"""Reading an inference request's body: decoding, parsing and checking its shape.

Owns the Content-Encoding decoding (gzip and deflate, capped at
``max_body_bytes``; anything else a 415), the JSON parse with its nesting
limit, the shape checks of the four inference endpoints (model, messages,
prompt, stream; the Messages API's own fields), and whether a body asks for
a stream. Every problem is a :class:`brb.errors.BadRequest` (or a subclass)
saying what is wrong.

Must not: route, call anything upstream, or know about aiohttp: it takes
bytes and gives a dict (the front does the HTTP).
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

from brb.core.convert.passthrough import check_fields
from brb.daemon.cloud import ANTHROPIC_MESSAGES
from brb.errors import BadRequest, BodyTooLarge, UnsupportedEncoding

_CONTROL = re.compile("[\x00-\x1f\x7f]")  # CR, LF, ...: never in a model name
_LIST_FIELD = {"/api/chat": "messages", "/v1/chat/completions": "messages",
               ANTHROPIC_MESSAGES: "messages"}  # fmt: skip
MAX_JSON_DEPTH = 64  # deeper bodies are a 400: no client API nests this deep
_ZLIB_WBITS = {
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,
}


def decode_body(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body without its Content-Encoding (gzip, deflate), at most ``limit`` bytes
    decoded; any other encoding is a 415 (brb could not pass it on faithfully)."""
    if not encoding:  # the common case
        return raw
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    for coding in reversed(codings):
        if coding == "identity":
            continue
        wbits = _ZLIB_WBITS.get(coding)
        if wbits is None:
            raise UnsupportedEncoding(
                f"Content-Encoding {coding!r} is not supported: send gzip, deflate or none"
            )
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(raw, limit + 1)
        except zlib.error:
            raise BadRequest(f"the body is not valid {coding} data") from None
        if len(out) > limit or d.unconsumed_tail:
            raise BodyTooLarge(f"the decoded body is over max_body_bytes ({limit})")
        raw = out
    return raw


def _check_depth(value: object, path: str, raw: bytes = b"") -> None:
    """A 400 for JSON nested deeper than MAX_JSON_DEPTH (iterative: no recursion).
    A body with no more brackets than that can't nest deeper: no walk (the
    common case, a count in C instead of a visit of every value)."""
    if raw and raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadRequest(f"{path}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


_DECODER = json.JSONDecoder()  # json.loads' own settings


def _json_value(text: str) -> Any:
    """``json.loads(text)``. A text that is one value from its first character to its
    last (the common case) is read by the decoder alone, without json.loads' whitespace
    matching around it; any other text, or one that fails, is json.loads' own (its
    value, or its error and message). A RecursionError goes up at once: it began at the
    first character, where json.loads would begin too (parsing it twice doubled the
    cost of a hostile, deeply nested body)."""
    try:
        value, end = _DECODER.raw_decode(text)
    except ValueError:
        pass  # json.loads raises it again below, with its own message
    else:
        if end == len(text):
            return value
    return json.loads(text)


def parse_body(raw: bytes, path: str) -> dict[str, Any]:
    """The JSON object of an inference request, or a BadRequest saying what is wrong."""
    if not raw.strip():
        raise BadRequest(f"{path}: empty body: send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{path}: body is not valid UTF-8 (byte {exc.start})") from None
    try:
        body = _json_value(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"{path}: malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise BadRequest(f"{path}: JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    _check_depth(body, path, raw)
    if not isinstance(body, dict):
        raise BadRequest(f"{path}: the body must be a JSON object, not {type(body).__name__}")
    model = body.get("model")
    if model is None or model == "":
        raise BadRequest(f"{path}: model is required")
    if not isinstance(model, str):
        raise BadRequest(f"{path}: model must be a string")
    if _CONTROL.search(model):
        raise BadRequest(f"{path}: model must not contain control characters (CR, LF, ...)")
    field = _LIST_FIELD.get(path)
    if field is not None and field in body and not isinstance(body[field], list):
        raise BadRequest(f"{path}: {field} must be a list")
    if path == "/api/generate" and "prompt" in body and not isinstance(body["prompt"], str):
        raise BadRequest(f"{path}: prompt must be a string")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise BadRequest(f"{path}: stream must be true or false")
    if path == ANTHROPIC_MESSAGES:
        check_fields(body)
    return body


def is_stream(path: str, body: dict[str, Any]) -> bool:
    """Ollama's endpoints stream unless told not to; the others only when asked."""
    if path.startswith("/api/"):
        return body.get("stream", True) is not False
    return body.get("stream") is True
