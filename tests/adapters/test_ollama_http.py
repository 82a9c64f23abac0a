"""brb's HTTP/1.1 client to Ollama: answers of every framing, headers, what goes on the wire.

Against the fake Ollama (brb.sim) where it behaves like Ollama, and a scripted raw
server (raw_upstream) for the bytes only a misbehaving or unusual upstream sends.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import struct

import pytest
from multidict import CIMultiDict
from raw_upstream import (
    LAST_CHUNK,
    NDJSON_HEAD,
    RawServer,
    Runner,
    answer,
    chunk,
    read_request,
    until_eof,
)

from brb.adapters.ollama_connection import UpstreamClosed
from brb.adapters.ollama_http import OllamaConnections
from brb.errors import BadRequest
from brb.sim.ollama import FakeOllama
from brb.sim.server import serve

CHAT = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})


def connections(url: str, **kw: float | None) -> OllamaConnections:
    return OllamaConnections(
        url,
        connect_timeout_s=float(kw.get("connect_timeout_s") or 5.0),
        read_idle_s=kw.get("read_idle_s", 60.0),
        max_connections=int(kw.get("max_connections") or 16),
    )


def headers(**extra: str) -> CIMultiDict[str]:
    return CIMultiDict({"Content-Type": "application/json", **extra})


def test_a_content_length_answer_from_the_fake_ollama_is_read_whole(run: Runner) -> None:
    async def scenario() -> None:
        async with serve(FakeOllama(reply_text="hello there").app()) as url:
            pool = connections(url)
            body = json.dumps({**json.loads(CHAT), "stream": False}).encode()
            up = await pool.request("POST", "/api/chat", headers(), body)
            assert up.status == 200 and up.reason == "OK"
            assert up.headers["Content-Type"].startswith("application/json")
            data = await up.read()
            assert up.content_length == len(data)
            assert "hello there" in json.loads(data)["message"]["content"]
            up.release()
            await pool.close()

    run(scenario)


def test_a_chunked_ndjson_stream_from_the_fake_ollama_arrives_whole_and_in_order(
    run: Runner,
) -> None:
    async def scenario() -> None:
        async with serve(FakeOllama(chunks=4, reply_text="a b c d").app()) as url:
            pool = connections(url)
            up = await pool.request("POST", "/api/chat", headers(), CHAT.encode())
            assert up.content_length is None and "ndjson" in up.headers["Content-Type"]
            data = b"".join([piece async for piece in up.chunks()])
            lines = [json.loads(line) for line in data.splitlines()]
            assert lines[-1]["done"] is True and not any(x["done"] for x in lines[:-1])
            assert "a b c d" in "".join(x["message"]["content"] for x in lines[:-1])
            up.release()
            await pool.close()

    run(scenario)


def test_each_ndjson_chunk_reaches_the_reader_before_the_next_is_sent(run: Runner) -> None:
    go_on = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(NDJSON_HEAD + chunk(b'{"n":1}\n'))
        await go_on.wait()  # the second chunk only once the first was read by the client
        writer.write(chunk(b'{"n":2}\n') + LAST_CHUNK)
        await until_eof(reader)

    async def scenario() -> None:
        async with RawServer(script) as server:
            pool = connections(server.url)
            up = await pool.request("POST", "/api/chat", headers(), CHAT.encode())
            pieces = up.chunks()
            assert await anext(pieces) == b'{"n":1}\n'
            go_on.set()
            assert [piece async for piece in pieces] == [b'{"n":2}\n']
            up.release()
            await pool.close()

    run(scenario)


def test_a_body_ended_by_the_close_is_read_to_the_close_and_its_connection_not_kept(
    run: Runner,
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
        await writer.drain()
        writer.write(b", to the end")
        writer.close()

    async def scenario() -> None:
        async with RawServer(script) as server:
            pool = connections(server.url)
            up = await pool.request("POST", "/api/generate", headers(), b"{}")
            assert up.content_length is None
            assert await up.read() == b"all of it, to the end"
            up.release()
            assert pool.idle_connections == 0 and pool.open_connections == 0

    run(scenario)


def test_a_body_ended_by_the_close_and_cut_by_a_reset_fails_the_read(run: Runner) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhalf of")
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # with no linger: a reset, not an end

    async def scenario() -> None:
        async with RawServer(script) as server:
            pool = connections(server.url)
            up = await pool.request("POST", "/api/generate", headers(), b"{}")
            with pytest.raises(UpstreamClosed, match="closed the connection"):
                await up.read()
            up.release()
            assert pool.open_connections == 0

    run(scenario)


def test_repeated_header_names_all_arrive_in_order(run: Runner) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        extra = b"Set-Cookie: a=1\r\nX-Trace: one\r\nset-cookie: b=2\r\nx-trace: two\r\n"
        writer.write(answer(b"{}", extra=extra))
        await until_eof(reader)

    async def scenario() -> None:
        async with RawServer(script) as server:
            pool = connections(server.url)
            up = await pool.request("POST", "/api/chat", headers(), b"{}")
            assert up.headers.getall("Set-Cookie") == ["a=1", "b=2"]
            assert up.headers.getall("x-trace") == ["one", "two"]
            await up.read()
            up.release()
            await pool.close()

    run(scenario)


@pytest.mark.parametrize("status", [404, 503])
def test_an_error_answer_comes_with_its_body_and_the_connection_serves_on(
    status: int, run: Runner
) -> None:
    async def scenario() -> None:
        fake = FakeOllama()
        async with serve(fake.app()) as url:
            pool = connections(url)
            fake.fail_next(1, status=status, body={"error": f"failed with {status}"})
            up = await pool.request("POST", "/api/chat", headers(), CHAT.encode())
            assert up.status == status
            assert json.loads(await up.read()) == {"error": f"failed with {status}"}
            up.release()
            again = await pool.request("POST", "/api/chat", headers(), CHAT.encode())
            assert again.status == 200 and await again.read()
            again.release()
            assert pool.open_connections == 1  # the error answer did not cost the connection
            await pool.close()

    run(scenario)


def test_an_interim_100_continue_is_skipped_for_the_answer_after_it(run: Runner) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        final = b"HTTP/1.1 200\r\nContent-Length: 11\r\n\r\n" + b'{"ok":true}'  # no reason
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + final)
        await until_eof(reader)

    async def scenario() -> None:
        async with RawServer(script) as server:
            pool = connections(server.url)
            up = await pool.request("POST", "/api/chat", headers(Expect="100-continue"), b"{}")
            assert up.status == 200 and up.reason == "" and await up.read() == b'{"ok":true}'
            up.release()
            await pool.close()

    run(scenario)


def test_the_request_goes_on_the_wire_as_written_with_the_url_prefix_and_host(run: Runner) -> None:
    seen: list[tuple[bytes, bytes]] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(answer(b"{}"))
        await until_eof(reader)

    async def scenario() -> None:
        async with RawServer(script) as server:
            pool = connections(server.url + "/ollama/")
            sent = CIMultiDict([("Content-Type", "application/json"), ("X-Tag", "a"),
                                ("x-tag", "b"), ("Authorization", "Bearer client")])  # fmt: skip
            up = await pool.request("POST", "/api/chat?x=1", sent, b'{"a":1}')
            await up.read()
            up.release()
            await pool.close()
            port = server.url.rsplit(":", 1)[1]
            assert seen == [
                (
                    b"POST /ollama/api/chat?x=1 HTTP/1.1\r\n"
                    + f"Host: 127.0.0.1:{port}\r\n".encode()
                    + b"Content-Type: application/json\r\nX-Tag: a\r\nx-tag: b\r\n"
                    + b"Authorization: Bearer client\r\nContent-Length: 7\r\n\r\n",
                    b'{"a":1}',
                )
            ]

    run(scenario)


def test_credentials_in_the_url_go_as_basic_auth_in_place_of_the_clients(run: Runner) -> None:
    seen: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append((await read_request(reader))[0])
        writer.write(answer(b"{}"))
        await until_eof(reader)

    async def scenario() -> None:
        async with RawServer(script) as server:
            pool = connections(server.url.replace("http://", "http://ops:s%40cret@"))
            up = await pool.request("POST", "/api/chat", headers(Authorization="Bearer x"), b"{}")
            await up.read()
            up.release()
            await pool.close()

    run(scenario)
    token = base64.b64encode(b"ops:s@cret").decode()
    (head,) = seen
    assert f"Authorization: Basic {token}\r\n".encode() in head and b"Bearer" not in head


@pytest.mark.parametrize("bad", ["a\r\nX-Injected: 1", "a\nb", "a\rb"])
def test_a_header_holding_a_line_break_is_refused_not_sent(bad: str) -> None:
    pool = connections("http://127.0.0.1:9")
    with pytest.raises(BadRequest, match="line break"):
        pool.serialise("POST", "/api/chat", headers(**{"X-Note": bad}), b"{}")
    with pytest.raises(BadRequest, match="line break"):
        pool.serialise("POST", "/api/chat" + bad, headers(), b"{}")


def test_a_head_answer_ends_at_its_headers_even_with_a_length(run: Runner) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        await until_eof(reader)

    async def scenario() -> None:
        async with RawServer(script) as server:
            pool = connections(server.url)
            up = await pool.request("HEAD", "/", CIMultiDict(), b"")
            assert up.status == 200 and up.content_length == 5
            assert await up.read() == b""
            up.release()  # llhttp still waits for 5 bytes: the connection is not reused
            assert pool.open_connections == 0
            await server.until(lambda: server.closed == 1)

    run(scenario)


def test_malformed_http_fails_the_answer_and_drops_the_connection(run: Runner) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        await until_eof(reader)

    async def scenario() -> None:
        async with RawServer(script) as server:
            pool = connections(server.url)
            up = await pool.request("POST", "/api/chat", headers(), b"{}")
            with pytest.raises(UpstreamClosed, match="malformed"):
                await up.read()
            up.release()
            await server.until(lambda: server.closed == 1)
            assert pool.open_connections == 0

    run(scenario)
