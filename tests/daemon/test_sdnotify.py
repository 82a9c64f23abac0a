"""brb.daemon.sdnotify: datagrams to a real $NOTIFY_SOCKET (a path, and an abstract name)."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from brb.daemon import sdnotify


def _listener(address: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2)
    return sock


@pytest.fixture
def path_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    # AF_UNIX paths are limited to 107 bytes: a short temp dir, not pytest's long tmp_path.
    with tempfile.TemporaryDirectory(prefix="brb-sd") as d:
        path = str(Path(d) / "notify")
        with _listener(path) as sock:
            monkeypatch.setenv("NOTIFY_SOCKET", path)
            yield sock


def test_lifecycle_messages_reach_the_socket(path_socket: socket.socket) -> None:
    assert sdnotify.ready("listening on 127.0.0.1:11435")
    assert sdnotify.status("standby, queue 0\nbudget $0.00 of $100.00")
    assert sdnotify.watchdog()
    assert sdnotify.stopping("draining 3 requests")
    got = [path_socket.recv(4096).decode() for _ in range(4)]
    assert got == [
        "READY=1\nSTATUS=listening on 127.0.0.1:11435",
        "STATUS=standby, queue 0 budget $0.00 of $100.00",
        "WATCHDOG=1",
        "STOPPING=1\nSTATUS=draining 3 requests",
    ]


def test_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"brb-test-{uuid.uuid4().hex}"
    with _listener(b"\0" + name.encode()) as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.ready()
        assert sock.recv(4096) == b"READY=1"


def test_no_socket_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.notify("READY=1") is False
    assert sdnotify.watchdog() is False


def test_a_vanished_socket_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert sdnotify.ready() is False
    assert "sd_notify to" in caplog.text


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("30000000", None, 15.0),
        ("30000000", "self", 15.0),
        ("30000000", "1", None),  # meant for another process
        ("0", None, None),
        ("junk", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(
    monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None, expected: float | None
) -> None:
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, str(os.getpid()) if value == "self" else value)
    assert sdnotify.watchdog_interval_s() == expected
