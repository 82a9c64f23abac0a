"""Property tests: any conversation converts to params the Messages API accepts, or stays local;
any Anthropic stream renders to frames whose content is exactly the streamed text."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from brb.core.capabilities import capabilities_for
from brb.core.convert import JSON_TOOL_NAME, CloudRequest, Endpoint, StreamRenderer, to_cloud
from brb.core.convert.images import sniff_media_type
from brb.errors import BadRequest
from brb.sim.anthropic_rules import validate_body

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _image(fmt: str) -> str:
    buffer = io.BytesIO()
    PILImage.new("RGB", (4, 3), (1, 2, 3)).save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


IMAGES = [_image("PNG"), _image("JPEG"), _image("GIF"), _image("WEBP"), "bm90IGFuIGltYWdl"]
PNG_URL = "data:image/png;base64," + IMAGES[0]
TEXTS = st.one_of(
    st.sampled_from(["", " ", "\n\n", "\t ", "hi", "héllo wörld", "  padded  ", "trailing\n"]),
    st.sampled_from(["long " * 40, "長い" * 60]),
    st.text(max_size=30),
)
TOOL_NAMES = st.sampled_from(["get_time", "get_weather", "bad name"])
TOOLS = [
    {"type": "function", "function": {"name": "get_time"}},
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
]
# (cloud model, anthropic-version): prefill/no prefill, exclusive sampling, none, unknown.
TARGETS = st.sampled_from(
    [
        ("claude-sonnet-4-5", "2023-06-01"),
        ("claude-haiku-4-5", "2026-10-21"),
        ("claude-opus-4-6", "2023-06-01"),
        ("claude-sonnet-5-5", "2026-10-21"),
        ("claude-next-9", "2023-06-01"),
    ]
)
NUMBERS = st.one_of(
    st.none(), st.integers(-3, 10**6), st.floats(allow_nan=True, allow_infinity=True)
)
STOPS = st.one_of(st.none(), TEXTS, st.lists(TEXTS, max_size=3))


GOOD_TOOL_NAMES = st.sampled_from(["get_time", "get_weather"])
ROLES = ["system", "user", "user", "user", "assistant", "assistant", "tool"]


@st.composite
def ollama_message(draw: st.DrawFn) -> dict[str, Any]:
    """One message of any role: the noise between well-formed exchanges."""
    role = draw(st.sampled_from(ROLES))
    message: dict[str, Any] = {"role": role, "content": draw(TEXTS)}
    if role in ("user", "tool") and draw(st.integers(0, 4)) == 0:
        message["images"] = draw(st.lists(st.sampled_from(IMAGES), min_size=1, max_size=2))
    if role == "assistant" and draw(st.integers(0, 3)) == 0:
        message["tool_calls"] = [
            {"function": {"name": draw(TOOL_NAMES), "arguments": {}}}
            for _ in range(draw(st.integers(1, 2)))
        ]
    if role == "tool" and draw(st.booleans()):
        message["tool_name"] = draw(TOOL_NAMES)
    return message


@st.composite
def ollama_tool_exchange(draw: st.DrawFn) -> list[dict[str, Any]]:
    """An assistant's calls, then one tool message per call (named or not, any order),
    maybe with user text mixed in: the shapes real clients send."""
    names = draw(st.lists(GOOD_TOOL_NAMES, min_size=1, max_size=3))
    calls = [
        {"function": {"name": n, "arguments": draw(st.sampled_from([{}, {"a": 1}]))}} for n in names
    ]
    out: list[dict[str, Any]] = [{"role": "assistant", "content": draw(TEXTS), "tool_calls": calls}]
    results = [
        {"role": "tool", "content": draw(TEXTS), "tool_name": n}
        if draw(st.booleans())
        else {"role": "tool", "content": draw(TEXTS)}
        for n in names
    ]
    if all("tool_name" in r for r in results):
        results = draw(st.permutations(results))
    out += results
    if draw(st.booleans()):
        out.insert(draw(st.integers(1, len(out))), {"role": "user", "content": draw(TEXTS)})
    return out


@st.composite
def conversation(
    draw: st.DrawFn, message: Any, exchange: Any, with_image: dict[str, Any]
) -> list[dict[str, Any]]:
    segments = draw(
        st.lists(
            st.one_of(
                message.map(lambda m: [m]),
                exchange,
                TEXTS.map(lambda t: [{"role": "user", "content": t}]),
                st.tuples(TEXTS, TEXTS).map(
                    lambda pair: [
                        {"role": "user", "content": pair[0]},
                        {"role": "assistant", "content": pair[1]},
                    ]
                ),
            ),
            max_size=6,
        )
    )
    opening = draw(
        st.sampled_from(
            [[], [{"role": "user", "content": "Hello"}], [with_image]]
            + [[{"role": "user", "content": "Hi there"}]] * 2
        )
    )
    closing = draw(st.sampled_from([[], [], [{"role": "assistant", "content": "The answer is "}]]))
    return opening + [m for segment in segments for m in segment] + closing


@st.composite
def ollama_body(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "llama3.2",
        "messages": draw(
            conversation(
                ollama_message(),
                ollama_tool_exchange(),
                {"role": "user", "content": "Look", "images": [IMAGES[0]]},
            )
        ),
    }
    if draw(st.integers(0, 3)) > 0:
        body["tools"] = TOOLS
    if draw(st.booleans()):
        body["options"] = {
            "temperature": draw(NUMBERS),
            "top_p": draw(NUMBERS),
            "top_k": draw(NUMBERS),
            "num_predict": draw(NUMBERS),
            "stop": draw(STOPS),
            "seed": 7,
            "num_ctx": 2048,
        }
    body["format"] = draw(st.sampled_from([None, None, None, "", "json", {"type": "object"}]))
    body["stream"] = draw(st.sampled_from([None, True, False]))
    return body


CALL_IDS = st.sampled_from(["call_1", "call_2", "call 3!", None])


@st.composite
def openai_message(draw: st.DrawFn) -> dict[str, Any]:
    role = draw(st.sampled_from(ROLES + ["developer"]))
    content: Any = draw(TEXTS)
    if role == "user" and draw(st.booleans()):
        content = [{"type": "text", "text": draw(TEXTS)}]
        if draw(st.booleans()):
            url = "data:image/png;base64," + draw(st.sampled_from(IMAGES))
            content.append({"type": "image_url", "image_url": {"url": url}})
    message: dict[str, Any] = {"role": role, "content": content}
    if role == "assistant" and draw(st.integers(0, 3)) == 0:
        message["content"] = draw(st.sampled_from([None, content]))
        message["tool_calls"] = [
            {
                "id": draw(CALL_IDS),
                "type": "function",
                "function": {
                    "name": draw(TOOL_NAMES),
                    "arguments": draw(st.sampled_from(["", "{}", '{"a": 1}', "[1]"])),
                },
            }
            for _ in range(draw(st.integers(1, 2)))
        ]
    if role == "tool":
        message["tool_call_id"] = draw(CALL_IDS)
    return message


@st.composite
def openai_tool_exchange(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Calls with ids (reused across exchanges, or not fitting Anthropic's pattern), then
    their results in any order, maybe with user text mixed in."""
    ids = draw(
        st.lists(
            st.sampled_from(["call_1", "call_2", "call_3", "call 4!", "x.y"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    calls = [
        {
            "id": call_id,
            "type": "function",
            "function": {
                "name": draw(GOOD_TOOL_NAMES),
                "arguments": draw(st.sampled_from(["", "{}", '{"a": 1}'])),
            },
        }
        for call_id in ids
    ]
    out: list[dict[str, Any]] = [
        {
            "role": "assistant",
            "content": draw(st.sampled_from([None, "", "let me check"])),
            "tool_calls": calls,
        }
    ]
    out += [
        {"role": "tool", "tool_call_id": i, "content": draw(TEXTS)}
        for i in draw(st.permutations(ids))
    ]
    if draw(st.booleans()):
        out.insert(draw(st.integers(1, len(out))), {"role": "user", "content": draw(TEXTS)})
    return out


@st.composite
def openai_body(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": draw(
            conversation(
                openai_message(),
                openai_tool_exchange(),
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Look"},
                        {"type": "image_url", "image_url": {"url": PNG_URL}},
                    ],
                },
            )
        ),
        "temperature": draw(NUMBERS),
        "top_p": draw(NUMBERS),
        "max_tokens": draw(NUMBERS),
        "stop": draw(STOPS),
        "frequency_penalty": 0.5,
        "user": "someone",
    }
    if draw(st.integers(0, 3)) > 0:
        body["tools"] = TOOLS
        body["tool_choice"] = draw(st.sampled_from(["auto", "none", "required", None]))
    body["response_format"] = draw(
        st.sampled_from([None, None, {"type": "text"}, {"type": "json_object"}])
    )
    return body


ALLOWED_PARAMS = {
    "model", "max_tokens", "messages", "system", "stop_sequences",
    "temperature", "top_p", "top_k", "tools", "tool_choice",
}  # fmt: skip
BLOCK_KEYS = {
    "text": {"type", "text"},
    "image": {"type", "source"},
    "tool_use": {"type", "id", "name", "input"},
    "tool_result": {"type", "tool_use_id", "content"},
}


def assert_acceptable(req: CloudRequest, model: str, api_version: str) -> None:
    """The Messages API rules (REFERENCE.md) for ``model`` under ``api_version``."""
    caps = capabilities_for(model, api_version)
    params = req.params
    assert set(params) <= ALLOWED_PARAMS and {"model", "max_tokens", "messages"} <= set(params)
    assert 1 <= params["max_tokens"] <= caps.max_output_tokens
    for key in ("temperature", "top_p", "top_k"):
        assert key not in params or key in caps.sampling_params
    assert 0 <= params.get("temperature", 0) <= 1
    assert 0 < params.get("top_p", 1) <= 1
    if caps.exclusive_sampling:
        assert not {"temperature", "top_p"} <= set(params)
    assert all(stop.strip() for stop in params.get("stop_sequences", []))
    assert "system" not in params or params["system"].strip()

    messages = params["messages"]
    assert messages and messages[0]["role"] == "user"
    roles = [m["role"] for m in messages]
    assert all(x != y for x, y in zip(roles, roles[1:], strict=False)), roles
    if roles[-1] == "assistant":
        assert caps.accepts_prefill
        assert params.get("tool_choice", {}).get("type") not in ("any", "tool")
        last = messages[-1]["content"][-1]
        assert last["type"] == "text" and last["text"] == last["text"].rstrip()
    uses_tools = False
    for index, m in enumerate(messages):
        assert set(m) == {"role", "content"} and m["content"]
        kinds = [b["type"] for b in m["content"]]
        for block in m["content"]:
            assert set(block) <= BLOCK_KEYS[block["type"]]
            if block["type"] == "text":
                assert block["text"].strip()
            if block["type"] == "image":
                data = base64.b64decode(block["source"]["data"])
                assert sniff_media_type(data) == block["source"]["media_type"]
        if m["role"] == "user":
            assert "tool_use" not in kinds
            assert kinds == sorted(kinds, key=lambda kind: kind != "tool_result")
            previous = messages[index - 1]["content"] if index else []
            calls = sorted(b["id"] for b in previous if b["type"] == "tool_use")
            results = sorted(b["tool_use_id"] for b in m["content"] if b["type"] == "tool_result")
            assert calls == results
        else:
            assert "tool_result" not in kinds and "image" not in kinds
        uses_tools = uses_tools or "tool_use" in kinds or "tool_result" in kinds
    if uses_tools:
        assert params.get("tools")
    ids = [b["id"] for m in messages for b in m["content"] if b["type"] == "tool_use"]
    assert len(ids) == len(set(ids))
    text_bytes = sum(
        len(b["text"].encode()) for m in messages for b in m["content"] if b["type"] == "text"
    )
    assert req.input_tokens_upper_bound >= text_bytes
    assert validate_body(params, api_version=api_version) is None


def convert_or_stay_local(
    endpoint: Endpoint, body: dict[str, Any], target: tuple[str, str], limit: float | None
) -> CloudRequest | None:
    """The conversion, or None when it stays local. A float ``limit`` is a fraction of the
    untrimmed bound (so trimming is exercised whatever the conversation's size)."""
    model, api_version = target

    def attempt(max_input_tokens: int | None) -> CloudRequest:
        return to_cloud(
            endpoint,
            body,
            cloud_model=model,
            default_max_tokens=1024,
            max_input_tokens=max_input_tokens,
            caps=capabilities_for(model, api_version),
        )

    try:
        if isinstance(limit, float):
            limit = int(attempt(None).input_tokens_upper_bound * limit)
        req = attempt(limit)
    except BadRequest:  # ConversionError included: the request stays local
        return None
    assert limit is None or req.input_tokens_upper_bound <= limit
    return req


# Pinned: the duplicate tool-call id bug hypothesis found (an id reused by a later
# exchange must not give two tool_use blocks the same id).
REUSED_CALL_ID: dict[str, Any] = {
    "model": "m",
    "tools": TOOLS,
    "messages": [
        {"role": "user", "content": "weather twice"},
        *[
            m
            for text in ("first", "second")
            for m in (
                {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1",
                 "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": text},
            )
        ],
        {"role": "user", "content": "thanks"},
    ],
}  # fmt: skip
UNNAMED_OLLAMA_CALLS: dict[str, Any] = {
    "model": "m",
    "tools": TOOLS,
    "messages": [
        {"role": "user", "content": "time twice"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "get_time", "arguments": {}}},
            {"function": {"name": "get_time", "arguments": {}}}]},
        {"role": "tool", "content": "noon"},
        {"role": "tool", "content": "noon"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "get_time", "arguments": {}}}]},
        {"role": "tool", "content": "one"},
    ],
}  # fmt: skip


