"""An estimate of one request body against the configured chain: ``brb estimate``'s library.

Owns reading a body (JSON text, which endpoint's shape it is), the chain's
targets for it (each provider's cloud model and price, from config), and
the one call that puts the figures (:mod:`brb.core.estimate`) and the route
(:class:`brb.router.Router`, the daemon's own decision) together:
:func:`estimate_body`. Shared by the CLI (state from the
store) and the daemon's admin endpoint (its live state). Must not import
the HTTP stack or a provider SDK, and changes nothing anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from brb.config import BrbConfig
from brb.core.capabilities import DEFAULT_API_VERSION, capabilities_for, openai_capabilities
from brb.core.conversation import (
    ANTHROPIC_MESSAGES,
    ENDPOINTS,
    OLLAMA_CHAT,
    OLLAMA_GENERATE,
    OPENAI_CHAT,
    read_conversation,
)
from brb.core.estimate import Estimate, Target, estimate
from brb.core.service_model import ReplyLengths
from brb.errors import UsageError
from brb.router import Router, RouteState


def read_body(text: str, endpoint: str | None = None) -> tuple[str, dict[str, Any]]:
    """The endpoint and JSON object of a request body, or a UsageError saying why not."""
    if not text.strip():
        raise UsageError("the body is empty: give a JSON request body")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(body, dict):
        raise UsageError(f"the body must be a JSON object, not {type(body).__name__}")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise UsageError("the body has no model: every inference request names one")
    if endpoint is not None:
        if endpoint not in ENDPOINTS:
            raise UsageError(f"--endpoint must be one of {', '.join(ENDPOINTS)}, not {endpoint!r}")
        return endpoint, body
    return guess_endpoint(body), body


def guess_endpoint(body: Mapping[str, Any]) -> str:
    """Which inference endpoint a body was written for, from the fields only one has
    (a body with nothing but model and messages is Ollama's: the cost is the same)."""
    if "prompt" in body and "messages" not in body:
        return OLLAMA_GENERATE
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise UsageError("can't tell the endpoint (no messages list, no prompt): pass --endpoint")
    roles = {m.get("role") for m in messages if isinstance(m, dict)}
    kinds = {
        part.get("type")
        for m in messages
        if isinstance(m, dict) and isinstance(m.get("content"), list)
        for part in m["content"]
        if isinstance(part, dict)
    }
    has_images = any(isinstance(m, dict) and "images" in m for m in messages)
    if has_images or any(k in body for k in ("options", "format", "keep_alive", "think")):
        return OLLAMA_CHAT
    openai_keys = ("max_completion_tokens", "response_format", "n", "stream_options", "seed")
    if (
        any(k in body for k in openai_keys)
        or roles & {"system", "developer", "tool"}
        or kinds & {"image_url", "input_audio"}
    ):
        return OPENAI_CHAT
    anthropic_kinds = {"image", "tool_use", "tool_result", "document", "thinking"}
    if "system" in body or "max_tokens" in body or kinds & anthropic_kinds:
        return ANTHROPIC_MESSAGES
    return OLLAMA_CHAT


def targets(
    cfg: BrbConfig, local_model: str, api_version: str = DEFAULT_API_VERSION
) -> list[Target]:
    """Each provider of the chain as the estimate needs it, in chain order, with the
    capabilities the cloud leg plans with (so the worst case is its reservation)."""
    out = []
    for spec in cfg.provider_chain():
        model = spec.cloud_model_for(local_model)
        caps = (
            capabilities_for(model, api_version)
            if spec.kind == "anthropic"
            else openai_capabilities(model)
        )
        out.append(Target(spec.name, model, cfg.price_for(model), caps))
    return out


def estimate_body(
    cfg: BrbConfig,
    endpoint: str,
    body: dict[str, Any],
    *,
    state: RouteState,
    sessions: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    replies: ReplyLengths | None = None,
    exact_prompt_tokens: int | None = None,
    api_version: str = DEFAULT_API_VERSION,
    router: Router | None = None,
) -> Estimate:
    """The estimate of ``body`` for ``endpoint`` under ``cfg``, routed as ``state`` says
    (by ``router``, the daemon's own, when the caller has one)."""
    conv = read_conversation(endpoint, body)
    model = str(body.get("model", ""))
    decision = (router or Router(cfg)).route(
        endpoint, body, conv, sessions=sessions, headers=headers or {}, state=state
    )
    return estimate(
        endpoint,
        body,
        conv,
        targets(cfg, model, api_version),
        default_max_tokens=cfg.models.max_tokens,
        max_input_tokens=cfg.models.max_input_tokens,
        replies=replies,
        exact_prompt_tokens=exact_prompt_tokens,
        route=decision,
    )
