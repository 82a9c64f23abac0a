"""One result shape for both legs, and its one mapping to a request-log row."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from brb.core.pricing import Usage
from brb.core.request_log import COLUMNS, RequestRow
from brb.daemon.final_facts import final_facts
from brb.daemon.leg import CloudRoute, Leg, LegResult

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_a_cloud_result_becomes_a_row_with_its_provider_and_tokens() -> None:
    result = LegResult(
        web.Response(status=200),
        Leg.CLOUD,
        "anthropic",
        "anthropic",
        "claude-haiku-4-5",
        200,
        "pressed",
        1.25,
        Usage(input_tokens=12, output_tokens=34),
    )
    row = result.row(T0, "2026-11-29", "/api/chat", "llama3", "s1")
    assert row == RequestRow(
        T0, "2026-11-29", "/api/chat", "llama3", "s1", "anthropic", "pressed", 200,
        None, None, 1.25, 12, 34, "ok", None,
    )  # fmt: skip


def test_a_local_result_without_token_counts_logs_none() -> None:
    facts = final_facts(b'{"done":true}')
    assert facts.usage is None
    result = LegResult(
        web.Response(status=502), Leg.LOCAL, "ollama", "http://127.0.0.1:11434", "llama3",
        502, "standby", 0.5, facts.usage, wait_s=0.1, outcome="error",
    )  # fmt: skip
    row = result.row(T0, "2026-11-29", "/api/generate", "llama3", "")
    assert (row.backend, row.status, row.wait_s, row.prompt_tokens, row.output_tokens) == (
        "ollama", 502, 0.1, None, None,
    )  # fmt: skip
    assert row.outcome == "error"
    assert row.upstream == "http://127.0.0.1:11434"  # the pool member that served it


def test_a_cloud_row_names_no_upstream_a_local_one_its_pool_member() -> None:
    def result(leg: Leg, upstream: str) -> LegResult:
        return LegResult(web.Response(), leg, "x", upstream, "m", 200, "standby", 0.1)

    assert result(Leg.LOCAL, "gpu-b").row(T0, "d", "/api/chat", "m", "").upstream == "gpu-b"
    assert result(Leg.CLOUD, "openai").row(T0, "d", "/api/chat", "m", "").upstream is None


def test_ollama_final_object_gives_service_time_and_usage() -> None:
    tail = (
        b'{"done":true,"load_duration":1000000000,"prompt_eval_duration":500000000,'
        b'"eval_duration":1500000000,"prompt_eval_count":7,"eval_count":9}'
    )
    facts = final_facts(tail)
    assert facts.service_s == 3.0
    assert facts.usage == Usage(input_tokens=7, output_tokens=9)


def test_the_row_columns_follow_the_dataclass() -> None:
    assert COLUMNS[0] == "at" and COLUMNS[-1] == "upstream" and len(COLUMNS) == 15


def test_a_route_names_its_first_provider() -> None:
    assert CloudRoute(("anthropic", "openai"), "m", None).provider == "anthropic"
    assert CloudRoute((), "m", None).provider is None


def test_final_facts_read_the_last_of_a_repeated_field_and_only_the_durations_reported() -> None:
    tail = (
        b'{"message":{"content":"\\"eval_count\\": 5"},"eval_count": 1}\n'
        b'{"done":true,"total_duration":4000000000,"eval_duration":1500000000,"eval_count":9}'
    )
    facts = final_facts(tail)
    assert (facts.output_tokens, facts.prompt_tokens) == (9, None)
    assert (facts.service_s, facts.eval_s, facts.load_s, facts.total_s) == (1.5, 1.5, None, 4.0)
    assert facts.usage == Usage(input_tokens=0, output_tokens=9)
    assert final_facts(b'{"done":true,"total_duration":7}').service_s is None