LIMITS = st.one_of(st.none(), st.integers(50, 5000), st.sampled_from([0.5, 0.8, 0.95]))


@SETTINGS
@given(body=ollama_body(), target=TARGETS, limit=LIMITS)
@example(body=UNNAMED_OLLAMA_CALLS, target=("claude-sonnet-4-5", "2023-06-01"), limit=None)
def test_any_ollama_chat_converts_to_acceptable_params_or_stays_local(
    body: dict[str, Any], target: tuple[str, str], limit: float | None
) -> None:
    req = convert_or_stay_local(Endpoint.OLLAMA_CHAT, body, target, limit)
    if req is not None:
        assert_acceptable(req, *target)
        assert req.is_stream is (body.get("stream") is not False)


@SETTINGS
@given(body=openai_body(), target=TARGETS, limit=LIMITS)
@example(body=REUSED_CALL_ID, target=("claude-sonnet-4-5", "2023-06-01"), limit=None)
@example(body=REUSED_CALL_ID, target=("claude-sonnet-5-5", "2026-10-21"), limit=0.8)
def test_any_openai_chat_converts_to_acceptable_params_or_stays_local(
    body: dict[str, Any], target: tuple[str, str], limit: float | None
) -> None:
    req = convert_or_stay_local(Endpoint.OPENAI_CHAT, body, target, limit)
    if req is not None:
        assert_acceptable(req, *target)
        assert req.is_stream is False


