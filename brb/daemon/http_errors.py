"""The one mapping from brb errors to HTTP answers, and which paths are brb's own.

Owns the aiohttp middleware that turns a :class:`~brb.errors.BrbError` into
its status with an Ollama-style ``{"error": "..."}`` body (bad input is a
4xx, never a 500, a hang or a traceback; a client too slow to send its body
gets its 408 and the connection is cut), and the test for a path under the
admin prefix however it is spelt (such a path is never forwarded to Ollama).
Must not decide routes or read bodies (:mod:`brb.daemon.front` does).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from aiohttp import web

from brb.errors import BrbError, ClientTooSlow

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/admin/big-red-button"
_SLASHES = re.compile(r"/+")


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def is_admin_path(path: str) -> bool:
    """Whether ``path`` is, however spelt, under the admin prefix: never forwarded."""
    folded = _SLASHES.sub("/", unquote(path)).lower()
    return folded == ADMIN_PREFIX or folded.startswith(ADMIN_PREFIX + "/")


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except ClientTooSlow as exc:
        # answer, then cut the connection: no lingering read of the rest of the body
        response = error_response(exc.http_status, str(exc))
        response.force_close()
        await response.prepare(request)
        await response.write_eof()
        request.protocol.force_close()
        return response
    except BrbError as exc:
        if exc.http_status >= 500:
            log.warning("%s %s: %s", request.method, request.path, exc)
        return error_response(exc.http_status, str(exc))
    except web.HTTPException as exc:
        if exc.status == 413:
            return error_response(413, "request body too large")
        raise
