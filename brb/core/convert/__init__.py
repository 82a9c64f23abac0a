"""Format conversion between the client APIs brb serves and the Anthropic Messages API.

Owns both directions, streaming included, and nothing else: pure functions
over parsed JSON, no I/O, no clock (``now`` and ``elapsed_ns`` are
parameters), stdlib + brb.core + brb.errors only.

Requests (``to_cloud``): Ollama ``/api/chat`` and ``/api/generate`` and
OpenAI ``/v1/chat/completions`` bodies become Anthropic params. BadRequest
means the body has the wrong shape (the client gets a 400); ConversionError
(a BadRequest) means the cloud can't take it faithfully and it stays local.

Answers: ``render_message`` for a whole Anthropic Message, ``StreamRenderer``
for an event stream (NDJSON for Ollama, SSE for OpenAI).

Modules: request (values), wire (reading fields), requests_ollama /
requests_openai (dialects in), images, tools, sampling, messages (turn
shape), token_bound, trimming, to_cloud (the pipeline), passthrough
(``/v1/messages`` bodies: an allow-list and an honest bound), reply (reading
answers), render_ollama / render_openai (dialects out), streaming.
"""

from __future__ import annotations

from .request import JSON_TOOL_NAME, CloudRequest, Endpoint
from .streaming import StreamRenderer, render_message
from .to_cloud import to_cloud

__all__ = [
    "JSON_TOOL_NAME",
    "CloudRequest",
    "Endpoint",
    "StreamRenderer",
    "render_message",
    "to_cloud",
]
