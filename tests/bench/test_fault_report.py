"""The fault bench's pure parts: what an answer counts as, the table's verdict, the
secret scan (bench/fault_report.py; the bench itself is not run in CI)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from fault_report import Row, classify, file_blobs, secret_hits, table  # noqa: E402

DONE = json.dumps({"message": {"content": "ok"}, "done": True}).encode()
PART = json.dumps({"message": {"content": "o"}, "done": False}).encode()
ERR = json.dumps({"error": "the Ollama upstream closed the stream"}).encode()


@pytest.mark.parametrize(
    ("endpoint", "stream", "status", "body", "kind"),
    [
        ("/api/chat", True, 200, PART + b"\n" + DONE + b"\n", "answered"),
        ("/api/chat", True, 200, PART + b"\n" + ERR + b"\n", "cut"),
        ("/api/chat", True, 200, PART + b"\n", "lost"),  # stopped: no end, no error
        ("/api/chat", False, 200, DONE, "answered"),
        ("/api/chat", False, 200, b'{"done": tr', "lost"),  # a truncated body
        ("/api/generate", False, 502, b'{"error": "down"}', "5xx"),
        ("/api/generate", False, 400, b'{"error": "bad"}', "refused"),
        ("/api/chat", True, None, b"", "lost"),
        ("/v1/chat/completions", True, 200, b'data: {"choices": []}\n\ndata: [DONE]\n\n',
         "answered"),
        ("/v1/chat/completions", True, 200, b'data: {"choices": []}\n\n', "lost"),
        ("/v1/chat/completions", True, 200, b'data: {"choices": []}\n\ndata: {"error": {}}\n\n',
         "cut"),
        ("/v1/chat/completions", False, 200, b'{"choices": [{"index": 0}]}', "answered"),
        ("/v1/messages", True, 200, b"event: message_stop\ndata: {}\n\n", "answered"),
        ("/v1/messages", True, 200, b"event: error\ndata: {}\n\n", "cut"),
        ("/v1/messages", False, 200, b'{"type": "message"}', "answered"),
    ],
)  # fmt: skip
def test_classify(endpoint: str, stream: bool, status: int | None, body: bytes, kind: str) -> None:
    assert classify(endpoint, stream, status, body) == kind


def test_a_row_is_met_only_with_no_loss_no_500_and_money_within_the_bound() -> None:
    row = Row("x", Counter(answered=3), ledger_micro=10, provider_micro=10, bound_micro=10)
    assert row.met()
    assert not Row("x", Counter(lost=1)).met()
    assert Row("x", Counter(lost=1), lost_expected=True).met()
    assert not Row("x", status_500=1).met()
    assert not Row("x", ledger_micro=9, provider_micro=10, bound_micro=20).met()  # under
    assert not Row("x", ledger_micro=21, provider_micro=10, bound_micro=20).met()  # over
    assert not Row("x", reserved_rows=1).met()
    assert not Row("x", tracebacks=1).met()
    assert not Row("x", checks={"diverts again": False}).met()


def test_the_table_has_a_line_per_row_with_the_verdict() -> None:
    rows = [Row("fine", Counter(answered=2)), Row("bad", Counter(lost=1))]
    lines = table(rows).splitlines()
    assert len(lines) == 4 and lines[2].endswith("| yes |") and lines[3].endswith("| **no** |")
    assert lines[0].count("|") == lines[2].count("|")


def test_secret_hits_name_where_and_never_print_the_secret(tmp_path: Path) -> None:
    key, token = "sk-ant-faults-0123456789abcdef", "tok-9f8e7d6c5b4a"
    log = tmp_path / "brb.log"
    log.write_text(f"nothing here\nAuthorization: Bearer {token}\n")
    clean = tmp_path / "brb.db"
    clean.write_bytes(b"SQLite format 3\0" + b"sk-ant-faults-0123")  # a prefix is no hit
    hits = secret_hits([key, token], [*file_blobs([log, clean, tmp_path / "gone"]),
                                      ("answer 1", key.encode())])  # fmt: skip
    assert hits == [f"{log}: tok-9f...", "answer 1: sk-ant..."]
    assert not any(key in h or token in h for h in hits)
