"""The JSON bodies the simulated Ollama sends, shaped as ollama/ollama docs/api.md shows them.

Owns: native bodies (`/api/chat`, `/api/generate` chunks and final objects with their
nanosecond timings, `/api/tags`, `/api/ps`, `/api/show`, `/api/embed`), the OpenAI-
compatible bodies Ollama serves under `/v1`, model-name normalisation, the fake's
deterministic reply pieces and prompt-size estimate.

Must not: do I/O, sleep or read the clock: times and timestamps are parameters.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

DEFAULT_MODEL = "llama3.2:latest"
# A fixed, plausible "model already loaded" cost; real Ollama reports a few ms here.
LOAD_NS = 2_000_000
BUSY_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"


@dataclass(frozen=True, slots=True)
class Timings:
    """Where one request's time went, in nanoseconds, as Ollama's final object reports it.

    Real Ollama does not report queue wait; a proxy infers it as
    total - load - prompt_eval - eval, so `total_ns` is built to keep that identity.
    """

    wait_ns: int
    prompt_eval_ns: int
    eval_ns: int
    load_ns: int = LOAD_NS

    @property
    def total_ns(self) -> int:
        return self.wait_ns + self.load_ns + self.prompt_eval_ns + self.eval_ns

    @classmethod
    def split(cls, wait_s: float, service_s: float) -> Timings:
        """A fifth of the service time is prompt evaluation, the rest generation."""
        service_ns = max(0, round(service_s * 1e9))
        prompt_eval_ns = service_ns // 5
        return cls(
            wait_ns=max(0, round(wait_s * 1e9)),
            prompt_eval_ns=prompt_eval_ns,
            eval_ns=service_ns - prompt_eval_ns,
        )


@dataclass(frozen=True, slots=True)
class Reply:
    """What one generation request gets back, decided before any byte is sent."""

    model: str
    created_at: str
    created: int
    completion_id: str
    pieces: list[str]
    prompt_tokens: int

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def normalize_model(name: str) -> str:
    """`llama3.2` and `llama3.2:latest` name the same model, as in Ollama."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def reply_pieces(reply_text: str, chunks: int) -> list[str]:
    """`chunks` deterministic pieces; joined they are the whole reply."""
    count = max(1, chunks)
    return [reply_text if i == 0 else f" {reply_text}" for i in range(count)]


def token_pieces(count: int) -> list[str]:
    """A reply of ``count`` tokens, one piece each (a stream sends a line per token)."""
    return ["tok" if i == 0 else " tok" for i in range(max(1, count))]


def prompt_chars(body: JSON) -> int:
    """Characters of prompt text in a chat, generate or OpenAI chat request."""
    total = 0
    for key in ("prompt", "system", "suffix"):
        value = body.get(key)
        if isinstance(value, str):
            total += len(value)
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                total += len(content)
            elif isinstance(content, list):  # OpenAI content parts
                total += sum(
                    len(part.get("text", ""))
                    for part in content
                    if isinstance(part, dict) and isinstance(part.get("text", ""), str)
                )
    return total


def prompt_tokens(body: JSON) -> int:
    """About four characters a token, at least one, like a real tokenizer on English."""
    return max(1, math.ceil(prompt_chars(body) / 4))


def final_stats(timings: Timings, prompt_eval_count: int, eval_count: int) -> JSON:
    return {
        "total_duration": timings.total_ns,
        "load_duration": timings.load_ns,
        "prompt_eval_count": prompt_eval_count,
        "prompt_eval_duration": timings.prompt_eval_ns,
        "eval_count": eval_count,
        "eval_duration": timings.eval_ns,
    }


def chat_chunk(model: str, created_at: str, piece: str) -> JSON:
    return {
        "model": model,
        "created_at": created_at,
        "message": {"role": "assistant", "content": piece},
        "done": False,
    }


def chat_final(
    model: str,
    created_at: str,
    content: str,
    timings: Timings,
    prompt_eval_count: int,
    eval_count: int,
) -> JSON:
    """The last object of a chat stream (`content` "") or the whole non-stream answer."""
    return {
        "model": model,
        "created_at": created_at,
        "message": {"role": "assistant", "content": content},
        "done_reason": "stop",
        "done": True,
        **final_stats(timings, prompt_eval_count, eval_count),
    }


def generate_chunk(model: str, created_at: str, piece: str) -> JSON:
    return {"model": model, "created_at": created_at, "response": piece, "done": False}


def generate_final(
    model: str,
    created_at: str,
    response: str,
    timings: Timings,
    prompt_eval_count: int,
    eval_count: int,
) -> JSON:
    return {
        "model": model,
        "created_at": created_at,
        "response": response,
        "done": True,
        "done_reason": "stop",
        "context": [1, 2, 3],
        **final_stats(timings, prompt_eval_count, eval_count),
    }


def embeddings(inputs: Sequence[str], dimensions: int) -> list[list[float]]:
    """Deterministic unit-ish vectors: the same text always embeds the same way."""
    vectors = []
    for text in inputs:
        digest = hashlib.sha256(text.encode()).digest()
        raw = [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(dimensions)]
        norm = math.sqrt(sum(x * x for x in raw)) or 1.0
        vectors.append([round(x / norm, 6) for x in raw])
    return vectors


def model_details() -> JSON:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "3.2B",
        "quantization_level": "Q4_K_M",
    }


def _digest(model: str) -> str:
    return hashlib.sha256(model.encode()).hexdigest()


def tags_body(models: Sequence[str], modified_at: str) -> JSON:
    return {
        "models": [
            {
                "name": m,
                "model": m,
                "modified_at": modified_at,
                "size": 2_019_393_189,
                "digest": _digest(m),
                "details": model_details(),
            }
            for m in models
        ]
    }


def ps_body(models: Sequence[str], expires_at: str) -> JSON:
    return {
        "models": [
            {
                "name": m,
                "model": m,
                "size": 3_432_378_880,
                "digest": _digest(m),
                "details": model_details(),
                "expires_at": expires_at,
                "size_vram": 3_432_378_880,
                "context_length": 4096,
            }
            for m in models
        ]
    }


def show_body(modified_at: str) -> JSON:
    return {
        "modelfile": "# Modelfile generated by the brb simulator\nFROM llama3.2\n",
        "parameters": 'stop                           "<|eot_id|>"',
        "template": "{{ .Prompt }}",
        "details": model_details(),
        "model_info": {"general.architecture": "llama", "llama.context_length": 131072},
        "capabilities": ["completion", "tools"],
        "modified_at": modified_at,
    }


def openai_error(status: int, message: str) -> JSON:
    """Ollama's OpenAI-compatible error shape (openai/openai.go NewError)."""
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def openai_completion(
    completion_id: str, created: int, model: str, content: str, usage: tuple[int, int]
) -> JSON:
    prompt, completion = usage
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_ollama",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def openai_chunk(
    completion_id: str, created: int, model: str, piece: str, finish_reason: str | None
) -> JSON:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_ollama",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": piece},
                "finish_reason": finish_reason,
            }
        ],
    }


def openai_usage_chunk(
    completion_id: str, created: int, model: str, usage: tuple[int, int]
) -> JSON:
    prompt, completion = usage
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_ollama",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def openai_models(models: Sequence[str], created: int) -> JSON:
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": created, "owned_by": "library"} for m in models
        ],
    }


def ndjson_line(obj: Any) -> bytes:
    """One NDJSON line, compact like Ollama's own."""
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def sse_event(obj: Any) -> bytes:
    """One SSE ``data:`` event (OpenAI-compatible streaming)."""
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"
