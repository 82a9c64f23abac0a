"""Generation options fitted to one model: max_tokens, stop_sequences, temperature, top_p, top_k.

Owns: reading Ollama ``options`` and OpenAI's top-level fields into
``Sampling``, and fitting ``Sampling`` to a model's capabilities so that no
sampling parameter can ever cause a 400: values clamped to Anthropic's ranges,
parameters the model (or API version) refuses left out, and ``top_p``
dropped when the model takes only one of temperature/top_p. Unknown options
are never read, so they can't leak. Must not look at messages.
"""

from __future__ import annotations

from brb.core.capabilities import ModelCapabilities

from .request import JSON, Sampling
from .wire import opt_int, opt_number, str_list


def ollama_sampling(options: JSON | None) -> Sampling:
    """Ollama ``options``: num_predict, stop, temperature, top_p, top_k (the rest is dropped)."""
    options = options or {}
    where = "options"
    return Sampling(
        max_tokens=opt_int(options, "num_predict", where),
        stop=tuple(str_list(options.get("stop"), f"{where}.stop")),
        temperature=opt_number(options, "temperature", where),
        top_p=opt_number(options, "top_p", where),
        top_k=opt_int(options, "top_k", where),
    )


def openai_sampling(body: JSON) -> Sampling:
    """OpenAI top level: max_completion_tokens (or the older max_tokens), stop, temperature..."""
    max_tokens = opt_int(body, "max_completion_tokens", "body")
    if max_tokens is None:
        max_tokens = opt_int(body, "max_tokens", "body")
    return Sampling(
        max_tokens=max_tokens,
        stop=tuple(str_list(body.get("stop"), "stop")),
        temperature=opt_number(body, "temperature", "body"),
        top_p=opt_number(body, "top_p", "body"),
        top_k=opt_int(body, "top_k", "body"),
    )


def fit_sampling(sampling: Sampling, caps: ModelCapabilities, default_max_tokens: int) -> JSON:
    """The Anthropic params for ``sampling`` on a model with ``caps``."""
    max_tokens = sampling.max_tokens
    if max_tokens is None or max_tokens <= 0:
        max_tokens = default_max_tokens
    params: JSON = {"max_tokens": max(1, min(max_tokens, caps.max_output_tokens))}
    stops = list(dict.fromkeys(s for s in sampling.stop if s.strip()))
    if stops:
        params["stop_sequences"] = stops
    allowed = caps.sampling_params
    if sampling.temperature is not None and "temperature" in allowed:
        params["temperature"] = min(max(sampling.temperature, 0.0), 1.0)
    # On models taking only one of the two, temperature (the one people tune) wins.
    top_p_allowed = "top_p" in allowed and not (caps.exclusive_sampling and "temperature" in params)
    if sampling.top_p is not None and sampling.top_p > 0 and top_p_allowed:
        params["top_p"] = min(sampling.top_p, 1.0)
    if sampling.top_k is not None and sampling.top_k > 0 and "top_k" in allowed:
        params["top_k"] = sampling.top_k
    return params
