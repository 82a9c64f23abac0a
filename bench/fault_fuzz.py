"""A hypothesis fuzz of every inference endpoint's body and headers, against a live brb.

Owns the strategies (shapes close to each client API's, with every field
also allowed to be any JSON, raw non-JSON bytes, compressed or falsely
labelled bodies, brb's own headers and random ones) and the run: a bounded
number of derandomized examples, half with the button pressed (bodies go
through the conversion to the fake Anthropic) and half in auto (to the fake
Ollama). Counted: the statuses, every 500, and requests that got no answer.
"""

from __future__ import annotations

import gzip
import http.client
import json
import zlib
from typing import Any

from fault_report import Row
from fault_rig import Captured, Exchange, Rig
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PATHS = ("/api/chat", "/api/generate", "/v1/chat/completions", "/v1/messages")
TIMEOUT_S = 60.0

leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=24)
)
any_json = st.recursive(
    leaf, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    max_leaves=16,
)  # fmt: skip
MODELS = st.sampled_from(["llama3", "llama3.3:70b", "qwen3:8b", "claude-sonnet-5-5"])
model = st.one_of(MODELS, MODELS, MODELS, st.text(max_size=40))  # mostly real names
text = st.text(max_size=60)
block = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image", "tool_use", "tool_result", "document", "thinking"])},
    optional={"text": st.text(max_size=30), "source": any_json, "input": any_json,
              "id": st.text(max_size=8), "tool_use_id": st.text(max_size=8),
              "content": any_json, "cache_control": any_json, "name": st.text(max_size=8)},
)  # fmt: skip
content = text | st.lists(block, max_size=3)
role = st.sampled_from(["user", "assistant", "system", "tool"])
message = st.fixed_dictionaries(
    {"role": role, "content": content},
    optional={"images": st.lists(st.text(max_size=12), max_size=2), "tool_calls": any_json,
              "name": st.text(max_size=8), "tool_call_id": st.text(max_size=8)},
)  # fmt: skip
tool = st.fixed_dictionaries(
    {"name": st.text(max_size=12)},
    optional={"description": text, "input_schema": any_json, "parameters": any_json,
              "type": st.just("function"), "function": any_json},
)  # fmt: skip
# A sane value for each optional field (the shapes brb converts), or any JSON at all.
FIELDS = {
    "options": st.fixed_dictionaries(
        {},
        optional={
            "temperature": st.floats(-1, 3),
            "num_predict": st.integers(-2, 10**6),
            "stop": st.lists(text, max_size=2),
            "top_p": st.floats(0, 1),
            "top_k": st.integers(0, 100),
        },
    ),
    "format": st.sampled_from(["json", ""]) | any_json,
    "keep_alive": st.sampled_from(["5m", 0, -1]),
    "images": st.lists(st.text(max_size=12), max_size=2),
    "system": text | st.lists(block, max_size=2),
    "tools": st.lists(tool, max_size=2),
    "tool_choice": st.sampled_from(["auto", "none", "required", {"type": "any"}]) | any_json,
    "stop": st.lists(text, max_size=3) | text,
    "stop_sequences": st.lists(text, max_size=3),
    "thinking": st.fixed_dictionaries(
        {"type": st.sampled_from(["enabled", "adaptive", "x"])},
        optional={"budget_tokens": st.integers(-1, 10**5)},
    ),
    "metadata": any_json,
    "n": st.integers(-1, 5),
    "response_format": any_json,
    "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
    "temperature": st.floats(-1, 3),
    "top_p": st.floats(-1, 2),
    "top_k": st.integers(-1, 1000),
    "max_tokens": st.integers(-5, 10**7),
    "max_completion_tokens": st.integers(-5, 10**6),
    "cache_control": any_json,
    "extra_body": any_json,
    "extra_headers": any_json,
    "timeout": any_json,
    "service_tier": st.sampled_from(["auto", "standard_only", "x"]),
    "mcp_servers": any_json,
    "suffix": text,
    "raw": st.booleans(),
    "template": text,
    "context": st.lists(st.integers(0, 10), max_size=3),
}


