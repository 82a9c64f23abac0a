"""A streamed diversion cut short never settles below what was produced: an error
event settles at the output seen, a provider gone quiet (timeout) at the worst case,
a client that leaves at what was seen so far, and so does a shutdown whose drain is
shorter than the stream."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from decimal import Decimal

from daemon_rig import Rig, StartRig, chat_body

from brb.adapters.store import Store
from brb.sim.anthropic import FakeAnthropic

CLOUD_MODEL = "claude-sonnet-5-5"
PRICES = {CLOUD_MODEL: {"input_per_mtok": "1000", "output_per_mtok": "3000"}}
LONG_REPLY = " ".join(f"word{i}" for i in range(40))
MAX_TOKENS = 64


def rig_with(start_brb: StartRig, fake: FakeAnthropic, **extra: object) -> Rig:
    rig = start_brb(
        anthropic=fake,
        models={"anthropic_model": CLOUD_MODEL, "max_tokens": MAX_TOKENS},
        pricing=PRICES,
        **extra,
    )
    rig.press()
    return rig


def cost_of(row: dict[str, object]) -> Decimal:
    return (
        Decimal(int(row["input_tokens"])) * 1000 + Decimal(int(row["output_tokens"])) * 3000  # type: ignore[call-overload]
    ) / 1_000_000


def test_an_error_event_after_content_settles_at_the_output_seen(start_brb: StartRig) -> None:
    fake = FakeAnthropic(reply_text=LONG_REPLY)
    rig = rig_with(start_brb, fake)
    fake.error_event_after(5)
    answer = rig.ask("/api/chat", stream=True)
    lines = answer.lines()
    assert answer.provider == "anthropic" and "error" in lines[-1]
    relayed = "".join(line["message"]["content"] for line in lines if "message" in line)
    (row,) = rig.settled_rows(1)
    assert row["outcome"] == "error_midstream"
    # message_start said 1 output token; 5 words went out: at least their bytes
    assert len(relayed.encode()) <= row["output_tokens"] <= MAX_TOKENS
    assert Decimal(row["cost_micro_usd"]) / 1_000_000 == cost_of(row)
    assert row["cost_micro_usd"] <= row["reserved_micro_usd"]


def test_a_provider_gone_quiet_after_content_settles_at_the_worst_case(
    start_brb: StartRig,
) -> None:
    fake = FakeAnthropic(reply_text=LONG_REPLY)
    rig = rig_with(start_brb, fake, providers={"anthropic": {"timeout_seconds": 1}})
    fake.stall_after(3)
    answer = rig.ask("/api/chat", stream=True, timeout_s=20.0)
    assert answer.provider == "anthropic" and "error" in answer.lines()[-1]
    (row,) = rig.settled_rows(1, timeout_s=10.0)
    assert row["outcome"] == "error_midstream"
    assert row["output_tokens"] == MAX_TOKENS  # it may have produced more than was read
    assert row["cost_micro_usd"] <= row["reserved_micro_usd"]


def test_a_client_leaving_mid_stream_is_charged_what_was_seen(start_brb: StartRig) -> None:
    fake = FakeAnthropic(reply_text=LONG_REPLY, delta_interval_s=0.1)
    rig = rig_with(start_brb, fake)
    host, port = rig.url.removeprefix("http://").split(":")
    body = chat_body("/api/chat", "hello", stream=True)
    raw = json.dumps(body).encode()
    head = (
        f"POST /api/chat HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10.0) as s:
        s.sendall(head + raw)
        got = b""
        while b'"content"' not in got:  # the first piece of the answer
            got += s.recv(4096)
    time.sleep(0.3)  # gone; brb notices on its next write
    (row,) = rig.settled_rows(1, timeout_s=10.0)
    assert row["outcome"] == "client_gone"
    assert 1 < row["output_tokens"] <= MAX_TOKENS
    assert Decimal(row["cost_micro_usd"]) / 1_000_000 == cost_of(row)


def test_a_shutdown_mid_stream_settles_at_no_less_than_what_was_relayed(
    start_brb: StartRig,
) -> None:
    fake = FakeAnthropic(reply_text=LONG_REPLY, delta_interval_s=0.25)  # about 10 s
    rig = rig_with(start_brb, fake, drain_timeout_s=0.5)
    host, port = rig.url.removeprefix("http://").split(":")
    relayed: list[str] = []

    def read_until_cut() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30.0)
        body = json.dumps(chat_body("/api/chat", "hello", stream=True))
        conn.request("POST", "/api/chat", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        try:
            while line := resp.readline():
                relayed.append(json.loads(line)["message"]["content"])
        except (http.client.HTTPException, OSError, ValueError):
            pass  # cut off mid-answer: what arrived is what counts
        finally:
            conn.close()

    client = threading.Thread(target=read_until_cut, daemon=True)
    client.start()
    deadline = time.monotonic() + 20.0
    while len(relayed) < 3 and time.monotonic() < deadline:  # a few words are out
        time.sleep(0.02)
    assert len(relayed) >= 3, relayed
    assert rig.stop() is None  # the drain (0.5 s) ends long before the stream (10 s)
    client.join(10.0)
    assert not client.is_alive()
    words = "".join(relayed)
    assert len(words.split()) < len(LONG_REPLY.split())  # the stream was indeed cut

    with Store.open(rig.db) as store:
        rows = store.ledger.rows_between(rig.started_at)
    (row,) = rows
    assert row["status"] == "settled"  # none left reserved
    # message_start said 1 output token; the words relayed bound the tokens from below
    assert len(words.encode()) <= row["output_tokens"] <= MAX_TOKENS
    assert Decimal(row["cost_micro_usd"]) / 1_000_000 == cost_of(row)
    assert row["cost_micro_usd"] <= row["reserved_micro_usd"]
