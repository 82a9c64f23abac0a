"""A client that leaves before its answer begins (issue 16, point 8): while its
request waits in brb's waiting room, or while Ollama still prefills it. Its
request to Ollama is cancelled at once (or never sent), the room's seat and the
queue count are freed, and its request-log row says ``client_gone``, with one
log line and no traceback. Driven with raw sockets, so the departure is real."""

from __future__ import annotations

import json
import logging
import socket
from datetime import timedelta
from typing import Any

import pytest
from daemon_rig import Rig, StartRig, chat_body, poll

from brb.sim.ollama import FakeOllama

LONG_S = 60.0  # only a cancellation ends a request this long within the test


def service_s(body: Any) -> float:
    """The fake's service time: long for the requests that are left, short for the rest."""
    return 0.0 if "quick" in json.dumps(body) else LONG_S


def send_chat(rig: Rig, text: str, *, stream: bool = False) -> socket.socket:
    """An /api/chat request on a fresh connection, its answer left unread."""
    host, port = rig.url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=10.0)
    body = json.dumps(chat_body("/api/chat", text, stream=stream)).encode()
    s.sendall(
        f"POST /api/chat HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return s


def request_rows(rig: Rig) -> list[dict[str, Any]]:
    with rig.store() as s:
        return [dict(r) for r in s.request_log(since=rig.started_at - timedelta(minutes=1))]


def rows_when(rig: Rig, n: int) -> list[dict[str, Any]] | None:
    rows = request_rows(rig)
    return rows if len(rows) == n else None


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], [
        r.getMessage() for r in caplog.records if r.exc_info
    ]
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("waiting_room", [True, False])
def test_a_client_leaving_while_ollama_prefills_cancels_its_request(
    start_brb: StartRig, caplog: pytest.LogCaptureFixture, waiting_room: bool
) -> None:
    caplog.set_level(logging.INFO)
    # a non-streamed answer: Ollama sends nothing until it is done
    rig = start_brb(ollama=FakeOllama(service_s=service_s), waiting_room={"enabled": waiting_room})
    s = send_chat(rig, "a long prefill")
    poll(lambda: rig.ollama.queue.in_service == 1, timeout_s=10.0)
    s.close()  # gone before the first byte of its answer
    poll(lambda: rig.ollama.queue.in_service == 0, timeout_s=10.0)  # cancelled in Ollama
    assert rig.ollama.queue.served == 0
    (row,) = poll(lambda: request_rows(rig), timeout_s=5.0)
    assert row["outcome"] == "client_gone" and row["backend"] == "ollama"
    poll(lambda: rig.status()["current_queue_depth"] == 0, timeout_s=5.0)
    # brb counts nothing in flight any more: the next request is sent at once and served
    answer = rig.ask("/api/chat", "quick")
    assert answer.status == 200 and answer.headers["x-brb-provider"] == "ollama"
    no_tracebacks(caplog)
    assert "before its answer began" in caplog.text


def test_a_client_leaving_the_waiting_room_is_never_sent(
    start_brb: StartRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rig = start_brb(ollama=FakeOllama(service_s=LONG_S, num_parallel=1))
    holder = send_chat(rig, "holds the only slot")
    poll(lambda: rig.ollama.queue.in_service == 1, timeout_s=10.0)
    # the room's first waiter is its probe for a slot brb does not know of: sent, it
    # waits inside Ollama; no other probe while it is out
    probe = send_chat(rig, "probes for another slot")
    poll(lambda: rig.ollama.queue.waiting == 1, timeout_s=10.0)
    poll(lambda: rig.status()["current_queue_depth"] == 1, timeout_s=10.0)  # the probe
    waiter = send_chat(rig, "waits in brb's room")
    poll(lambda: rig.status()["current_queue_depth"] == 2, timeout_s=10.0)
    waiter.close()
    poll(lambda: rig.status()["current_queue_depth"] == 1, timeout_s=10.0)
    (row,) = poll(lambda: request_rows(rig), timeout_s=5.0)
    assert row["outcome"] == "client_gone" and row["backend"] == "ollama"
    holder.close()  # the probe gets the slot; then it leaves too
    poll(lambda: rig.ollama.queue.in_service == 1 and rig.ollama.queue.waiting == 0)
    probe.close()
    poll(lambda: rig.ollama.queue.in_service == 0, timeout_s=10.0)
    rows = poll(lambda: rows_when(rig, 3), timeout_s=5.0)
    assert rig.status()["current_queue_depth"] == 0
    assert [r["outcome"] for r in rows] == ["client_gone"] * 3
    # the one that left the room was never sent; the others were cancelled unserved
    assert rig.ollama.received["/api/chat"] == 2 and rig.ollama.queue.served == 0
    no_tracebacks(caplog)
