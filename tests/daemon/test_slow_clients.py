"""Clients slow to send their request head (issue 16, point 8; Slowloris): one that
trickles its headers, or sends nothing, is cut off after ``front.read_timeout_seconds``
(a 408 when it had begun a request); a kept-alive connection idle between requests
is not; many slow clients don't keep a normal request from being served; and a
client that stops reading its answer is dropped (``front.write_timeout_seconds``)."""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
from datetime import timedelta

import pytest
from daemon_rig import Rig, StartRig, chat_body, poll

from brb.sim.ollama import FakeOllama

TRICKLE_BOUND_S = 30.0  # far past the timeouts below: a client still going then was not cut


def connect(rig: Rig) -> tuple[socket.socket, str]:
    host, port = rig.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=TRICKLE_BOUND_S), host


def healthz(s: socket.socket, host: str) -> bytes:
    """One ``GET /healthz`` on the kept-alive connection ``s``; its whole answer."""
    s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        answer += s.recv(4096)
    return answer


def trickle_until_answered(s: socket.socket, head: bytes) -> bytes:
    """Send ``head``, then one header byte every 50 ms (never ending the head),
    until brb answers or closes; returns what it sent back."""
    s.sendall(head + b"X-Slow: ")
    for _ in range(int(TRICKLE_BOUND_S / 0.05)):
        readable, _, _ = select.select([s], [], [], 0.05)
        if readable:
            break
        try:
            s.sendall(b"a")
        except (BrokenPipeError, ConnectionResetError):
            break
    else:
        pytest.fail(f"still trickling headers after {TRICKLE_BOUND_S}s: never cut off")
    got = b""
    try:
        while chunk := s.recv(4096):
            got += chunk
    except ConnectionResetError:
        pass
    return got


def test_a_client_trickling_its_headers_gets_408_and_is_cut_off(start_brb: StartRig) -> None:
    rig = start_brb(front={"read_timeout_seconds": 0.5})
    s, host = connect(rig)
    with s:
        got = trickle_until_answered(s, f"POST /api/chat HTTP/1.1\r\nHost: {host}\r\n".encode())
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), got
    assert "front.read_timeout_seconds" in json.loads(body)["error"]
    assert rig.ollama.received["/api/chat"] == 0  # nothing reached Ollama
    assert rig.get("/healthz").status == 200  # and brb serves on


