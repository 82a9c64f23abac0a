"""``brb replay --upstreams`` and ``--set upstreams=...``: a pool of Ollama servers, offline."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

Cli = Callable[..., Result]
EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    """Equal requests, 2 s each, one every 1.4 s: 1.4x what one slot can do."""
    path = tmp_path / "t.jsonl"
    lines = [
        {
            "arrival_offset_s": round(i * 1.4, 3),
            "model": "m",
            "session": f"s{i}",
            "prompt_tokens": 1000,
            "output_tokens": 500,
            "service_s": 2.0,
        }  # fmt: skip
        for i in range(30)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "brb.yaml"
    path.write_text("big_red_button:\n  thresholds:\n    wait_time_seconds: 5\n")
    return path


def runs(res: Result) -> list[dict[str, Any]]:
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    return out if isinstance(out, list) else [out]


def test_upstreams_simulates_a_pool_and_reports_each_box(
    cli: Cli, trace: Path, config: Path
) -> None:
    alone, pool = (
        runs(cli("replay", str(trace), "--config", str(config), "--json", *args))[0]
        for args in ([], ["--upstreams", "gpu-1=1,gpu-2=1"])
    )
    assert [(u["name"], u["parallel"]) for u in alone["upstreams"]] == [("default", 1)]
    assert alone["upstreams"][0]["served"] == alone["local"] and alone["slots"] == 1
    assert pool["settings"] == {"upstreams": ["gpu-1=1", "gpu-2=1"]}
    assert [(u["name"], u["parallel"]) for u in pool["upstreams"]] == [("gpu-1", 1), ("gpu-2", 1)]
    assert pool["slots"] == 2
    assert sum(u["served"] for u in pool["upstreams"]) == pool["local"] == 30
    assert all(u["served"] > 0 and u["busy_s"] > 0 for u in pool["upstreams"])
    assert alone["diverted"] > 0 and pool["diverted"] == 0 and pool["cost_usd"] == 0


def test_repeated_upstreams_and_the_configs_own_pool_side_by_side(
    cli: Cli, trace: Path, config: Path
) -> None:
    out = runs(
        cli(
            "replay",
            str(trace),
            "--config",
            str(config),
            "--json",
            "--upstreams",
            "config",
            "--upstreams",
            "default=1,gpu-2=1",
        )  # fmt: skip
    )
    assert [r["settings"] for r in out] == [
        {"upstreams": "config"},
        {"upstreams": ["default=1", "gpu-2=1"]},
    ]
    assert [len(r["upstreams"]) for r in out] == [1, 2]
    assert out[0]["diverted"] > out[1]["diverted"]


def test_set_upstreams_in_the_configs_shape_and_the_compact_one(
    cli: Cli, trace: Path, config: Path
) -> None:
    shaped = (
        "upstreams=[],[{name: a, url: 'http://10.0.0.1:11434', parallel: 1}, "
        "{name: b, url: 'http://10.0.0.2:11434'}],[a=1,b=1]"
    )
    out = runs(cli("replay", str(trace), "--config", str(config), "--json", "--set", shaped,
                   "--set", "policy=overflow,all"))  # fmt: skip
    assert len(out) == 6
    pools = [[u["name"] for u in r["upstreams"]] for r in out]
    assert pools == [["default"]] * 2 + [["a", "b"]] * 4
    # the config's shape and the compact form are the same pool
    assert [r["diverted"] for r in out[2:4]] == [r["diverted"] for r in out[4:6]]
    text = cli("replay", str(trace), "--config", str(config), "--set", shaped)
    assert text.exit_code == 0, text.output
    assert "upstreams=[a=1,b=1]" in text.stdout and "served by upstream" in text.stdout
    assert "a 15 b 15" in text.stdout


def test_a_pool_config_replays_its_pool_and_takes_other_settings(
    cli: Cli, trace: Path, tmp_path: Path
) -> None:
    path = tmp_path / "pool.yaml"
    path.write_text(
        "big_red_button:\n  thresholds:\n    wait_time_seconds: 5\n  upstreams:\n"
        "    - {name: gpu-1, url: 'http://127.0.0.1:11434', parallel: 1}\n"
        "    - {name: gpu-2, url: 'http://127.0.0.1:11436', parallel: 1}\n"
    )
    out = runs(cli("replay", str(trace), "--config", str(path), "--json", "--set",
                   "policy=overflow,all"))  # fmt: skip
    assert [[u["name"] for u in r["upstreams"]] for r in out] == [["gpu-1", "gpu-2"]] * 2
    text = cli("replay", str(trace), "--config", str(path), "--oracle")
    assert text.exit_code == 0, text.output
    assert "2 upstreams (gpu-1 1, gpu-2 1 slots per model)" in text.stdout
    assert "by gpu-2 (1 slot)" in text.stdout
    assert "within 5s on the pool's 2 slots together" in text.stdout


def test_would_a_second_box_have_saved_last_nights_bill(cli: Cli) -> None:
    """The recipe of docs/REPLAY.md and the README, with its figures."""
    out = runs(
        cli(
            "replay",
            str(EXAMPLES / "black_friday.jsonl"),
            "--json",
            "--upstreams",
            "config",
            "--upstreams",
            "default=1,gpu-2=1",
        )  # fmt: skip
    )
    assert [(r["diverted"], r["cost_usd"]) for r in out] == [
        (1006, pytest.approx(7.87, abs=0.005)),
        (822, pytest.approx(6.65, abs=0.005)),
    ]
    assert [u["served"] for u in out[1]["upstreams"]] == [702, 450]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upstreams", "gpu-1"], "give each upstream as NAME=SLOTS"),
        (["--upstreams", "gpu-1=0"], "give each upstream as NAME=SLOTS"),
        (["--upstreams", "a=1,a=2"], "'a' is already in the pool"),
        (["--upstreams", "a=1", "--slots", "2"], "--slots is one upstream"),
        (["--upstreams", "a=1", "--set", "upstreams=[b=1]"], "not both"),
        (["--set", "upstreams=[b]"], "give each upstream as NAME=SLOTS"),
        (["--upstreams", "bad name=1"], "upstreams.0.name"),
    ],
)
def test_a_bad_pool_exits_2(cli: Cli, trace: Path, args: list[str], message: str) -> None:
    res = cli("replay", str(trace), *args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output
