"""Timeouts and departures (issue 16, point 8): a client slow to send its body is
cut off with a 408; Ollama silent past ``upstream_timeout.read_idle_seconds`` gives
a 502 or an error line; a client that leaves mid-stream cancels its Ollama request,
keeps its request-log row (outcome ``client_gone``) and leaves no traceback."""

from __future__ import annotations

import json
import logging
import socket
from datetime import timedelta
from typing import Any

import pytest
from daemon_rig import Rig, StartRig, chat_body, poll

from brb.sim.ollama import FakeOllama


def raw_socket(rig: Rig) -> tuple[socket.socket, str]:
    host, port = rig.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10.0), host


def request_rows(rig: Rig) -> list[dict[str, Any]]:
    with rig.store() as s:
        return [dict(r) for r in s.request_log(since=rig.started_at - timedelta(minutes=1))]


def test_a_client_that_stalls_its_body_gets_408_and_is_cut_off(start_brb: StartRig) -> None:
    rig = start_brb(front={"read_timeout_seconds": 0.3})
    s, host = raw_socket(rig)
    with s:
        s.sendall(
            f"POST /api/chat HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            'Content-Length: 100\r\n\r\n{"model":'.encode()
        )
        got = b""
        while chunk := s.recv(4096):  # ends when brb closes the connection
            got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert "front.read_timeout_seconds" in json.loads(body)["error"]
    assert rig.ollama.received["/api/chat"] == 0, rig.ollama.received  # nothing sent on


def test_a_client_leaving_mid_stream_cancels_its_ollama_request(
    start_brb: StartRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # 30 s of answer, a chunk a second: only a cancellation ends it within the test
    rig = start_brb(ollama=FakeOllama(service_s=30.0, chunks=30))
    body = json.dumps(chat_body("/api/chat", "hello", stream=True)).encode()
    s, host = raw_socket(rig)
    with s:
        s.sendall(
            f"POST /api/chat HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        got = b""
        while b'"content"' not in got:  # the first piece of the answer
            got += s.recv(4096)
    assert rig.ollama.queue.in_service == 1
    poll(lambda: rig.ollama.queue.in_service == 0, timeout_s=10.0)
    assert rig.ollama.queue.served == 0  # cancelled, not served to the end
    (row,) = poll(lambda: request_rows(rig), timeout_s=5.0)
    assert row["outcome"] == "client_gone" and row["backend"] == "ollama"
    assert not [r for r in caplog.records if r.exc_info]
    assert "upstream closed" not in caplog.text
    assert "client left /api/chat" in caplog.text


def test_ollama_silent_past_the_idle_timeout_is_a_502_unless_the_cloud_may_take_it(
    start_brb: StartRig,
) -> None:
    rig = start_brb(ollama=FakeOllama(service_s=5.0), upstream_timeout={"read_idle_seconds": 0.3})
    kept = rig.ask("/api/chat", session="compliance-audit")  # may not leave: the error
    assert kept.status == 502
    assert "upstream_timeout.read_idle_seconds" in kept.json()["error"]
    assert rig.cloud_hits() == 0
    # the lone upstream is down now: one that may leave goes to the cloud instead
    answer = rig.ask("/api/chat")
    assert (answer.status, answer.headers["x-brb-route"]) == (200, "upstream_down")
    assert rig.cloud_hits() == 1


def test_ollama_silent_mid_stream_ends_it_with_an_error_line(start_brb: StartRig) -> None:
    rig = start_brb(
        ollama=FakeOllama(service_s=5.0, chunks=2), upstream_timeout={"read_idle_seconds": 0.3}
    )
    answer = rig.ask("/api/chat", stream=True)
    lines = answer.lines()
    assert answer.status == 200 and "content" in lines[0]["message"]
    assert "closed" in lines[-1]["error"]
    (row,) = poll(lambda: request_rows(rig), timeout_s=5.0)
    assert row["outcome"] == "error_midstream"
