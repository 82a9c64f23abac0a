"""``brb doctor`` against the fake Ollama and the fake Anthropic on loopback."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from brb.adapters import migrations
from brb.adapters.store import Store
from brb.sim.anthropic import DEFAULT_API_KEY, FakeAnthropic
from brb.sim.ollama import VERSION, FakeOllama
from brb.sim.server import serve_in_thread

Cli = Callable[..., Result]
REPO = Path(__file__).resolve().parents[2]
SECRET_HOOK = "https://hooks.slack.com/services/T0001/B0001/s3cr3tpath"
SECRET_ENVS = (
    "ANTHROPIC_EMERGENCY_KEY",
    "ANTHROPIC_API_KEY",
    "CREDENTIALS_DIRECTORY",
    "BRB_SLACK_WEBHOOK_URL",
    "BRB_PAGERDUTY_ROUTING_KEY",
    "BRB_WEBHOOK_URL",
    "BRB_STATUSPAGE_API_KEY",
    "BRB_ADMIN_TOKEN",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_ENVS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def ollama_url() -> Iterator[str]:
    with serve_in_thread(FakeOllama().app()) as url:
        yield url


@pytest.fixture
def anthropic_fake() -> Iterator[tuple[FakeAnthropic, str]]:
    fake = FakeAnthropic()
    with serve_in_thread(fake.app()) as url:
        yield fake, url


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def write_config(tmp_path: Path, **section: object) -> Path:
    path = tmp_path / "brb.yaml"
    path.write_text(yaml.safe_dump({"big_red_button": section}))
    return path


def lines_of(result: Result, name: str) -> list[str]:
    """The checklist lines of check ``name`` (its symbol, then its name)."""
    return [
        line
        for line in result.stdout.splitlines()
        if line[4:].startswith(f"{name} ") and line[2] in "✓!✗-"
    ]


@pytest.fixture(scope="module")
def anthropic_url() -> Iterator[str]:
    """A provider base URL that answers (doctor checks each provider is reachable)."""
    with serve_in_thread(FakeAnthropic().app()) as url:
        yield url


@pytest.fixture
def healthy(
    tmp_path: Path,
    tmp_db: Path,
    ollama_url: str,
    anthropic_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    monkeypatch.setenv("ANTHROPIC_EMERGENCY_KEY", DEFAULT_API_KEY)
    monkeypatch.setenv("BRB_SLACK_WEBHOOK_URL", SECRET_HOOK)
    with Store.open(tmp_db) as store:
        now = datetime.now(UTC)
        store.write_heartbeat(
            at=now,
            pid=4242,
            version="0.1.0",
            listen="127.0.0.1:11435",
            started_at=now - timedelta(minutes=5),
        )
    return write_config(
        tmp_path,
        upstream=ollama_url,
        notifications={"slack_channel": "#ops-emergency"},
        providers={"anthropic": {"base_url": anthropic_url}},
    )


def test_all_good_exits_0_and_never_prints_a_secret(cli: Cli, healthy: Path) -> None:
    result = cli("doctor", "--config", str(healthy))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert lines_of(result, "config")[0].lstrip().startswith("✓")
    assert "✓ database" in out and f"WAL, schema {migrations.NAMES[-1]}" in out
    assert f"Ollama {VERSION} at http://127.0.0.1:" in out
    assert "✓ anthropic key" in out and "set (from $ANTHROPIC_EMERGENCY_KEY)" in out
    assert "✓ anthropic reachable" in out and "answered HTTP 404" in out
    assert "- anthropic live" in out and "--live" in out
    assert "✓ slack" in out and "channel #ops-emergency" in out
    assert "✓ daemon" in out and "pid 4242" in out
    assert "! alerts" not in out
    assert DEFAULT_API_KEY not in result.output and "s3cr3tpath" not in result.output


def test_upstream_down_fails_with_a_clear_line(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_EMERGENCY_KEY", DEFAULT_API_KEY)
    down = closed_port_url()
    result = cli("doctor", "--config", str(write_config(tmp_path, upstream=down)))
    assert result.exit_code == 1, result.output
    (line,) = lines_of(result, "upstream")
    assert line.lstrip().startswith("✗")
    assert f"{down} unreachable" in line and "is Ollama running there?" in line


def test_the_original_emergency_yaml_fails_on_its_unpriced_model(
    cli: Cli, ollama_url: str, tmp_path: Path
) -> None:
    original = yaml.safe_load((REPO / "config" / "emergency.yaml").read_text())
    original["big_red_button"]["upstream"] = ollama_url  # all else as shipped
    path = tmp_path / "emergency.yaml"
    path.write_text(yaml.safe_dump(original))
    result = cli("doctor", "--config", str(path))
    assert result.exit_code == 1, result.output
    (line,) = lines_of(result, "config")
    assert line.lstrip().startswith("✗")
    assert "no price for 'claude-3-sonnet-20241022'" in line and "diversion is OFF" in line
    assert "never existed" in result.stdout  # the load warning, listed under the check
    # its notifications name a channel and a service but no secrets are set
    assert "! slack" in result.stdout and "! pagerduty" in result.stdout
    assert "! alerts" in result.stdout


def test_live_check_calls_count_tokens(
    cli: Cli, healthy: Path, anthropic_fake: tuple[FakeAnthropic, str]
) -> None:
    fake, url = anthropic_fake
    cfg = yaml.safe_load(healthy.read_text())
    cfg["big_red_button"]["providers"] = {"anthropic": {"base_url": url}}
    healthy.write_text(yaml.safe_dump(cfg))
    result = cli("doctor", "--live", "--config", str(healthy))
    assert result.exit_code == 0, result.output
    (line,) = lines_of(result, "anthropic live")
    assert line.lstrip().startswith("✓") and "accepted the key" in line
    assert fake.received["/v1/messages/count_tokens"] == 1
    assert fake.received["/v1/messages"] == 0  # nothing that costs money


def test_live_check_with_a_rejected_key_fails(
    cli: Cli,
    healthy: Path,
    anthropic_fake: tuple[FakeAnthropic, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, url = anthropic_fake
    monkeypatch.setenv("ANTHROPIC_EMERGENCY_KEY", "sk-ant-wrong")
    cfg = yaml.safe_load(healthy.read_text())
    cfg["big_red_button"]["providers"] = {"anthropic": {"base_url": url}}
    healthy.write_text(yaml.safe_dump(cfg))
    result = cli("doctor", "--live", "--config", str(healthy))
    assert result.exit_code == 1, result.output
    (line,) = lines_of(result, "anthropic live")
    assert line.lstrip().startswith("✗")
    assert "answered 401 authentication_error" in line and "the key was rejected" in line
    assert fake.received["/v1/messages/count_tokens"] == 1  # no retries
    assert "sk-ant-wrong" not in result.output


def test_missing_key_fails(cli: Cli, healthy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_EMERGENCY_KEY")
    result = cli("doctor", "--config", str(healthy))
    assert result.exit_code == 1
    assert "✗ anthropic key" in result.stdout and "$ANTHROPIC_EMERGENCY_KEY" in result.stdout


def test_notifier_details(cli: Cli, healthy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRB_WEBHOOK_URL", "not a url")
    monkeypatch.setenv("BRB_PAGERDUTY_ROUTING_KEY", "R0UT1NGKEY")
    cfg = yaml.safe_load(healthy.read_text())
    cfg["big_red_button"]["notifications"]["statuspage"] = {"page_id": "p1"}
    healthy.write_text(yaml.safe_dump(cfg))
    result = cli("doctor", "--json", "--config", str(healthy))
    assert result.exit_code == 1  # the malformed webhook URL
    report = json.loads(result.stdout)
    by_name = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is False
    assert by_name["webhook"]["status"] == "fail"
    assert by_name["pagerduty"]["status"] == "ok"
    assert "https://events.pagerduty.com/" in by_name["pagerduty"]["summary"]
    assert by_name["statuspage"]["status"] == "warn"
    assert (
        "set notifications.statuspage.component_id, BRB_STATUSPAGE_API_KEY"
        in (by_name["statuspage"]["summary"])
    )
    assert by_name["admin token"]["status"] == "skip"
    assert "R0UT1NGKEY" not in result.output and "not a url" not in result.output


def test_database_and_daemon_warnings(
    cli: Cli, tmp_db: Path, tmp_path: Path, ollama_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_EMERGENCY_KEY", DEFAULT_API_KEY)
    config = str(write_config(tmp_path, upstream=ollama_url))
    result = cli("doctor", "--config", config)
    assert result.exit_code == 0, result.output  # warnings only
    (line,) = lines_of(result, "database")
    assert line.lstrip().startswith("!") and f"no database yet at {tmp_db}" in line
    assert lines_of(result, "daemon")[0].lstrip().startswith("-")
    assert not tmp_db.exists()  # doctor does not create it

    with Store.open(tmp_db) as store:
        old = datetime.now(UTC) - timedelta(hours=2)
        store.write_heartbeat(
            at=old, pid=7, version="0.1.0", listen="127.0.0.1:11435", started_at=old
        )
    os.chmod(tmp_db, 0o644)
    result = cli("doctor", "--config", config)
    assert result.exit_code == 0, result.output
    assert "(mode 0644, WAL" in result.stdout and "readable by every user" in result.stdout
    (line,) = lines_of(result, "daemon")
    assert line.lstrip().startswith("!") and "last heartbeat 2h ago" in line


def test_a_foreign_database_fails(cli: Cli, tmp_db: Path, tmp_path: Path, ollama_url: str) -> None:
    tmp_db.write_bytes(b"this is not sqlite at all" * 100)
    result = cli("doctor", "--config", str(write_config(tmp_path, upstream=ollama_url)))
    assert result.exit_code == 1
    (line,) = lines_of(result, "database")
    assert line.lstrip().startswith("✗") and "not a usable brb database" in line


def test_a_broken_config_stops_at_the_first_check(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("big_red_button:\n  thresholds:\n    queue_dept: 5\n")
    result = cli("doctor", "--config", str(path))
    assert result.exit_code == 1
    assert "✗ config" in result.stdout
    assert "big_red_button.thresholds.queue_dept: unknown key" in result.stdout
    assert "upstream" not in result.stdout
