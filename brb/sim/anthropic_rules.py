"""What the simulated Anthropic Messages API refuses, as one pure check over headers and body.

Owns: the request rules of `POST /v1/messages` and `/v1/messages/count_tokens` as
brb's REFERENCE.md records them (auth, `anthropic-version`, required fields, unknown
top-level keys, system, stop sequences, sampling ranges and the per-model and
per-version sampling refusals, tools and tool_choice, thinking), the model table
those depend on, and the error value they produce; the `messages` list itself is
checked by `brb.sim.anthropic_content`. Messages follow the real API's wording
where it is known (`<field path>: <reason>`).

Must not: do I/O or know about HTTP servers: the fake server calls these checks and
tests table-test them directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from brb.sim.anthropic_content import message_problem

JSON = dict[str, Any]

MAX_BODY_BYTES = 32 * 1024 * 1024
SAMPLING_KEYS = frozenset({"temperature", "top_p", "top_k"})
MESSAGES_KEYS = frozenset(
    {
        "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
        "tools", "tool_choice", "thinking", "service_tier", "container", "mcp_servers",
        "context_management", "inference_geo", "output_config", "cache_control", "speed",
        "diagnostics",
    }
)  # fmt: skip
COUNT_TOKENS_KEYS = frozenset(
    {
        "model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers",
        "context_management", "output_config", "cache_control", "speed",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ApiError:
    """An error answer: HTTP status, Anthropic error type, message."""

    status: int
    type: str
    message: str

    def body(self) -> JSON:
        return {"type": "error", "error": {"type": self.type, "message": self.message}}


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


@dataclass(frozen=True, slots=True)
class AnthropicRules:
    """Model- and version-dependent rules; model entries match an id or its dated forms.

    Defaults follow REFERENCE.md: Claude 4.6 models and Haiku 5.5 refuse prefill;
    from API version 2026-10-21 sampling parameters are unknown keys; Sonnet/Haiku 4.5
    refuse `temperature` with `top_p`; the 5.x generation and Opus 4.7+ refuse
    non-default sampling parameters.
    """

    no_prefill_models: tuple[str, ...] = (
        "claude-opus-4-6",
        "claude-sonnet-4-6",
        "claude-haiku-5-5",
    )
    sampling_removed_since: str | None = "2026-10-21"
    exclusive_sampling_models: tuple[str, ...] = ("claude-sonnet-4-5", "claude-haiku-4-5")
    default_sampling_only_models: tuple[str, ...] = (
        "claude-sonnet-5",
        "claude-opus-4-7",
        "claude-opus-4-8",
        "claude-opus-5",
        "claude-haiku-5",
    )


def model_matches(model: str, names: tuple[str, ...]) -> bool:
    return any(model == name or model.startswith(name + "-") for name in names)


def check_headers(headers: Mapping[str, str], api_key: str | None) -> ApiError | None:
    """Auth first (`x-api-key` or `Authorization: Bearer`), then `anthropic-version`.

    `headers` must look names up case-insensitively (aiohttp's and httpx's do).
    `api_key=None` accepts any non-empty key.
    """
    given = headers.get("x-api-key")
    authorization = headers.get("authorization", "")
    if not given and authorization.lower().startswith("bearer "):
        given = authorization[7:].strip()
    if not given:
        return ApiError(401, "authentication_error", "x-api-key header is required")
    if api_key is not None and given != api_key:
        return ApiError(401, "authentication_error", "invalid x-api-key")
    if not headers.get("anthropic-version"):
        return invalid("anthropic-version: header is required")
    return None


def validate_body(
    body: object,
    *,
    rules: AnthropicRules = AnthropicRules(),
    api_version: str = "2023-06-01",
    is_count_tokens: bool = False,
) -> ApiError | None:
    """The first rule `body` breaks, or None when the real API would accept it."""
    if not isinstance(body, dict):
        return invalid("body: Input should be a valid dictionary")
    allowed = COUNT_TOKENS_KEYS if is_count_tokens else MESSAGES_KEYS
    if not is_count_tokens and not _sampling_removed(rules, api_version):
        allowed = allowed | SAMPLING_KEYS
    for key in body:
        if key not in allowed:
            return invalid(f"{key}: Extra inputs are not permitted")
    for check in (_check_model, _check_max_tokens, _check_system, _check_options, _check_tools):
        error = check(body, is_count_tokens)
        if error is not None:
            return error
    refuses_prefill = model_matches(body["model"], rules.no_prefill_models)
    problem = message_problem(body.get("messages"), refuses_prefill=refuses_prefill)
    return invalid(problem) if problem is not None else _check_sampling(body, rules)


def _sampling_removed(rules: AnthropicRules, api_version: str) -> bool:
    since = rules.sampling_removed_since
    return since is not None and api_version >= since


def _check_model(body: JSON, is_count_tokens: bool) -> ApiError | None:
    if "model" not in body:
        return invalid("model: Field required")
    if not isinstance(body["model"], str) or not body["model"]:
        return invalid("model: Input should be a valid string")
    return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_max_tokens(body: JSON, is_count_tokens: bool) -> ApiError | None:
    if is_count_tokens:
        return None
    if "max_tokens" not in body:
        return invalid("max_tokens: Field required")
    if not _is_int(body["max_tokens"]):
        return invalid("max_tokens: Input should be a valid integer")
    if body["max_tokens"] < 1:
        return invalid("max_tokens: Input should be greater than or equal to 1")
    return None


def _check_system(body: JSON, is_count_tokens: bool) -> ApiError | None:
    system = body.get("system")
    if system is None or isinstance(system, str):
        return None
    if not isinstance(system, list):
        return invalid("system: Input should be a valid string or a list of text blocks")
    for index, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            return invalid(f"system.{index}.type: Input should be 'text'")
        if not isinstance(block.get("text"), str) or not block["text"]:
            return invalid(f"system.{index}.text: text content blocks must be non-empty")
    return None


def _check_options(body: JSON, is_count_tokens: bool) -> ApiError | None:
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            return invalid("stop_sequences: Input should be a valid list of strings")
        if any(not s.strip() for s in stops):
            return invalid("stop_sequences: each stop sequence must contain non-whitespace")
    for key in ("temperature", "top_p"):
        value = body.get(key)
        if value is None:
            continue
        if not _is_number(value):
            return invalid(f"{key}: Input should be a valid number")
        if value < 0:
            return invalid(f"{key}: Input should be greater than or equal to 0")
        if value > 1:
            return invalid(f"{key}: Input should be less than or equal to 1")
    top_k = body.get("top_k")
    if top_k is not None and (not _is_int(top_k) or top_k < 0):
        return invalid("top_k: Input should be a non-negative integer")
    if "stream" in body and not isinstance(body["stream"], bool):
        return invalid("stream: Input should be a valid boolean")
    return _check_thinking(body)


def _check_thinking(body: JSON) -> ApiError | None:
    thinking = body.get("thinking")
    if thinking is None:
        return None
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "disabled", "adaptive"):
        return invalid("thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not _is_int(budget) or budget < 1024:
            return invalid(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
            )
        max_tokens = body.get("max_tokens")
        if _is_int(max_tokens) and max_tokens <= budget:
            return invalid("`max_tokens` must be greater than `thinking.budget_tokens`")
    return None


def _check_tools(body: JSON, is_count_tokens: bool) -> ApiError | None:
    tools = body.get("tools")
    names: list[str] = []
    if tools is not None:
        if not isinstance(tools, list):
            return invalid("tools: Input should be a valid list")
        for index, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                return invalid(f"tools.{index}.name: Field required")
            if "type" not in tool and not isinstance(tool.get("input_schema"), dict):
                return invalid(f"tools.{index}.custom.input_schema: Field required")
            names.append(tool["name"])
    choice = body.get("tool_choice")
    if choice is None:
        return None
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in ("auto", "any", "tool", "none"):
        return invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if kind != "none" and not names:
        return invalid("tool_choice may only be specified while providing tools")
    if kind == "tool" and choice.get("name") not in names:
        return invalid(f"tool_choice.tool.name: Tool '{choice.get('name')}' not found in tools")
    thinking = body.get("thinking")
    if (
        kind in ("any", "tool")
        and isinstance(thinking, dict)
        and thinking.get("type") != "disabled"
    ):
        return invalid("Thinking may not be enabled when tool_choice forces tool use.")
    return None


def _check_sampling(body: JSON, rules: AnthropicRules) -> ApiError | None:
    model = body["model"]
    given = [key for key in ("temperature", "top_p", "top_k") if key in body]
    if model_matches(model, rules.exclusive_sampling_models) and {"temperature", "top_p"} <= set(
        given
    ):
        return invalid(
            "`temperature` and `top_p` cannot both be specified for this model. "
            "Please use only one."
        )
    non_default = [k for k in given if not (k == "temperature" and body[k] == 1)]
    if model_matches(model, rules.default_sampling_only_models) and non_default:
        return invalid(f"{non_default[0]}: this model does not support non-default values")
    return None
