"""The values that travel through conversion: endpoints, turns, the parsed and the cloud request.

Owns: ``Endpoint`` (which client API a body came from), ``Turn`` (one
Anthropic message under construction, with what the token bound needs to know
about its images), ``ClientRequest`` (a client body read into Anthropic terms,
before merging, prefill and trimming) and ``CloudRequest`` (what the dispatcher
sends and what the renderers need to answer in the client's dialect).
Must not parse or render anything itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

JSON = dict[str, Any]
Role = Literal["user", "assistant"]

# The one tool that implements JSON mode (Ollama `format`, OpenAI `response_format`).
JSON_TOOL_NAME = "json_response"


class Endpoint(StrEnum):
    OLLAMA_CHAT = "/api/chat"
    OLLAMA_GENERATE = "/api/generate"
    OPENAI_CHAT = "/v1/chat/completions"


@dataclass(slots=True)
class Turn:
    """One message in Anthropic terms, still being assembled (hence mutable).

    ``image_tokens`` is the summed token bound of the turn's images and
    ``image_max_side_px`` their largest side: both are known only while the
    bytes are decoded, and the bound and image limits need them afterwards.
    """

    role: Role
    blocks: list[JSON]
    image_count: int = 0
    image_tokens: int = 0
    image_max_side_px: int = 0

    def absorb(self, other: Turn) -> None:
        self.blocks.extend(other.blocks)
        self.image_count += other.image_count
        self.image_tokens += other.image_tokens
        self.image_max_side_px = max(self.image_max_side_px, other.image_max_side_px)


@dataclass(frozen=True, slots=True)
class Sampling:
    """Generation options as the client gave them (validated, not yet fitted to a model)."""

    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """A client body read into Anthropic terms; endpoint-specific parsing ends here."""

    local_model: str
    is_stream: bool
    system: tuple[str, ...]
    turns: tuple[Turn, ...]
    sampling: Sampling
    tools: tuple[JSON, ...] = ()
    tool_choice: JSON | None = None
    json_schema: JSON | None = None  # set when the client asked for JSON output
    expose_thinking: bool = False
    include_usage: bool = False


@dataclass(frozen=True, slots=True)
class CloudRequest:
    """A request ready for the Anthropic Messages API, and how to answer the client."""

    params: JSON  # Anthropic Messages params; never a "stream" key
    is_stream: bool  # what the client asked for
    local_model: str  # the model name the client asked for, echoed in answers
    trimmed_turns: int  # oldest turns dropped to fit max_input_tokens
    input_tokens_upper_bound: int  # a true upper bound on the prompt's tokens
    json_mode: bool  # JSON output implemented as forced use of JSON_TOOL_NAME
    expose_thinking: bool = False  # Ollama `think`: show thinking as message.thinking
    include_usage: bool = False  # OpenAI stream_options.include_usage
