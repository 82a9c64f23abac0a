"""``brb replay`` through Typer's runner: the JSON contract, --set runs, errors, --from-db."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result

from brb.config import BrbConfig
from brb.core.replay.request_log import records_from_log
from brb.core.replay.sweep import parse_sets
from brb.core.request_log import RequestRow
from brb.errors import UsageError
from brb.replay_runs import expand_settings, read_yaml_value

Cli = Callable[..., Result]
KEYS = {
    "settings",
    "requests",
    "local",
    "diverted",
    "lost",
    "cost_usd",
    "wait_p50_s",
    "wait_p95_s",
    "wait_p99_s",
    "wait_max_s",
    "latency_p99_s",
    "activations",
    "timeline",
}


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    """The half-second scenario: 1 s each, an arrival every 0.5 s."""
    path = tmp_path / "t.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "arrival_offset_s": i * 0.5,
                    "model": "m",
                    "session": f"s{i}",
                    "prompt_tokens": 1000,
                    "output_tokens": 500,
                    "service_s": 1.0,
                }
            )
            + "\n"
            for i in range(10)
        )
    )
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The decision at arrival (no waiting room): its figures are worked out by hand."""
    path = tmp_path / "brb.yaml"
    path.write_text(
        "big_red_button:\n  thresholds:\n    queue_depth: 1000\n"
        "    wait_time_seconds: 2\n    min_active_seconds: 600\n"
        "  waiting_room:\n    enabled: false\n"
    )
    return path


def test_json_one_run(cli: Cli, trace: Path, config: Path) -> None:
    res = cli("replay", str(trace), "--config", str(config), "--oracle", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= KEYS
    assert (out["requests"], out["local"], out["diverted"], out["lost"]) == (10, 7, 3, 0)
    assert out["cost_usd"] == pytest.approx(0.021)
    assert (out["wait_max_s"], out["activations"], out["settings"]) == (2.0, 1, {})
    assert out["oracle"] == {
        **out["oracle"],
        "diverted": 3,
        "exact": True,
        "cost_usd": pytest.approx(0.021),
    }
    assert [e["kind"] for e in out["timeline"]] == ["activated", "deactivated"]


def test_several_settings_give_a_list(cli: Cli, trace: Path, config: Path) -> None:
    res = cli(
        "replay",
        str(trace),
        "--config",
        str(config),
        "--json",
        "--set",
        "thresholds.wait_time_seconds=2,100",
        "--set",
        "policy=overflow,all",
    )
    assert res.exit_code == 0, res.output
    runs = json.loads(res.stdout)
    assert [r["settings"] for r in runs] == [
        {"thresholds.wait_time_seconds": 2, "policy": "overflow"},
        {"thresholds.wait_time_seconds": 2, "policy": "all"},
        {"thresholds.wait_time_seconds": 100, "policy": "overflow"},
        {"thresholds.wait_time_seconds": 100, "policy": "all"},
    ]
    assert [r["diverted"] for r in runs] == [3, 6, 0, 0]


def test_text_report_and_table(cli: Cli, trace: Path, config: Path) -> None:
    res = cli("replay", str(trace), "--config", str(config), "--oracle")
    assert res.exit_code == 0, res.output
    assert "activated" in res.stdout and "wait 2.50s > 2s" in res.stdout
    assert "within 2s by diverting 3 for $0.02 (the fewest possible)" in res.stdout
    res = cli("replay", str(trace), "--config", str(config), "--set", "policy=overflow,all")
    assert res.exit_code == 0, res.output
    assert "policy=overflow" in res.stdout and "policy=all" in res.stdout


def test_slots_and_cloud_latency_options(cli: Cli, trace: Path, config: Path) -> None:
    res = cli(
        "replay",
        str(trace),
        "--config",
        str(config),
        "--json",
        "--slots",
        "2",
        "--cloud-latency",
        "0.5",
    )
    out = json.loads(res.stdout)
    assert (out["diverted"], out["wait_max_s"]) == (0, 0.0)  # two slots keep up


def test_a_bad_trace_line_exits_2_naming_the_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"arrival_offset_s": 0, "model": "m", "prompt_tokens": 1, '
        '"output_tokens": 1}\n{"arrival_offset_s": "later"}\n'
    )
    res = cli("replay", str(path), "--json")
    assert res.exit_code == 2
    assert f"{path} line 2:" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "thresholds.queue_dept=5"], "thresholds.queue_dept: unknown key"),
        (["--set", "thresholds.queue_depth=0"], "thresholds.queue_depth"),
        (["--set", "policy"], "use KEY=VALUE"),
        (["--set", "policy.x=1"], "'policy' is not a config section"),
        (["--slots", "0"], "--slots"),
        (["--since", "1h"], "--since and --until go with --from-db"),
        (["--from-db"], "not both"),
    ],
)
def test_usage_errors_exit_2(cli: Cli, trace: Path, args: list[str], message: str) -> None:
    res = cli("replay", str(trace), *args)
    assert res.exit_code == 2, res.output
    assert message in res.output


