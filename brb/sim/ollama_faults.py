"""The fake Ollama's injected failures: what is armed, and how each one answers.

Owns the queues of armed failures (an error answer at once, an error line
after the first chunk, a connection cut) and their answers in Ollama's forms
(or the OpenAI-compatible error object on ``/v1``), and cutting a connection
where it stands. Where in a request each one strikes is
:mod:`brb.sim.ollama`'s. Must not know about brb.
"""

from __future__ import annotations

import logging
from collections import deque

from aiohttp import web

from brb.sim import ollama_wire as wire
from brb.sim.ollama_wire import JSON

log = logging.getLogger(__name__)

MIDSTREAM_MESSAGE = "an error was encountered while running the model: unexpected EOF"


class OllamaFaults:
    """Failures armed for the next requests; each is used up by one request."""

    def __init__(self) -> None:
        self.failures: deque[tuple[int, JSON | str]] = deque()
        self.midstream: deque[str] = deque()  # error lines for the next streams
        self.resets = 0

    def fail_next(self, n: int = 1, status: int = 503, body: JSON | str | None = None) -> None:
        """The next `n` valid generation requests get `status` and `body` at once.

        The default body is Ollama's busy answer for 503, else a generic error object.
        """
        if body is None:
            message = wire.BUSY_MESSAGE if status == 503 else "simulated failure"
            body = {"error": message}
        self.failures.extend([(status, body)] * n)

    def error_midstream_next(self, n: int = 1, message: str = MIDSTREAM_MESSAGE) -> None:
        """The next `n` generation requests fail after the 200: one chunk, then an error line.

        A non-streaming request armed this way gets a 500 with the error instead.
        """
        self.midstream.extend([message] * n)

    def reset_midstream_next(self, n: int = 1) -> None:
        """The next `n` generation requests lose their connection after the first chunk
        (no error line, no final object); a non-streaming one loses it before any byte."""
        self.resets += n

    def take_reset(self) -> bool:
        if self.resets <= 0:
            return False
        self.resets -= 1
        return True

    def take_failure(self, is_openai: bool) -> web.Response | None:
        try:
            status, body = self.failures.popleft()
        except IndexError:
            return None
        log.debug("injected failure: %s", status)
        if isinstance(body, str):
            return web.Response(status=status, text=body)
        if is_openai and isinstance(body.get("error"), str):
            body = wire.openai_error(status, body["error"])
        return web.json_response(body, status=status)


def cut(request: web.Request, response: web.StreamResponse | None = None) -> web.StreamResponse:
    """Cut the connection where it stands (no answer, or no end to one already started).

    The answer returned goes nowhere: aiohttp's write to the closed transport is
    its quiet "client disconnected" path, not a handler error."""
    if request.transport is not None:
        request.transport.abort()
    return response if response is not None else web.Response(status=204)
