"""The floor of a Python HTTP proxy: a bare aiohttp pass-through, nothing else.

Used by bench/overhead.py as the reference brb is measured against: same
framework, same streaming loop, same event loop as brb's (``--loop``), no
parsing, no decisions, no bookkeeping.
Run: python bench/bare_proxy.py --listen 127.0.0.1:PORT --upstream URL [--loop uvloop]
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiohttp import web

HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    "host",
    "content-length",
}


def build(upstream: str) -> web.Application:
    session: dict[str, aiohttp.ClientSession] = {}

    async def start(app: web.Application) -> None:
        session["s"] = aiohttp.ClientSession(
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None),
            connector=aiohttp.TCPConnector(limit=1024),
        )

    async def stop(app: web.Application) -> None:
        await session["s"].close()

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        async with session["s"].request(
            request.method, upstream + request.path_qs, headers=headers, data=body
        ) as up:
            out = {k: v for k, v in up.headers.items() if k.lower() not in HOP}
            resp = web.StreamResponse(status=up.status, headers=out)
            await resp.prepare(request)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--listen", default="127.0.0.1:11436")
    p.add_argument("--upstream", default="http://127.0.0.1:11434")
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    a = p.parse_args()
    host, _, port = a.listen.rpartition(":")
    if a.loop == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    web.run_app(
        build(a.upstream.rstrip("/")),
        host=host,
        port=int(port),
        access_log=None,
        print=None,
        loop=loop,
    )


if __name__ == "__main__":
    main()
