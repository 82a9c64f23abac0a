"""What each Anthropic model accepts, dated and sourced, beside the price table.

Owns: per-model facts the request converter needs so that a diversion never
turns into a 400 — whether a final assistant message (prefill) is accepted,
which sampling parameters may be sent and whether ``temperature`` and
``top_p`` exclude each other, the context window and the output ceiling — and
how the ``anthropic-version`` header changes them. Must not do I/O or read the
clock; the table is data, overridden only by editing it.

Sources, read 2026-11-25:
- Context window / max output: the per-model pages under
  https://platform.claude.com/docs/en/models/<model>/overview (Haiku 5.5,
  Sonnet 5/5.5, Opus 4.5-5.5, Fable, Mythos: "Context window ... Max output").
  Where sources disagree we keep the smaller number: a low cap costs a
  truncated answer, a high one a 400. (Sonnet 4.6: the Anthropic page says
  128K output, Venice's model page says 64K; we keep 64K.)
- Prefill: "This model does not support assistant message prefill" is
  reported for Opus 4.6 / Sonnet 4.6 (langchain-ai/deepagents#1585,
  anomalyco/opencode#13768, vercel/ai#12296), Opus 4.8 (HKUDS/Vibe-Trading#246)
  and Haiku 5.5 (REFERENCE.md). Every model from 4.6 on is treated as refusing.
- Sampling: Opus 4.7+ and the 5.x generation refuse non-default
  temperature/top_p/top_k (odysseus-dev/odysseus#3117, comet-ml/opik#6523,
  docs.oxen.ai Sonnet 5 page); "`temperature` and `top_p` cannot both be
  specified" is reported for Sonnet 4.5 (charmbracelet/mods#618), Haiku 4.5
  (REFERENCE.md), Sonnet 4.6 (iOfficeAI/AionUi#912) and Opus 4.1
  (Kiln-AI/Kiln#670): every 4.x row that still takes sampling is marked
  exclusive. With ``anthropic-version`` >= 2026-10-21 (what the Python SDK 2.x
  sends: ``anthropic/_constants.py`` ANTHROPIC_API_VERSION) ``temperature`` is
  an unknown key on every model (REFERENCE.md: "Extra inputs are not
  permitted"). ``top_p`` and ``top_k`` left the SDK's ``messages.create`` in the
  same release as ``temperature`` (simonw/llm-anthropic#82) and brb's Anthropic
  simulator refuses all three under that version, so we send none of them:
  losing a sampling knob costs little, a 400 costs the diversion.
Unknown models get the safest row: no prefill, no sampling, a small output cap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

CAPABILITIES_AS_OF = "2026-11-25"
DEFAULT_API_VERSION = "2026-10-21"
SAMPLING_REMOVED_SINCE = "2026-10-21"

SAMPLING_PARAMS = frozenset({"temperature", "top_p", "top_k"})
_NO_SAMPLING: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    """What one model accepts under one API version."""

    accepts_prefill: bool
    sampling_params: frozenset[str]  # which of {"temperature", "top_p", "top_k"} may be sent
    exclusive_sampling: bool  # temperature and top_p may not be sent together
    context_window_tokens: int
    max_output_tokens: int
    reasoning: bool = False  # takes a thinking / reasoning option (Ollama `think`)


def _row(prefill: bool, sampling: bool, context: int, output: int) -> ModelCapabilities:
    return ModelCapabilities(
        accepts_prefill=prefill,
        sampling_params=SAMPLING_PARAMS if sampling else _NO_SAMPLING,
        exclusive_sampling=True,
        context_window_tokens=context,
        max_output_tokens=output,
        reasoning=True,  # extended thinking: every Claude 4 and 5 model
    )


_K = 1_000
_M = 1_000_000
_GEN5 = _row(False, False, _M, 128 * _K)  # the 5.x generation and Opus 4.7+

CAPABILITY_TABLE: Mapping[str, ModelCapabilities] = {
    # 5.x generation: no prefill, no sampling parameters, 1M / 128K.
    "claude-fable-5-2": _GEN5,
    "claude-fable-5-1": _GEN5,
    "claude-fable-5": _GEN5,
    "claude-mythos-5-2": _GEN5,
    "claude-mythos-5-1": _GEN5,
    "claude-mythos-5": _GEN5,
    "claude-mythos-preview": _GEN5,
    "claude-opus-5-5": _GEN5,
    "claude-opus-5": _GEN5,
    "claude-sonnet-5-5": _GEN5,
    "claude-sonnet-5": _GEN5,
    "claude-haiku-5-5": _GEN5,
    "claude-opus-4-8": _GEN5,
    "claude-opus-4-7": _GEN5,
    # 4.6: sampling still accepted (one of temperature/top_p), prefill refused.
    "claude-opus-4-6": _row(False, True, _M, 128 * _K),
    "claude-sonnet-4-6": _row(False, True, _M, 64 * _K),
    # 4.5 and older: prefill accepted; 200K windows (1M only behind a beta header).
    "claude-opus-4-5": _row(True, True, 200 * _K, 64 * _K),
    "claude-sonnet-4-5": _row(True, True, 200 * _K, 64 * _K),
    "claude-haiku-4-5": _row(True, True, 200 * _K, 64 * _K),
    "claude-opus-4-1": _row(True, True, 200 * _K, 32 * _K),
    "claude-opus-4-0": _row(True, True, 200 * _K, 32 * _K),
    "claude-opus-4": _row(True, True, 200 * _K, 32 * _K),
    "claude-sonnet-4-0": _row(True, True, 200 * _K, 64 * _K),
    "claude-sonnet-4": _row(True, True, 200 * _K, 64 * _K),
}

# The safest guess for an id we don't know: nothing optional is sent, and the
# output cap is the smallest any Claude model had (Claude 3 Haiku: 4096).
UNKNOWN_MODEL = ModelCapabilities(
    accepts_prefill=False,
    sampling_params=_NO_SAMPLING,
    exclusive_sampling=True,
    context_window_tokens=200 * _K,
    max_output_tokens=4096,
)

_DATE_SUFFIX = re.compile(r"-(\d{8}|latest)$")


def capabilities_for(model: str, api_version: str = DEFAULT_API_VERSION) -> ModelCapabilities:
    """The capabilities of ``model`` (a bare or dated id) under ``api_version``.

    Ids are matched exactly after dropping a ``-YYYYMMDD`` or ``-latest``
    suffix, never by prefix: a future ``claude-sonnet-4-7`` must not inherit
    ``claude-sonnet-4``'s permissive row.
    """
    caps = CAPABILITY_TABLE.get(_DATE_SUFFIX.sub("", model.strip()), UNKNOWN_MODEL)
    if api_version >= SAMPLING_REMOVED_SINCE and caps.sampling_params:
        caps = replace(caps, sampling_params=_NO_SAMPLING)
    return caps


# --- OpenAI-compatible Chat Completions models ------------------------------------------
#
# Sources, read 2026-11-29: platform.openai.com/docs/guides/reasoning (the o-series
# and GPT-5 family take `reasoning_effort` and refuse non-default `temperature` /
# `top_p`: "Unsupported parameter"); the per-model pages for context windows. A
# Chat Completions model never takes a prefill: a final assistant message is
# context, not the start of the answer, so brb drops it as for Claude 4.6+.
# Other OpenAI-compatible models (Groq, Together, vLLM, ...) get the generic row:
# temperature and top_p (never top_k, which the API doesn't define), 128K / 16K.

_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
OPENAI_GENERIC = ModelCapabilities(
    accepts_prefill=False,
    sampling_params=frozenset({"temperature", "top_p"}),
    exclusive_sampling=False,
    context_window_tokens=128 * _K,
    max_output_tokens=16_384,
)
OPENAI_REASONING = replace(OPENAI_GENERIC, sampling_params=_NO_SAMPLING, reasoning=True)


def openai_capabilities(model: str) -> ModelCapabilities:
    """What an OpenAI-compatible ``model`` accepts (an ``org/`` prefix is ignored)."""
    bare = model.strip().rsplit("/", 1)[-1]
    if bare.startswith(_REASONING_PREFIXES):
        return OPENAI_REASONING
    return OPENAI_GENERIC