def test_a_kept_alive_connection_trickling_its_next_head_is_cut_off(start_brb: StartRig) -> None:
    rig = start_brb(front={"read_timeout_seconds": 0.5})
    s, host = connect(rig)
    with s:
        assert healthz(s, host).startswith(b"HTTP/1.1 200")
        got = trickle_until_answered(s, f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n".encode())
    assert got.startswith(b"HTTP/1.1 408"), got


def test_a_later_head_has_its_own_deadline_not_the_connections_first(
    start_brb: StartRig,
) -> None:
    """One timer per connection: armed when the connection opened, it still runs when
    the next head begins; that head is given its full deadline from its own first
    byte (it completes past the connection's first deadline and is served)."""
    rig = start_brb(front={"read_timeout_seconds": 3.0})
    s, host = connect(rig)
    with s:
        assert healthz(s, host).startswith(b"HTTP/1.1 200")
        readable, _, _ = select.select([s], [], [], 2.0)  # most of the first deadline
        assert not readable
        s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n".encode())  # half a head
        readable, _, _ = select.select([s], [], [], 1.5)  # past the connection's first deadline
        assert not readable, s.recv(4096)  # not cut off at the earlier head's deadline
        s.sendall(b"\r\n")
        second = b""
        while b"\r\n\r\n" not in second or not second.rstrip().endswith(b"}"):
            chunk = s.recv(4096)
            assert chunk, "brb closed the connection"
            second += chunk
        assert second.startswith(b"HTTP/1.1 200"), second
        # and that head's own deadline still holds: a trickled third head is cut off
        got = trickle_until_answered(s, f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n".encode())
    assert got.startswith(b"HTTP/1.1 408"), got


def test_a_client_that_sends_nothing_is_disconnected(start_brb: StartRig) -> None:
    rig = start_brb(front={"read_timeout_seconds": 0.5})
    s, _ = connect(rig)
    with s, contextlib.suppress(ConnectionResetError):  # closed by brb (reset or not)
        assert s.recv(4096) == b""  # the socket's timeout is the bound


def test_a_kept_alive_connection_idle_between_requests_is_not_cut_off(
    start_brb: StartRig,
) -> None:
    """Idle between requests is keepalive_timeout's business, not the head's deadline."""
    rig = start_brb(front={"read_timeout_seconds": 0.3})
    s, host = connect(rig)
    with s:
        for _ in range(2):
            s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            got = b""
            while b"\r\n\r\n" not in got or not got.rstrip().endswith(b"}"):
                chunk = s.recv(4096)
                assert chunk, "brb closed a kept-alive connection between requests"
                got += chunk
            assert got.startswith(b"HTTP/1.1 200")
            # idle for several times the head's deadline before the next request
            readable, _, _ = select.select([s], [], [], 1.5)
            assert not readable, "brb closed (or wrote to) an idle kept-alive connection"


def test_a_body_sent_after_its_answer_does_not_start_the_head_deadline(
    start_brb: StartRig,
) -> None:
    """aiohttp reads and drops a body its handler left unread: those bytes are not a
    head, so the idle connection after them is not cut off."""
    rig = start_brb(front={"read_timeout_seconds": 0.3})
    s, host = connect(rig)
    with s:
        s.sendall(
            f"POST /admin/big-red-button/nothing-here HTTP/1.1\r\nHost: {host}\r\n"
            "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n".encode()
        )
        got = b""
        while not got.rstrip().endswith(b"}"):
            got += s.recv(4096)
        assert got.startswith(b"HTTP/1.1 404")
        s.sendall(b"{}")  # the body, after its answer
        readable, _, _ = select.select([s], [], [], 1.5)
        assert not readable, s.recv(4096)  # no 408, not closed
        s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert s.recv(4096).startswith(b"HTTP/1.1 200")


def test_many_slow_clients_do_not_keep_a_normal_request_from_being_served(
    start_brb: StartRig,
) -> None:
    rig = start_brb()  # the default deadline (30 s): the slow ones stay connected meanwhile
    slow: list[socket.socket] = []
    try:
        for _ in range(100):
            s, host = connect(rig)
            s.sendall(f"POST /api/chat HTTP/1.1\r\nHost: {host}\r\nX-Slow: a".encode())
            slow.append(s)
        answer = rig.ask("/api/chat")
        assert answer.status == 200 and answer.headers["x-brb-provider"] == "ollama"
        assert rig.get("/healthz").status == 200
    finally:
        for s in slow:
            s.close()


def test_a_client_that_stops_reading_its_answer_is_dropped_and_ollama_freed(
    start_brb: StartRig, caplog: pytest.LogCaptureFixture
) -> None:
    """It stays connected but reads nothing: without a write deadline its Ollama
    request would hold a slot for as long as it waits."""
    caplog.set_level(logging.INFO)
    # 13 MB over 20 s: far more than the socket buffers between them hold
    fake = FakeOllama(service_s=20.0, chunks=200, reply_text="x" * 65536)
    rig = start_brb(ollama=fake, front={"write_timeout_seconds": 0.5})
    host, port = rig.url.removeprefix("http://").split(":")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(TRICKLE_BOUND_S)
    s.connect((host, int(port)))
    with s:
        body = json.dumps(chat_body("/api/chat", "never read", stream=True)).encode()
        s.sendall(
            f"POST /api/chat HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert s.recv(1) == b"H"  # the answer has begun; then nothing more is read
        poll(lambda: fake.queue.in_service == 0, timeout_s=TRICKLE_BOUND_S)
        assert fake.queue.served == 0  # cut short, not served to the end
    with rig.store() as st:
        (row,) = poll(lambda: st.request_log(since=rig.started_at - timedelta(minutes=1)))
    assert row["outcome"] == "client_gone"
    assert "front.write_timeout_seconds" in caplog.text
    assert not [r for r in caplog.records if r.exc_info]
