"""The scale hook's delivery: one JSON payload to a URL (POST) or a command (stdin).

Owns the two ways ``scale_hook`` reaches ops' own tooling: ``{url: ...}``
gets the payload as a JSON POST (any 2xx is success), ``{command: [...]}`` is
run without a shell with the payload on stdin (exit 0 is success; its output
is discarded but for the last line of stderr, which a failure reports). Each
attempt is bounded by ``timeout_seconds``; a command still running then is
killed by its pid. Every failure is a :class:`ScaleHookFailed` with a message
that names the target (the URL without its credentials or query) and what went
wrong, never the payload. brb never calls a cloud API here: what the hook
does with the number is ops' business. Must not decide when to call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from brb.errors import BrbError


class ScaleHookFailed(BrbError):
    """The scale hook could not be delivered (refused, timed out, non-2xx, exit != 0)."""


class HookTarget(Protocol):
    """The ``scale_hook`` config section (:class:`brb.capacity_config.ScaleHook`)."""

    @property
    def url(self) -> str | None: ...
    @property
    def command(self) -> Sequence[str] | None: ...
    @property
    def timeout_seconds(self) -> float: ...


def describe(target: HookTarget) -> str:
    """The target as logs, events and alerts name it: a URL without its userinfo and
    query (either may hold a token), or the command's program."""
    if target.url is not None:
        return _shown(target.url)
    return f"command {(target.command or ['?'])[0]}"


def _shown(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


async def deliver(target: HookTarget, payload: dict[str, Any]) -> None:
    """Send ``payload`` to ``target``; raise :class:`ScaleHookFailed` if it did not take it."""
    body = json.dumps(payload).encode()
    if target.url is not None:
        await _post(target.url, body, target.timeout_seconds)
    else:
        await _run(list(target.command or ()), body, target.timeout_seconds)


async def _post(url: str, body: bytes, timeout_s: float) -> None:
    where = _shown(url)
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
            session.post(url, data=body, headers={"Content-Type": "application/json"}) as answer,
        ):
            if answer.status >= 300:
                raise ScaleHookFailed(f"scale hook {where} answered HTTP {answer.status}")
    except TimeoutError:
        raise ScaleHookFailed(f"scale hook {where} did not answer within {timeout_s:g}s") from None
    except aiohttp.ClientError as exc:
        raise ScaleHookFailed(f"scale hook {where} unreachable: {type(exc).__name__}") from None


async def _run(argv: list[str], body: bytes, timeout_s: float) -> None:
    what = f"scale hook command {argv[0]}"
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise ScaleHookFailed(f"{what} can't be run: {exc.strerror or exc}") from None
    try:
        _, err = await asyncio.wait_for(proc.communicate(body), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()  # the command we started, by its pid
        await proc.wait()
        raise ScaleHookFailed(f"{what} still running after {timeout_s:g}s: killed") from None
    if proc.returncode != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise ScaleHookFailed(f"{what} exited {proc.returncode}: {last[0][:200]}")