@SETTINGS
@given(prompt=TEXTS, system=st.one_of(st.none(), TEXTS), target=TARGETS)
def test_any_generate_prompt_converts_or_stays_local(
    prompt: str, system: str | None, target: tuple[str, str]
) -> None:
    body = {"model": "m", "prompt": prompt, "system": system}
    req = convert_or_stay_local(Endpoint.OLLAMA_GENERATE, body, target, None)
    if req is not None:
        assert_acceptable(req, *target)
    else:
        assert not prompt.strip()


def _features(req: CloudRequest) -> set[str]:
    blocks = {b["type"] for m in req.params["messages"] for b in m["content"]}
    found = {kind for kind in ("tool_use", "image") if kind in blocks}
    if req.params["messages"][-1]["role"] == "assistant":
        found.add("prefill")
    if req.trimmed_turns:
        found.add("trimmed")
    if req.json_mode:
        found.add("json")
    if {"temperature", "top_p", "top_k"} & set(req.params):
        found.add("sampling")
    return found


@pytest.mark.parametrize("endpoint", [Endpoint.OLLAMA_CHAT, Endpoint.OPENAI_CHAT])
def test_the_generators_reach_every_feature(endpoint: Endpoint) -> None:
    """Guards the properties above against passing vacuously (everything staying local)."""
    seen: set[str] = set()

    @settings(max_examples=800, database=None, deadline=None, derandomize=True)
    @given(
        body=ollama_body() if endpoint == Endpoint.OLLAMA_CHAT else openai_body(),
        target=TARGETS,
        limit=LIMITS,
    )
    def collect(body: dict[str, Any], target: tuple[str, str], limit: int | None) -> None:
        req = convert_or_stay_local(endpoint, body, target, limit)
        if req is not None:
            seen.update(_features(req))

    collect()
    assert seen == {"tool_use", "image", "prefill", "trimmed", "json", "sampling"}