@st.composite
def request_body(draw: st.DrawFn, path: str) -> bytes:
    """A request for ``path``: its own shape with a few extra fields (sane or not),
    or any JSON, raw bytes, or deep nesting."""
    kind = draw(st.sampled_from(["shaped"] * 6 + ["any", "raw", "nested"]))
    if kind == "any":
        return json.dumps(draw(any_json)).encode()
    if kind == "raw":
        return draw(st.binary(max_size=120))
    if kind == "nested":
        depth = draw(st.integers(0, 80))
        return ("[" * depth + "]" * depth).encode()
    body: dict[str, Any] = {"model": draw(model), "stream": draw(st.booleans())}
    if path == "/api/generate":
        body["prompt"] = draw(text)
    else:
        body["messages"] = draw(st.lists(message, min_size=1, max_size=4))
    if path == "/v1/messages":
        body["max_tokens"] = draw(st.integers(1, 4096))
    names = draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=3, unique=True))
    for name in names:
        body[name] = draw(FIELDS[name] | any_json) if draw(st.booleans()) else draw(FIELDS[name])
    if draw(st.integers(0, 9)) == 9:  # now and then a required field of the wrong type
        body[draw(st.sampled_from(["model", "messages", "prompt", "stream"]))] = draw(any_json)
    return json.dumps(body).encode()


HEADER_NAMES = [
    "X-Session-ID", "X-BRB-Local-Only", "Content-Encoding", "Content-Type", "anthropic-version",
    "anthropic-beta", "Authorization", "x-api-key", "Accept", "Accept-Encoding", "Expect",
]  # fmt: skip
header_value = st.sampled_from(
    ["gzip", "deflate", "br", "identity", "zstd", "1", "0", "application/json", "text/plain",
     "2023-06-01", "100-continue", "Bearer x", "gzip, deflate"]
) | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)  # fmt: skip
headers = st.dictionaries(
    st.sampled_from(HEADER_NAMES) | st.from_regex(r"X-[A-Za-z0-9-]{1,16}", fullmatch=True),
    header_value,
    max_size=4,
)


def encoded(raw: bytes, hdrs: dict[str, str]) -> bytes:
    """The body compressed as its Content-Encoding says, when that is one we can make."""
    enc = next((v for k, v in hdrs.items() if k.lower() == "content-encoding"), "")
    if enc == "gzip":
        return gzip.compress(raw)
    if enc == "deflate":
        return zlib.compress(raw)
    return raw


def post(rig: Rig, path: str, raw: bytes, hdrs: dict[str, str]) -> tuple[int, str, bytes]:
    """One request over a fresh connection: (status or 0 for none, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", rig.port, timeout=TIMEOUT_S)
    try:
        conn.request("POST", path, body=raw, headers=hdrs)
        r = conn.getresponse()
        return r.status, str(r.headers), r.read()
    except (OSError, http.client.HTTPException) as exc:
        return 0, "", f"<client: {type(exc).__name__}: {exc}>".encode()
    finally:
        conn.close()


def run(rig: Rig, captured: Captured, row: Row, examples: int) -> list[str]:
    """Fuzz ``examples`` requests; the 500s and unanswered ones described (a few)."""
    bad: list[str] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data(), headers, st.booleans())
    def one(data_: st.DataObject, hdrs: dict[str, str], compress: bool) -> None:
        path = data_.draw(st.sampled_from(PATHS))
        raw = data_.draw(request_body(path))
        data = encoded(raw, hdrs) if compress else raw
        status, head, answer = post(rig, path, data, hdrs)
        captured.exchanges.append(Exchange(status, head, answer))
        kind = _kind(status)
        row.outcomes[kind] += 1
        row.status_500 += status == 500
        row.cloud += "x-brb-provider: anthropic" in head.lower()
        if (status == 500 or kind == "lost") and len(bad) < 5:
            bad.append(f"{path} {hdrs} {raw[:200]!r} -> {status} {answer[:200]!r}")

    one()
    return bad


def _kind(status: int) -> str:
    if status == 0:
        return "lost"
    if status >= 500:
        return "5xx"
    return "refused" if status >= 400 else "answered"


__all__: list[Any] = ["PATHS", "run"]
