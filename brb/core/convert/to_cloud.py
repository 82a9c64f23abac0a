"""A client body to Anthropic Messages params: the one entry point of request conversion.

Owns the order of the steps — parse the endpoint's dialect, shape the turns
(merge, prefill, pairing), JSON mode, trim to the input limit with a true
token bound, check request-wide image limits, fit sampling to the model —
and the assembled ``CloudRequest``. Raises BadRequest when the body has the
wrong shape (the client gets a 400) and ConversionError when the cloud can't
take it faithfully (it stays local). Must not do I/O.
"""

from __future__ import annotations

from collections.abc import Callable

from brb.core.capabilities import ModelCapabilities
from brb.errors import ConversionError

from .images import check_image_limits
from .messages import (
    check_structure,
    greeting_note,
    has_tool_blocks,
    normalize,
    settle_final_turn,
    split_greeting,
    to_messages,
)
from .request import JSON, ClientRequest, CloudRequest, Endpoint
from .requests_ollama import parse_ollama_chat, parse_ollama_generate
from .requests_openai import parse_openai_chat
from .sampling import fit_sampling
from .token_bound import fixed_bound
from .tools import json_tool
from .trimming import trim_to_fit
from .wire import require_object

THINKING_BUDGET_TOKENS = 1024  # the smallest budget the Messages API accepts

_PARSERS: dict[Endpoint, Callable[[JSON], ClientRequest]] = {
    Endpoint.OLLAMA_CHAT: parse_ollama_chat,
    Endpoint.OLLAMA_GENERATE: parse_ollama_generate,
    Endpoint.OPENAI_CHAT: parse_openai_chat,
}


def to_cloud(
    endpoint: Endpoint,
    body: object,
    *,
    cloud_model: str,
    default_max_tokens: int,
    max_input_tokens: int | None,
    caps: ModelCapabilities,
) -> CloudRequest:
    """Convert one client request; see the module docstring for what is raised when."""
    client = _PARSERS[Endpoint(endpoint)](require_object(body, "body"))
    return build_cloud_request(
        client,
        cloud_model=cloud_model,
        default_max_tokens=default_max_tokens,
        max_input_tokens=max_input_tokens,
        caps=caps,
    )


def build_cloud_request(
    client: ClientRequest,
    *,
    cloud_model: str,
    default_max_tokens: int,
    max_input_tokens: int | None,
    caps: ModelCapabilities,
) -> CloudRequest:
    tools = list(client.tools)
    tool_choice = client.tool_choice
    json_mode = client.json_schema is not None
    if client.json_schema is not None:
        if tools:
            raise ConversionError("JSON output together with tools can't be converted")
        tool, tool_choice = json_tool(client.json_schema)
        tools = [tool]
    # A forced tool choice is implemented by the API as its own prefill of the
    # assistant turn (tool use docs): ours would collide with it.
    forced = tool_choice is not None and tool_choice.get("type") in ("any", "tool")
    turns, greeting = split_greeting(normalize(client.turns))
    thinking = client.expose_thinking and caps.reasoning and not forced
    thinking = thinking and not has_tool_blocks(turns)  # past thinking blocks can't be replayed
    accepts_prefill = caps.accepts_prefill and not forced and not thinking

    turns = settle_final_turn(turns, accepts_prefill=accepts_prefill)
    check_structure(turns)

    system_parts = [*client.system, *([greeting_note(greeting)] if greeting else [])]
    system = "\n\n".join(part for part in system_parts if part.strip()) or None
    limit = caps.context_window_tokens
    if max_input_tokens is not None:
        limit = min(limit, max_input_tokens)
    trimmed = trim_to_fit(turns, fixed_tokens=fixed_bound(system, tools), limit_tokens=limit)
    turns = trimmed.turns
    if has_tool_blocks(turns) and not tools:
        raise ConversionError("the history has tool calls but the request defines no tools")
    check_image_limits(
        sum(turn.image_count for turn in turns),
        max((turn.image_max_side_px for turn in turns), default=0),
    )

    params: JSON = {"model": cloud_model}
    params.update(fit_sampling(client.sampling, caps, default_max_tokens))
    if thinking and caps.max_output_tokens > THINKING_BUDGET_TOKENS:
        # Ollama `think`: the model's reasoning option, its thinking comes back as
        # message.thinking. The budget is on top of the answer's own max_tokens, and
        # thinking takes no sampling parameters (the API refuses them with it).
        answer_tokens = int(params["max_tokens"])
        for key in ("temperature", "top_p", "top_k"):
            params.pop(key, None)
        params["max_tokens"] = min(caps.max_output_tokens, answer_tokens + THINKING_BUDGET_TOKENS)
        params["thinking"] = {"type": "enabled", "budget_tokens": THINKING_BUDGET_TOKENS}
    params["messages"] = to_messages(turns)
    if system is not None:
        params["system"] = system
    if tools:
        params["tools"] = tools
        if tool_choice is not None:
            params["tool_choice"] = tool_choice
    return CloudRequest(
        params=params,
        is_stream=client.is_stream,
        local_model=client.local_model,
        trimmed_turns=trimmed.dropped_turns,
        input_tokens_upper_bound=trimmed.input_tokens_upper_bound,
        json_mode=json_mode,
        expose_thinking=client.expose_thinking,
        include_usage=client.include_usage,
    )
