"""A client's ``/v1/messages`` body to provider params: an allow-list, and an honest bound.

Owns which Messages API request fields brb passes on, what it refuses, and
the true upper bound of the request's input tokens. The provider call is
built from the allow-list, never by spreading the client's body: SDK-only
keys (``extra_body``, ``extra_headers``, ``extra_query``, ``timeout``) would
otherwise let a client switch the model, raise ``max_tokens`` past what was
reserved, or add beta headers, and an unknown key would fail inside the SDK.

- Passed as they are: ``messages``, ``system``, ``max_tokens``,
  ``stop_sequences``, ``stream``, ``metadata``, ``tools``, ``tool_choice``,
  ``thinking``, ``output_config``, ``cache_control``, ``service_tier``.
- ``temperature``, ``top_p``, ``top_k``: fitted to the model and API version
  by the same rules as the converted endpoints (:mod:`.sampling`), so an
  old client's ``temperature`` is left out where the model refuses it.
- ``model``: replaced by the configured cloud model.
- Known but with a cost brb can't bound (:data:`UNBOUNDED_FIELDS`):
  ``UnboundedCost``, the request stays local.
- Anything else: BadRequest naming the field (the client gets a 400).
- No positive integer ``max_tokens``: ConversionError (it stays local, where
  Ollama may take it).

The input bound (see :mod:`.token_bound` for why bytes bound tokens) is the
JSON's bytes, plus the tool-use system prompt when tools are defined, plus
the image ceiling per base64 image (a small compressed image can cost far
more tokens than bytes), plus framing. No honest bound exists for content
the provider fetches or runs (URL or ``file_id`` sources, base64 PDFs whose
page count is unknown, server tools with per-use fees, MCP servers, code
execution containers): UnboundedCost. A ``cache_control`` with ``ttl: 1h``
anywhere makes the bound price input at the 1-hour cache-write rate
(:func:`brb.core.pricing.worst_case_usd`). Must not do I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from brb.core.capabilities import ModelCapabilities
from brb.errors import BadRequest, ConversionError, UnboundedCost

from .images import IMAGE_TOKENS_CEILING
from .request import JSON, Sampling
from .sampling import fit_sampling
from .token_bound import REQUEST_OVERHEAD_TOKENS, TOOL_USE_SYSTEM_PROMPT_TOKENS, utf8_bytes
from .wire import opt_int, opt_number, require_object, str_list

PASSED_FIELDS = frozenset(
    {
        "messages",
        "system",
        "stop_sequences",
        "metadata",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "cache_control",
        "service_tier",
    }
)
SAMPLING_FIELDS = frozenset({"temperature", "top_p", "top_k"})
OWN_FIELDS = frozenset({"model", "max_tokens", "stream"})
# Messages API fields whose cost brb can't bound: the request stays local.
UNBOUNDED_FIELDS = frozenset({"container", "mcp_servers", "inference_geo", "speed"})
ALLOWED_FIELDS = PASSED_FIELDS | SAMPLING_FIELDS | OWN_FIELDS | UNBOUNDED_FIELDS

# Framing the JSON bytes may not show (role markers, block framing), generously.
PASSTHROUGH_OVERHEAD_TOKENS = 600
_PROVIDER_SOURCES = frozenset({"url", "file"})
_CUSTOM_TOOL_TYPES = frozenset({"custom"})


@dataclass(frozen=True, slots=True)
class PassthroughRequest:
    """The provider params of one ``/v1/messages`` body and what the reservation needs."""

    params: JSON
    is_stream: bool
    input_tokens_upper_bound: int
    max_tokens: int
    has_1h_cache_writes: bool


def check_fields(body: JSON) -> None:
    """A BadRequest naming the first top-level key that is not a Messages API field."""
    unknown = sorted(key for key in body if key not in ALLOWED_FIELDS)
    if unknown:
        raise BadRequest(
            f"/v1/messages: unknown field {unknown[0]!r}: brb passes only Messages API "
            "request fields (SDK options such as extra_body or timeout are not body fields)"
        )


def passthrough_request(
    body: object, *, cloud_model: str, caps: ModelCapabilities
) -> PassthroughRequest:
    """The provider call for a ``/v1/messages`` body; raises BadRequest or UnboundedCost."""
    body = require_object(body, "body")
    check_fields(body)
    max_tokens = body.get("max_tokens")
    if type(max_tokens) is not int or max_tokens <= 0:  # Anthropic's 400; Ollama may take it
        raise ConversionError("/v1/messages: max_tokens is required, a positive integer")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("/v1/messages: stream must be true or false")
    check_cost_bounded(body)
    if "stop_sequences" in body:
        str_list(body["stop_sequences"], "stop_sequences")
    sampling = Sampling(
        max_tokens=max_tokens,
        temperature=opt_number(body, "temperature", "body"),
        top_p=opt_number(body, "top_p", "body"),
        top_k=opt_int(body, "top_k", "body"),
    )
    # max_tokens is capped at the model's output ceiling (more would be a 400).
    fitted = fit_sampling(sampling, caps, max_tokens)
    params: JSON = {"model": cloud_model, "max_tokens": fitted["max_tokens"]}
    params.update({k: body[k] for k in sorted(PASSED_FIELDS) if k in body})
    params.update({k: v for k, v in fitted.items() if k in SAMPLING_FIELDS})
    return PassthroughRequest(
        params=params,
        is_stream=stream,
        input_tokens_upper_bound=input_bound_tokens(params),
        max_tokens=fitted["max_tokens"],
        has_1h_cache_writes=has_1h_cache_writes(body),
    )


def is_cost_bounded(body: JSON) -> bool:
    """Whether brb can bound what the provider would bill for ``body`` (see below)."""
    try:
        check_cost_bounded(body)
    except UnboundedCost:
        return False
    return True


def check_cost_bounded(body: JSON) -> None:
    """UnboundedCost when the provider could bill more than the body shows."""
    for key in sorted(UNBOUNDED_FIELDS):
        if key in body and not (key == "speed" and body[key] in (None, "standard")):
            raise UnboundedCost(f"/v1/messages: {key} has a cost brb can't bound")
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind is not None and kind not in _CUSTOM_TOOL_TYPES:
            raise UnboundedCost(f"/v1/messages: the {kind!r} tool has a cost brb can't bound")
    for node in _objects(body.get("messages")):
        source = node.get("source")
        if node.get("type") in ("image", "document") and isinstance(source, dict):
            kind = source.get("type")
            if kind in _PROVIDER_SOURCES or "file_id" in source or "url" in source:
                raise UnboundedCost(
                    f"/v1/messages: a {node['type']} the provider fetches ({kind}) has no "
                    "honest bound"
                )
            if node["type"] == "document" and kind == "base64":
                raise UnboundedCost("/v1/messages: a PDF's page count (its cost) is unknown")
        if node.get("type") == "container_upload":
            raise UnboundedCost("/v1/messages: a container upload has a cost brb can't bound")


def input_bound_tokens(params: JSON) -> int:
    """Every prompt token the provider can count for ``params`` (see the module docstring)."""
    counted = {k: v for k, v in params.items() if k not in ("model", "max_tokens")}
    total = REQUEST_OVERHEAD_TOKENS + PASSTHROUGH_OVERHEAD_TOKENS
    total += utf8_bytes(json.dumps(counted, ensure_ascii=False))
    if params.get("tools"):
        total += TOOL_USE_SYSTEM_PROMPT_TOKENS
    images = sum(1 for node in _objects(params.get("messages")) if node.get("type") == "image")
    return total + images * IMAGE_TOKENS_CEILING


def has_1h_cache_writes(body: JSON) -> bool:
    """Whether any ``cache_control`` asks for the 1-hour cache (billed at 2x input)."""
    for node in _objects(body):
        cc = node.get("cache_control")
        if isinstance(cc, dict) and cc.get("ttl") == "1h":
            return True
    return False


def _objects(value: object) -> Iterator[JSON]:
    """Every JSON object inside ``value``, depth first (iterative: no recursion limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