# --- round trip of streams ----------------------------------------------------------------

_NOW = datetime(2026, 11, 25, tzinfo=UTC)
PIECES = st.lists(st.text(min_size=1, max_size=12), max_size=8)


@st.composite
def anthropic_stream(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str, str]:
    """(events, text, thinking): thinking may come first, pings anywhere, text in any pieces."""
    blocks: list[tuple[str, list[str]]] = []
    if draw(st.booleans()):
        blocks.append(("thinking", draw(PIECES)))
    for _ in range(draw(st.integers(0, 3))):
        blocks.append(("text", draw(PIECES)))
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_x", "usage": {"input_tokens": 3}}}
    ]
    for index, (kind, pieces) in enumerate(blocks):
        events.append(
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": kind, kind: ""},
            }
        )
        for piece in pieces:
            if draw(st.booleans()):
                events.append({"type": "ping"})
            delta = {"type": f"{kind}_delta", kind: piece}
            events.append({"type": "content_block_delta", "index": index, "delta": delta})
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 9},
        }
    )
    events.append({"type": "message_stop"})
    text = "".join("".join(p) for kind, p in blocks if kind == "text")
    thinking = "".join("".join(p) for kind, p in blocks if kind == "thinking")
    return events, text, thinking


def request(**overrides: Any) -> CloudRequest:
    values: dict[str, Any] = {
        "params": {},
        "is_stream": True,
        "local_model": "m",
        "trimmed_turns": 0,
        "input_tokens_upper_bound": 1,
        "json_mode": False,
    }
    return CloudRequest(**{**values, **overrides})


