"""Bad input on the endpoints brb reads: a 4xx that says what is wrong.

Never a 500, never a hang (every request has a client timeout, NO_HANG_S: long
enough for a loaded 2-core machine, far shorter than a hang), never
a traceback in the answer; and nothing reaches Ollama or the cloud. Sent raw
(urllib, and a bare socket where a client would refuse to send it).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import zlib
from typing import Any

import pytest
from daemon_rig import MODEL, Rig, StartRig

from brb.daemon.request_body import MAX_JSON_DEPTH

PATHS = ("/api/chat", "/api/generate", "/v1/chat/completions")
NO_HANG_S = 30.0
CASES: list[tuple[str, bytes, str]] = [
    ("malformed JSON", b'{"model": "llama3", "messages": [', "malformed JSON"),
    ("not an object", b'["llama3"]', "JSON object"),
    ("empty body", b"", "empty body"),
    ("whitespace body", b"  \n ", "empty body"),
    ("invalid UTF-8", b'{"model": "llama3\xff\xfe", "messages": []}', "UTF-8"),
    ("model missing", b'{"messages": [], "prompt": "x"}', "model is required"),
    ("model a number", b'{"model": 7, "messages": [], "prompt": "x"}', "model must be a string"),
    (
        "stream a string",
        b'{"model": "llama3", "prompt": "x", "messages": [], "stream": "yes"}',
        "stream must be true or false",
    ),
]


def assert_bad(
    rig: Rig, path: str, raw: bytes, says: str, status: int = 400, *, gz: bool = False
) -> None:
    headers = {"Content-Encoding": "gzip"} if gz else None
    answer = rig.post(path, raw, headers, timeout_s=NO_HANG_S)
    assert answer.status == status, (path, raw, answer.text)
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert says in error, error
    assert "Traceback" not in answer.text


@pytest.fixture
def idle(start_brb: StartRig) -> Rig:
    return start_brb(max_body_bytes=4096)


@pytest.mark.parametrize("path", PATHS)
def test_bad_bodies_get_a_400_saying_what_is_wrong(idle: Rig, path: str) -> None:
    for _name, raw, says in CASES:
        assert_bad(idle, path, raw, says)
    assert idle.ollama.received[path] == 0
    assert idle.cloud_hits() == 0


def test_wrong_shapes_are_named(idle: Rig) -> None:
    assert_bad(
        idle, "/api/chat", b'{"model": "llama3", "messages": "hi"}', "messages must be a list"
    )
    assert_bad(
        idle,
        "/v1/chat/completions",
        b'{"model": "llama3", "messages": {"role": "user"}}',
        "messages must be a list",
    )
    assert_bad(
        idle, "/api/generate", b'{"model": "llama3", "prompt": ["x"]}', "prompt must be a string"
    )
    assert sum(idle.ollama.received[p] for p in PATHS) == 0


def test_a_body_over_max_body_bytes_is_a_413(idle: Rig) -> None:
    big = b'{"model": "llama3", "prompt": "' + b"x" * 8192 + b'"}'
    for path in PATHS:
        assert_bad(idle, path, big, "max_body_bytes", status=413)
    # just under the limit is fine
    fits = b'{"model": "llama3", "prompt": "' + b"x" * 3000 + b'", "stream": false}'
    assert idle.post("/api/generate", fits).status == 200


@pytest.mark.parametrize("at_once", [False, True], ids=["head-then-body", "all-at-once"])
def test_a_chunked_body_over_the_limit_is_a_413_too(idle: Rig, at_once: bool) -> None:
    """No Content-Length to refuse up front: the limit holds while reading, and when
    the whole body is already there as the front reads it (sent with its head)."""
    host, port = idle.url.removeprefix("http://").split(":")
    chunk = b"x" * 2048
    head = (
        f"POST /api/chat HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=NO_HANG_S) as s:
        if at_once:
            s.sendall(head + body)
        else:
            s.sendall(head)
            with contextlib.suppress(OSError):  # it may answer and close before reading it all
                s.sendall(body)
        answer = b""
        while chunk_in := s.recv(65536):
            answer += chunk_in
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"413", answer[:300]
    assert b"max_body_bytes" in rest and b"Traceback" not in rest


def test_valid_requests_still_work_after_bad_ones(idle: Rig) -> None:
    for _name, raw, _says in CASES:
        idle.post("/api/chat", raw, timeout_s=NO_HANG_S)
    answer = idle.ask("/api/chat")
    assert (answer.status, answer.headers["x-brb-model"]) == (200, MODEL)


NESTED: list[tuple[str, dict[str, Any]]] = [
    ("/api/chat", {"messages": [1]}),
    ("/api/chat", {"messages": [{"role": 5, "content": "x"}]}),
    ("/api/chat", {"messages": [{"role": "user", "content": ["a"]}]}),
    ("/api/chat", {"messages": [{"role": "user", "content": None}]}),
    ("/api/chat", {"messages": [{"role": "user", "content": "x", "images": "abc"}]}),
    ("/api/chat", {"messages": [{"role": "user", "content": "x", "images": ["!!"]}]}),
    ("/api/chat", {"messages": [{"role": "user", "content": "x"}], "options": "hot"}),
    ("/api/chat", {"messages": [{"role": "user", "content": "x"}], "format": 5}),
    ("/api/chat", {"messages": [{"role": "user", "content": "x"}], "tools": [1]}),
    ("/api/generate", {"prompt": "x", "system": 5}),
    ("/api/generate", {"prompt": "x", "images": [5]}),
    ("/api/generate", {"prompt": "x", "options": {"num_predict": "many"}}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": [{"type": "text"}]}]}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stop": 5}),
    (
        "/v1/chat/completions",
        {"messages": [{"role": "assistant", "tool_calls": [{"function": 5}]}]},
    ),
    ("/v1/messages", {"messages": [{"role": "user", "content": "x"}], "max_tokens": "x"}),
    ("/v1/messages", {"messages": [{"role": "user", "content": "x"}], "max_tokens": True}),
]


@pytest.mark.parametrize("stream", [False, True])
def test_bad_nested_shapes_never_500_even_when_pressed(idle: Rig, stream: bool) -> None:
    """Pressed, every body goes through the converter: a shape it can't take is a
    400 naming the field, or stays local (Ollama answers it), never a 500."""
    idle.press()
    for path, body in NESTED:
        raw = json.dumps({"model": MODEL, **body, "stream": stream}).encode()
        answer = idle.post(path, raw, timeout_s=NO_HANG_S)
        assert answer.status < 500, (path, body, answer.status, answer.text)
        assert "Traceback" not in answer.text
        if answer.provider is None:  # brb refused it itself
            assert answer.status == 400 and answer.json()["error"], (path, body)
        else:
            assert answer.provider == "ollama", (path, body)
    assert idle.cloud_hits() == 0


@pytest.mark.parametrize("path", PATHS)
def test_control_characters_in_a_model_name_are_a_400(idle: Rig, path: str) -> None:
    for model in ("llama3\r\nX-Injected: 1", "llama3\n", "llama\x00", "llama\x1b[31m", "l\x7f"):
        raw = json.dumps({"model": model, "prompt": "x", "messages": []}).encode()
        assert_bad(idle, path, raw, "control characters")
    assert idle.ollama.received[path] == 0 and idle.cloud_hits() == 0


def nested(depth: int) -> bytes:
    return b'{"model": "llama3", "prompt": "x", "options": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("path", PATHS)
def test_json_nested_past_the_limit_is_a_400(idle: Rig, path: str) -> None:
    # the body is level 1, options level 2: MAX_JSON_DEPTH - 1 brackets fit exactly
    assert_bad(idle, path, nested(MAX_JSON_DEPTH), "nested deeper")
    fits = idle.post(path, nested(MAX_JSON_DEPTH - 1), timeout_s=NO_HANG_S)
    assert fits.provider == "ollama" and "nested deeper" not in fits.text  # brb let it by
    assert idle.cloud_hits() == 0


def test_json_nested_past_the_recursion_limit_is_a_400_not_a_500(start_brb: StartRig) -> None:
    rig = start_brb()
    for path in PATHS:
        assert_bad(rig, path, nested(50_000), "nested deeper")
    shallow = b'{"model": "llama3", "prompt": "x", "stream": false, "options": {"a": [[1]]}}'
    assert rig.post("/api/generate", shallow).status == 200
    assert sum(rig.ollama.received[p] for p in PATHS) == 1


def encoded(coding: str, raw: bytes) -> bytes:
    if coding == "gzip":
        return gzip.compress(raw)
    if coding == "deflate":
        return zlib.compress(raw)
    return raw


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_compressed_body_is_decoded_and_forwarded_plain(idle: Rig, coding: str) -> None:
    body = {"model": MODEL, "prompt": "compressed hello", "stream": False}
    answer = idle.post(
        "/api/generate", encoded(coding, json.dumps(body).encode()), {"Content-Encoding": coding}
    )
    assert (answer.status, answer.provider) == (200, "ollama"), answer.text
    assert idle.ollama.bodies[-1]["prompt"] == "compressed hello"  # Ollama read it as JSON


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "bogus"])
def test_an_encoding_brb_cannot_decode_is_a_415(idle: Rig, coding: str) -> None:
    body = json.dumps({"model": MODEL, "prompt": "x"}).encode()
    answer = idle.post("/api/generate", body, {"Content-Encoding": coding}, timeout_s=NO_HANG_S)
    assert answer.status == 415 and coding in answer.json()["error"], answer.text
    assert idle.ollama.received["/api/generate"] == 0


def test_a_gzip_bomb_or_broken_gzip_is_a_4xx(idle: Rig) -> None:
    bomb = gzip.compress(b'{"model": "llama3", "prompt": "' + b"x" * 100_000 + b'"}')
    assert len(bomb) < 4096
    assert_bad(idle, "/api/generate", bomb, "max_body_bytes", status=413, gz=True)
    assert_bad(idle, "/api/generate", b"not gzip at all", "not valid gzip", gz=True)
    assert idle.ollama.received["/api/generate"] == 0
