"""sd_notify: tell systemd that brb is ready, what it is doing, that it is alive, that it stops.

Owns the datagram protocol of sd_notify(3): one ``KEY=VALUE`` line (or
several, newline-separated) sent to the ``AF_UNIX`` datagram socket named by
``$NOTIFY_SOCKET``; a name starting with ``@`` is an abstract socket (the
``@`` becomes a NUL byte). With ``Type=notify`` systemd waits for
``READY=1``; with ``WatchdogSec=`` it expects ``WATCHDOG=1`` more often than
``$WATCHDOG_USEC`` and restarts the service otherwise; ``STATUS=`` shows in
``systemctl status``; ``STOPPING=1`` says a stop is under way.

Outside systemd (``$NOTIFY_SOCKET`` unset) every call is a no-op. Sending
never raises: a lost status line must not take the daemon down.

Must not: decide when to send (the daemon does: READY once listening, the
watchdog from the event loop at :func:`watchdog_interval_s`).
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def _address(name: str) -> str | bytes:
    return b"\0" + name[1:].encode() if name.startswith("@") else name


def notify(msg: str) -> bool:
    """Send ``msg`` to ``$NOTIFY_SOCKET``; True if sent, False if unset or failed."""
    name = os.environ.get("NOTIFY_SOCKET")
    if not name:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(_address(name))
            sock.sendall(msg.encode())
    except OSError as exc:
        log.warning("sd_notify to %s failed: %s", name, exc)
        return False
    return True


def ready(status: str | None = None) -> bool:
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""))


def status(text: str) -> bool:
    # One line: a newline would start a new (unknown) assignment.
    return notify("STATUS=" + " ".join(text.splitlines()))


def watchdog() -> bool:
    return notify("WATCHDOG=1")


def stopping(status: str | None = None) -> bool:
    return notify("STOPPING=1" + (f"\nSTATUS={status}" if status else ""))


def watchdog_interval_s() -> float | None:
    """Half of ``$WATCHDOG_USEC`` in seconds (how often to ping), or None.

    Per sd_watchdog_enabled(3) the variables are meant for this process only
    when ``$WATCHDOG_PID`` is unset or names our pid.
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2_000_000 if value > 0 else None
