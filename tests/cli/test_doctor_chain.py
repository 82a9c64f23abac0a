"""``brb doctor`` checks every provider of the chain: its key, its base URL, a live call."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from brb.cli.main import app
from brb.sim.anthropic import DEFAULT_API_KEY as ANTHROPIC_KEY
from brb.sim.anthropic import FakeAnthropic
from brb.sim.ollama import FakeOllama
from brb.sim.openai import DEFAULT_API_KEY as OPENAI_KEY
from brb.sim.openai import FakeOpenAI
from brb.sim.server import serve_in_thread

Cli = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for name in ("ANTHROPIC_API_KEY", "CREDENTIALS_DIRECTORY", "BRB_CONFIG", "GROQ_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_EMERGENCY_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    db = tmp_path / "brb.db"

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, [*args, "--db", str(db)])

    return run


@pytest.fixture
def servers() -> Iterator[tuple[FakeOpenAI, str, str, str]]:
    openai_fake = FakeOpenAI()
    with (
        serve_in_thread(FakeOllama().app()) as ollama_url,
        serve_in_thread(FakeAnthropic().app()) as anthropic_url,
        serve_in_thread(openai_fake.app()) as openai_url,
    ):
        yield openai_fake, ollama_url, anthropic_url, openai_url


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def config(tmp_path: Path, upstream: str, providers: dict[str, object]) -> str:
    path = tmp_path / "brb.yaml"
    path.write_text(
        yaml.safe_dump({"big_red_button": {"upstream": upstream, "providers": providers}})
    )
    return str(path)


def checks(result: Result) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in json.loads(result.stdout)["checks"]}


def test_every_provider_is_checked_and_live_makes_a_one_token_call(
    cli: Cli, tmp_path: Path, servers: tuple[FakeOpenAI, str, str, str]
) -> None:
    openai_fake, ollama_url, anthropic_url, openai_url = servers
    path = config(
        tmp_path,
        ollama_url,
        {
            "anthropic": {"base_url": anthropic_url},
            "openai": {"base_url": openai_url + "/v1", "model": "gpt-4o-mini"},
        },
    )
    result = cli("doctor", "--live", "--json", "--config", path)
    by_name = checks(result)
    assert result.exit_code == 0, result.output
    for name in ("anthropic", "openai"):
        assert by_name[f"{name} key"]["status"] == "ok"
        assert by_name[f"{name} reachable"]["status"] == "ok"
        assert by_name[f"{name} live"]["status"] == "ok"
    assert "1-token call" in by_name["openai live"]["summary"]
    (sent,) = openai_fake.completion_requests
    assert sent.body["max_completion_tokens"] == 1  # type: ignore[index]
    assert OPENAI_KEY not in result.output and ANTHROPIC_KEY not in result.output


def test_a_missing_key_fails_and_an_unreachable_provider_warns(
    cli: Cli, tmp_path: Path, servers: tuple[FakeOpenAI, str, str, str]
) -> None:
    _, ollama_url, anthropic_url, _ = servers
    down = closed_port_url()
    path = config(
        tmp_path,
        ollama_url,
        {
            "anthropic": {"base_url": anthropic_url},
            "groq": {"kind": "openai", "base_url": down + "/v1", "model": "llama-3.3-70b"},
        },
    )
    result = cli("doctor", "--json", "--config", path)
    assert result.exit_code == 1
    by_name = checks(result)
    assert (
        by_name["groq key"]["status"] == "fail"
        and "$GROQ_API_KEY" in by_name["groq key"]["summary"]
    )
    assert (
        by_name["groq reachable"]["status"] == "warn"
        and down in by_name["groq reachable"]["summary"]
    )
    assert by_name["groq live"]["status"] == "skip"
    assert by_name["anthropic reachable"]["status"] == "ok"


def test_a_rejected_key_fails_the_live_check(
    cli: Cli,
    tmp_path: Path,
    servers: tuple[FakeOpenAI, str, str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, ollama_url, anthropic_url, openai_url = servers
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    path = config(
        tmp_path,
        ollama_url,
        {
            "anthropic": {"base_url": anthropic_url},
            "openai": {"base_url": openai_url + "/v1", "model": "gpt-4o-mini"},
        },
    )
    result = cli("doctor", "--live", "--json", "--config", path)
    assert result.exit_code == 1
    live = checks(result)["openai live"]
    assert live["status"] == "fail" and "401" in live["summary"] and "rejected" in live["summary"]
    assert "sk-wrong" not in result.output