def rendered_content(endpoint: Endpoint, frames: list[bytes]) -> tuple[str, str]:
    """(content, thinking) of the frames, read back the way a client would."""
    content, thinking = [], []
    for frame in frames:
        if endpoint == Endpoint.OPENAI_CHAT:
            assert frame.startswith(b"data: ") and frame.endswith(b"\n\n")
            if frame == b"data: [DONE]\n\n":
                continue
            for choice in json.loads(frame[6:])["choices"]:
                content.append(choice["delta"].get("content") or "")
        else:
            assert frame.endswith(b"\n") and b"\n" not in frame[:-1]
            obj = json.loads(frame)
            part = obj["message"] if endpoint == Endpoint.OLLAMA_CHAT else obj
            content.append(part.get("content", part.get("response", "")))
            thinking.append(part.get("thinking", ""))
    return "".join(content), "".join(thinking)


@SETTINGS
@given(stream=anthropic_stream(), endpoint=st.sampled_from(list(Endpoint)), show=st.booleans())
def test_streamed_text_round_trips(
    stream: tuple[list[dict[str, Any]], str, str], endpoint: Endpoint, show: bool
) -> None:
    events, text, thinking = stream
    renderer = StreamRenderer(endpoint, request(expose_thinking=show), now=_NOW)
    frames: list[bytes] = []
    for step, event in enumerate(events):
        frames += renderer.feed(event, now=_NOW, elapsed_ns=step)
    content, shown_thinking = rendered_content(endpoint, frames)
    assert content == text
    expect_thinking = show and endpoint != Endpoint.OPENAI_CHAT
    assert shown_thinking == (thinking if expect_thinking else "")
    assert renderer.has_content is bool(text or (expect_thinking and thinking))
    assert renderer.is_finished and renderer.usage == (3, 9)


@SETTINGS
@given(
    value=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=4),
    cuts=st.lists(st.integers(1, 6), max_size=10),
    endpoint=st.sampled_from(list(Endpoint)),
)
def test_json_mode_stream_round_trips(
    value: dict[str, Any], cuts: list[int], endpoint: Endpoint
) -> None:
    payload = json.dumps(value)
    pieces, position = [], 0
    for cut in cuts:
        pieces.append(payload[position : position + cut])
        position += cut
    pieces.append(payload[position:])
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_j", "usage": {"input_tokens": 1}}},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "t", "name": JSON_TOOL_NAME, "input": {}},
        },
        *[
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": p},
            }
            for p in pieces
        ],
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 2},
        },
        {"type": "message_stop"},
    ]
    renderer = StreamRenderer(endpoint, request(json_mode=True), now=_NOW)
    frames = [frame for event in events for frame in renderer.feed(event, now=_NOW, elapsed_ns=0)]
    content, _ = rendered_content(endpoint, frames)
    assert json.loads(content) == value