def test_missing_trace_file(cli: Cli, tmp_path: Path) -> None:
    res = cli("replay", str(tmp_path / "nope.jsonl"))
    assert res.exit_code == 2 and "does not exist" in res.output


def test_from_db(cli: Cli, tmp_db: Path) -> None:
    from brb.adapters.store import Store

    t0 = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    rows = [
        RequestRow(
            at=t0 + timedelta(seconds=i * 0.5),
            day="2026-11-27",
            endpoint="/api/chat",
            model="m",
            session="s",
            backend="ollama" if i < 8 else "anthropic",
            reason="standby",
            status=200,
            service_s=1.0 if i < 8 else 9.0,
            prompt_tokens=1000,
            output_tokens=30,
            outcome="ok",
        )
        for i in range(10)
    ]
    rows.append(replace(rows[0], at=t0 - timedelta(hours=3)))  # outside the window
    with Store.open(tmp_db) as store:
        store.log_requests(rows)
    res = cli(
        "replay",
        "--from-db",
        "--since",
        "2026-11-27T19:00Z",
        "--until",
        "2026-11-28",
        "--json",
        "--set",
        "thresholds.wait_time_seconds=2",
        "--set",
        "thresholds.queue_depth=1000",
        "--set",
        "thresholds.min_active_seconds=5",
        "--set",
        "waiting_room.first_content_seconds=0",
        "--set",
        "waiting_room.enabled=false,true",
    )
    assert res.exit_code == 0, res.output
    at_arrival, room = json.loads(res.stdout)
    assert at_arrival["requests"] == room["requests"] == 10
    assert at_arrival["start"] == "2026-11-27T20:00:00+00:00"
    # cloud rows' service_s was the cloud's: replayed at 30 tok/s -> 1 s, like the rest
    assert at_arrival["diverted"] == 3
    # the waiting room learns the same 1 s from the log and diverts as few
    assert (room["diverted"], room["lost"]) == (3, 0)
    assert room["wait_max_s"] <= 2.0


def test_from_db_with_nothing_logged(cli: Cli, tmp_db: Path) -> None:
    res = cli("replay", "--from-db", "--since", "2026-11-27", "--until", "2026-11-28")
    assert res.exit_code == 2 and "no requests in the request log" in res.output


def test_plot_writes_a_png(cli: Cli, trace: Path, config: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "run.png"
    res = cli("replay", str(trace), "--config", str(config), "--plot", str(out))
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_parse_sets_reads_yaml_values_and_lists() -> None:
    assert parse_sets(
        ["thresholds.queue_depth=30,50", "excluded_sessions=[a,b],[c]", "enabled=false"],
        read_yaml_value,
    ) == [
        ("thresholds.queue_depth", [30, 50]),
        ("excluded_sessions", [["a", "b"], ["c"]]),
        ("enabled", [False]),
    ]
    with pytest.raises(UsageError, match="given twice"):
        parse_sets(["policy=all", "policy=overflow"], read_yaml_value)
    with pytest.raises(UsageError, match="can't read the value"):
        parse_sets(["policy=[unclosed"], read_yaml_value)


def test_expand_settings_is_a_validated_cartesian_product() -> None:
    runs = expand_settings(BrbConfig(), ["budget.daily_limit_usd=5,10", "policy=all"])
    assert [(s, c.budget.daily_limit_usd, c.policy) for s, c in runs] == [
        ({"budget.daily_limit_usd": 5, "policy": "all"}, 5, "all"),
        ({"budget.daily_limit_usd": 10, "policy": "all"}, 10, "all"),
    ]
    assert expand_settings(BrbConfig(), []) == [({}, BrbConfig())]


def test_records_from_log_keeps_only_local_service_times() -> None:
    t0 = datetime(2026, 11, 27, tzinfo=UTC)
    start, records = records_from_log(
        [
            {
                "at": (t0 + timedelta(seconds=2)).isoformat(),
                "model": "m",
                "session": None,
                "backend": "anthropic",
                "prompt_tokens": 5,
                "output_tokens": 6,
                "service_s": 3.0,
            },
            {
                "at": t0.isoformat(),
                "model": "m",
                "session": "a",
                "backend": "ollama",
                "prompt_tokens": None,
                "output_tokens": 7,
                "service_s": 1.5,
            },
        ]
    )
    assert start == t0
    assert [(r.arrival_offset_s, r.session, r.prompt_tokens, r.service_s) for r in records] == [
        (0.0, "a", 0, 1.5),
        (2.0, "", 5, None),
    ]


def test_plot_without_matplotlib_says_how_to_get_it(
    trace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from brb.core.replay import SimParams, parse_trace, simulate
    from brb.replay_plot import plot_runs

    result = simulate(parse_trace(trace.read_text().splitlines()), SimParams())
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    with pytest.raises(UsageError, match=r"brb\[plot\]"):
        plot_runs([("config", result)], tmp_path / "x.png", title="t")
