"""The Ollama upstream's two clients: a body brb read goes by its own HTTP/1.1 client,
one that streams through by aiohttp's session; both fail as UpstreamUnavailable
naming the upstream (redacted) when it can't be reached or says nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from raw_upstream import RawServer, Runner, answer, read_request, until_eof

from brb.adapters.ollama_connection import Answer
from brb.adapters.ollama_upstream import HOP_BY_HOP, OllamaUpstream, response_headers
from brb.errors import UpstreamUnavailable
from brb.sim.ollama import FakeOllama
from brb.sim.server import serve

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
HEADERS = CIMultiDict({"Content-Type": "application/json"})


def said(line: bytes) -> tuple[str, bool]:
    """An NDJSON line's words and whether it ends the answer (its timestamps aside)."""
    obj = json.loads(line)
    return obj.get("message", {}).get("content", ""), obj["done"]


def test_a_read_body_goes_by_brbs_client_a_streamed_one_by_aiohttp(run: Runner) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield json.dumps(CHAT).encode()

    async def scenario() -> None:
        fake = FakeOllama()
        async with serve(fake.app()) as url:
            upstream = OllamaUpstream(url)
            read = await upstream.open("POST", "/api/chat", HEADERS, json.dumps(CHAT).encode())
            assert isinstance(read, Answer) and read.status == 200
            lines = b"".join([c async for c in read.chunks()]).splitlines()
            read.release()
            streamed = await upstream.open("POST", "/api/chat", HEADERS, body())
            assert not isinstance(streamed, Answer) and streamed.status == 200
            again = b"".join([c async for c in streamed.chunks()]).splitlines()
            streamed.release()
            assert [said(line) for line in again] == [said(line) for line in lines]
            assert json.loads(lines[-1])["done"] is True and len(lines) > 1
            assert upstream.connections.open_connections == 1
            await upstream.close()

    run(scenario)


def test_a_refused_connection_is_upstream_unavailable_with_the_url_redacted(run: Runner) -> None:
    async def scenario() -> None:
        async with RawServer(until_eof_script) as server:
            url = server.url.replace("http://", "http://ops:pw-secret@")
        upstream = OllamaUpstream(url)  # nobody listens there any more
        with pytest.raises(UpstreamUnavailable) as failed:
            await upstream.open("POST", "/api/chat", HEADERS, b"{}")
        message = str(failed.value)
        assert "is unreachable" in message and "is `ollama serve` running there?" in message
        assert "ops:***@127.0.0.1" in message and "pw-secret" not in message
        await upstream.close()

    run(scenario)


async def until_eof_script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await until_eof(reader)


def test_silence_before_the_head_names_the_idle_timeout(run: Runner) -> None:
    async def scenario() -> None:
        async with RawServer(until_eof_script) as server:
            upstream = OllamaUpstream(server.url, read_idle_s=0.2)
            with pytest.raises(UpstreamUnavailable) as failed:
                await upstream.open("POST", "/api/chat", HEADERS, b"{}")
            assert str(failed.value) == (
                f"Ollama upstream {server.url} sent nothing for 0.2s "
                "(upstream_timeout.read_idle_seconds)"
            )
            await server.until(lambda: server.closed == 1)
            await upstream.close()

    run(scenario)


# Header names as they come off the wire (tokens), in any case: hop-by-hop ones, the
# length, and others (Connection aside: the names it lists are dropped too).
NAMES = [*sorted(HOP_BY_HOP - {"connection"}), "content-length", "content-type", "x-brb-model"]
CASED = st.sampled_from([cased for n in NAMES for cased in (n, n.upper(), n.title())])


@given(st.lists(st.tuples(CASED, st.text(max_size=3))))
def test_an_answers_headers_go_on_minus_hop_by_hop_ones_and_its_length(
    got: list[tuple[str, str]],
) -> None:
    sent = response_headers(CIMultiDictProxy(CIMultiDict(got)))
    drop = HOP_BY_HOP | {"content-length"}
    assert list(sent.items()) == [(k, v) for k, v in got if k.lower() not in drop]


@pytest.mark.parametrize("connection", [None, "close, X-Named"])
def test_a_read_body_goes_on_without_hop_by_hop_headers_or_its_old_length(
    connection: str | None, run: Runner
) -> None:
    seen: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append((await read_request(reader))[0])
        writer.write(answer(b"{}"))
        await until_eof(reader)

    sent = CIMultiDict(
        [("Host", "brb.example"), ("Content-Type", "application/json"), ("Keep-Alive", "5"),
         ("Content-Length", "999"), ("Content-Encoding", "gzip"), ("TE", "trailers"),
         ("X-Named", "hop"), ("X-Kept", "end-to-end")]
    )  # fmt: skip
    if connection is not None:
        sent["Connection"] = connection

    async def scenario() -> None:
        async with RawServer(script) as server:
            upstream = OllamaUpstream(server.url)
            up = await upstream.open("POST", "/api/chat", CIMultiDictProxy(sent), b"{}")
            await up.read()
            up.release()
            await upstream.close()

    run(scenario)
    (head,) = seen
    names = [line.split(b":")[0].lower() for line in head.split(b"\r\n")[1:] if line]
    expected = [b"host", b"content-type", b"x-named", b"x-kept", b"content-length"]
    if connection is not None:  # a header the client's Connection names is hop-by-hop too
        expected.remove(b"x-named")
    assert names == expected
    assert b"Content-Length: 2\r\n" in head and b"brb.example" not in head
