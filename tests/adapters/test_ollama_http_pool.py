"""brb's HTTP/1.1 client to Ollama: its connections kept alive, limited, timed, cancelled,
and paused while brb's reader lags (raw scripted servers on loopback, see raw_upstream)."""

from __future__ import annotations

import asyncio

import pytest
from multidict import CIMultiDict
from raw_upstream import (
    NDJSON_HEAD,
    RawServer,
    Runner,
    answer,
    chunk,
    read_request,
    until,
    until_eof,
)

from brb.adapters.ollama_connection import READ_AHEAD, UpstreamClosed, UpstreamSilent
from brb.adapters.ollama_http import OllamaConnections

HEADERS = CIMultiDict({"Content-Type": "application/json"})


def connections(url: str, read_idle_s: float | None = 60.0, limit: int = 16) -> OllamaConnections:
    return OllamaConnections(
        url, connect_timeout_s=5.0, read_idle_s=read_idle_s, max_connections=limit
    )


async def ask(pool: OllamaConnections, body: bytes = b"{}", method: str = "POST") -> bytes:
    up = await pool.request(method, "/api/chat", HEADERS, body)
    try:
        return await up.read()
    finally:
        up.release()


async def echo_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request on the connection with its own body."""
    while True:
        try:
            _, body = await read_request(reader)
        except asyncio.IncompleteReadError:
            return
        writer.write(answer(body))


def test_several_requests_share_one_kept_alive_connection(run: Runner) -> None:
    async def scenario() -> None:
        async with RawServer(echo_forever) as server:
            pool = connections(server.url)
            for n in range(5):
                assert await ask(pool, b'{"n":%d}' % n) == b'{"n":%d}' % n
            assert server.accepted == 1 and pool.open_connections == pool.idle_connections == 1
            await pool.close()

    run(scenario)


def test_a_connection_the_server_closed_while_idle_is_dropped_and_never_handed_out(
    run: Runner,
) -> None:
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, body = await read_request(reader)
        writer.write(answer(body))  # keep-alive by HTTP/1.1's default, then closed anyway

    async def scenario() -> None:
        async with RawServer(once) as server:
            pool = connections(server.url)
            assert await ask(pool, b"[1]") == b"[1]"
            await server.until(lambda: server.closed == 1)
            await until(lambda: pool.open_connections == 0)  # connection_lost took it out
            assert pool.idle_connections == 0
            assert await ask(pool, b"[2]") == b"[2]"  # on a new connection
            assert server.accepted == 2

    run(scenario)


def test_a_connection_idle_past_keep_idle_is_closed_by_brb_and_a_busy_one_is_not(
    run: Runner,
) -> None:
    async def scenario() -> None:
        async with RawServer(echo_forever) as server:
            pool = OllamaConnections(
                server.url, connect_timeout_s=5.0, read_idle_s=60.0, max_connections=4,
                keep_idle_s=0.2,
            )  # fmt: skip
            first = await pool.request("POST", "/api/chat", HEADERS, b"[1]")
            assert await ask(pool, b"[2]") == b"[2]"  # a second connection, back to the pool
            assert pool.open_connections == 2 and pool.idle_connections == 1
            await server.until(lambda: server.closed == 1)  # the idle one: closed by brb
            assert pool.open_connections == 1 and pool.idle_connections == 0
            assert await first.read() == b"[1]"  # the one in use was left alone
            first.release()
            await server.until(lambda: server.closed == 2)  # and closed once idle in turn
            assert pool.open_connections == 0
            await pool.close()

    run(scenario)


def test_a_stale_connection_is_retried_once_for_an_idempotent_method_never_for_a_post(
    run: Runner,
) -> None:
    async def answers_one_then_hangs_up(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        _, body = await read_request(reader)
        writer.write(answer(body))
        await read_request(reader)  # the second request on it: closed unanswered

    async def scenario() -> None:
        async with RawServer(answers_one_then_hangs_up) as server:
            pool = connections(server.url)
            assert await ask(pool, b"[1]", "PUT") == b"[1]"
            assert await ask(pool, b"[2]", "PUT") == b"[2]"  # sent again on a fresh one
            assert server.accepted == 2
            with pytest.raises(UpstreamClosed):
                await ask(pool, b"[3]", "POST")
            assert server.accepted == 2  # not sent twice
            await pool.close()

    run(scenario)


def test_connection_refused_is_an_os_error(run: Runner) -> None:
    async def scenario() -> None:
        async with RawServer(echo_forever) as server:
            url = server.url
        pool = connections(url)  # nobody listens there any more
        with pytest.raises(OSError):
            await ask(pool)
        assert pool.open_connections == 0

    run(scenario)


def test_silence_before_the_head_past_the_idle_timeout_fails_and_closes(run: Runner) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await until_eof(reader)

    async def scenario() -> None:
        async with RawServer(silent) as server:
            pool = connections(server.url, read_idle_s=0.2)
            with pytest.raises(UpstreamSilent, match="nothing for 0.2s"):
                await ask(pool)
            await server.until(lambda: server.closed == 1)
            assert pool.open_connections == 0

    run(scenario)


def test_silence_mid_answer_past_the_idle_timeout_fails_the_read(run: Runner) -> None:
    async def stalls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(NDJSON_HEAD + chunk(b'{"n":1}\n'))
        await until_eof(reader)

    async def scenario() -> None:
        async with RawServer(stalls) as server:
            # 1 s: the head and first chunk come at once, but a loaded machine may pause us
            pool = connections(server.url, read_idle_s=1.0)
            up = await pool.request("POST", "/api/chat", HEADERS, b"{}")
            got = []
            with pytest.raises(UpstreamSilent):
                async for piece in up.chunks():
                    got.append(piece)
            assert got == [b'{"n":1}\n']
            up.release()
            await server.until(lambda: server.closed == 1)

    run(scenario)


def test_silence_on_a_reused_connection_is_timed_from_its_own_request(run: Runner) -> None:
    async def answers_then_stalls(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        _, body = await read_request(reader)
        writer.write(answer(body))
        await read_request(reader)  # the second: never answered
        await until_eof(reader)

    async def scenario() -> None:
        async with RawServer(answers_then_stalls) as server:
            pool = connections(server.url, read_idle_s=0.3)
            assert await ask(pool, b"[1]") == b"[1]"  # its timer is left armed, for the next
            with pytest.raises(UpstreamSilent, match="nothing for 0.3s"):
                await ask(pool, b"[2]")
            assert server.accepted == 1  # the same connection, timed anew, then closed
            await server.until(lambda: server.closed == 1)

    run(scenario)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_server_dropping_mid_body_fails_the_read(chunked: bool, run: Runner) -> None:
    async def drops(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        if chunked:
            writer.write(NDJSON_HEAD + chunk(b'{"n":1}\n'))
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        await writer.drain()
        writer.transport.abort()

    async def scenario() -> None:
        async with RawServer(drops) as server:
            pool = connections(server.url)
            up = await pool.request("POST", "/api/chat", HEADERS, b"{}")
            with pytest.raises(UpstreamClosed, match="closed the connection"):
                await up.read()
            up.release()
            assert pool.open_connections == 0

    run(scenario)


@pytest.mark.parametrize("where", ["before the head", "mid-body"])
def test_a_cancelled_request_closes_its_connection(where: str, run: Runner) -> None:
    received = asyncio.Event()
    first_chunk = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        if where == "mid-body":
            writer.write(NDJSON_HEAD + chunk(b'{"n":1}\n'))
        received.set()
        await until_eof(reader)  # brb hangs up: Ollama cancels the generation

    async def reader_task(pool: OllamaConnections) -> None:
        up = await pool.request("POST", "/api/chat", HEADERS, b"{}")
        try:
            async for _ in up.chunks():
                first_chunk.set()
        finally:
            up.release()

    async def scenario() -> None:
        async with RawServer(script) as server:
            pool = connections(server.url)
            task = asyncio.create_task(reader_task(pool))
            await (first_chunk if where == "mid-body" else received).wait()
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await server.until(lambda: server.closed == 1)
            assert pool.open_connections == pool.idle_connections == 0

    run(scenario)


def test_past_the_limit_a_request_waits_for_a_release(run: Runner) -> None:
    release = asyncio.Event()
    waiting = 0

    async def held(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal waiting
        while True:
            try:
                _, body = await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            waiting += 1
            await release.wait()
            writer.write(answer(body))

    async def scenario() -> None:
        async with RawServer(held) as server:
            pool = connections(server.url, limit=2)
            tasks = [asyncio.create_task(ask(pool, b"[%d]" % n)) for n in range(3)]
            await until(lambda: waiting == 2 and pool.waiting == 1)
            assert server.accepted == 2 and pool.open_connections == 2
            release.set()
            assert sorted(await asyncio.gather(*tasks)) == [b"[0]", b"[1]", b"[2]"]
            assert server.accepted == 2  # the third went on a released connection
            await pool.close()

    run(scenario)


def test_a_waiter_cancelled_past_the_limit_leaves_no_trace(run: Runner) -> None:
    async def scenario() -> None:
        async with RawServer(echo_forever) as server:
            pool = connections(server.url, limit=1)
            first = await pool.request("POST", "/api/chat", HEADERS, b"[1]")
            late = asyncio.create_task(ask(pool, b"[2]"))
            await until(lambda: pool.waiting == 1)
            late.cancel()
            with pytest.raises(asyncio.CancelledError):
                await late
            assert pool.waiting == 0
            assert await first.read() == b"[1]"
            first.release()
            assert await ask(pool, b"[3]") == b"[3]" and server.accepted == 1
            await pool.close()

    run(scenario)


def test_a_reader_that_lags_pauses_reading_and_the_servers_writes_block(run: Runner) -> None:
    size = 32 * 1024 * 1024  # more than loopback's socket buffers can hold
    piece = b"x" * 65536
    server_transport: list[asyncio.WriteTransport] = []
    wrote = 0

    async def floods(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal wrote
        await read_request(reader)
        server_transport.append(writer.transport)
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        while wrote < size:
            writer.write(piece)
            wrote += len(piece)
            await writer.drain()
        await until_eof(reader)

    async def scenario() -> None:
        async with RawServer(floods) as server:
            pool = connections(server.url)
            up = await pool.request("POST", "/api/generate", HEADERS, b"{}")
            # brb reads nothing: once READ_AHEAD waits unread, it stops reading; the kernel's
            # buffers fill and the server's writes wait in its own transport
            await until(lambda: bool(server_transport) and
                        server_transport[0].get_write_buffer_size() > 0)  # fmt: skip
            assert wrote < size
            unread = sum(len(c) for c in up._chunks)  # what brb holds for this answer
            assert READ_AHEAD < unread <= READ_AHEAD + 512 * 1024
            total = 0
            async for data in up.chunks():  # draining resumes reading, to the end
                total += len(data)
            assert total == size and wrote == size
            up.release()
            assert pool.idle_connections == 1
            await pool.close()

    run(scenario)
