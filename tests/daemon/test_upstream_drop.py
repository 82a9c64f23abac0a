"""Ollama dropping the connection mid-answer: the client is told, not left with
a silently truncated stream, and brb keeps serving."""

from __future__ import annotations

import json

from aiohttp import web
from daemon_rig import MODEL, StartRig, chat_body


class DroppingOllama:
    """Answers /api/chat with a 200, one NDJSON chunk, then closes the socket."""

    received: dict[str, int]

    def __init__(self) -> None:
        self.received = {}

    def app(self) -> web.Application:
        async def chat(request: web.Request) -> web.StreamResponse:
            self.received[request.path] = self.received.get(request.path, 0) + 1
            resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
            await resp.prepare(request)
            await resp.write(
                json.dumps({"model": MODEL, "message": {"content": "par"}, "done": False}).encode()
                + b"\n"
            )
            assert request.transport is not None
            request.transport.close()
            return resp

        async def version(request: web.Request) -> web.Response:
            return web.json_response({"version": "0.12.6"})

        app = web.Application()
        app.router.add_post("/api/chat", chat)
        app.router.add_get("/api/version", version)
        return app


def test_a_dropped_stream_ends_with_an_error_line(start_brb: StartRig) -> None:
    upstream = DroppingOllama()
    rig = start_brb(ollama=upstream)  # type: ignore[arg-type]
    answer = rig.post("/api/chat", chat_body("/api/chat", "hi", stream=True))
    assert answer.status == 200
    lines = answer.lines()
    assert lines[0]["message"]["content"] == "par"
    assert "error" in lines[-1] and "closed" in lines[-1]["error"]
    # the daemon is still fine, and counted the request as done (nothing stuck waiting)
    assert rig.get("/healthz").status == 200
    assert rig.status()["current_queue_depth"] == 0
