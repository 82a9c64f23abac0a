"""One live `brb serve` for a fault: its temp dir, config, database, fakes and log.

Owns starting and stopping a real `brb serve` process (its own directory,
config, SQLite file, free loopback ports, a dummy API key and an admin token in
its environment, stderr to a log file), pressing and releasing its button over
HTTP, killing it with SIGKILL, and reading its ledger back from the database
(`brb spend --json` and the rows themselves). The fake Anthropic and fake
Ollama (brb.sim) are served from threads of the bench process, so a fault can
arm them and read their tallies directly.

Must not: judge anything (bench/fault_report.py does), or bind anything but
127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from harness import ROOT, free_port

from brb.sim.anthropic import FakeAnthropic
from brb.sim.ollama import FakeOllama
from brb.sim.server import serve_in_thread

KEY_ENV = "BRB_FAULTS_KEY"
TOKEN_ENV = "BRB_FAULTS_ADMIN_TOKEN"
ADMIN = "/admin/big-red-button"


@dataclass(frozen=True, slots=True)
class Secrets:
    """The two values that must never come out of brb."""

    api_key: str
    admin_token: str


@dataclass(slots=True)
class Exchange:
    """One HTTP answer as the client saw it (kept for the secret scan)."""

    status: int
    headers: str
    body: bytes


@dataclass(slots=True)
class Captured:
    """Every answer brb gave during the run, and every log and database file it wrote."""

    exchanges: list[Exchange] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def config_for(port: int, upstream: str, cloud: str, extra: dict[str, Any]) -> dict[str, Any]:
    """A brb config for one fault: loopback, the fakes, the bench's key and token names."""
    base: dict[str, Any] = {
        "listen": f"127.0.0.1:{port}",
        "upstream": upstream,
        "upstream_parallel": 4,
        "health_check_seconds": 1.0,
        "upstream_timeout": {"connect_seconds": 2.0, "read_idle_seconds": 10.0},
        "admin": {"token_env": TOKEN_ENV},
        "thresholds": {"queue_depth": 50, "wait_time_seconds": 30.0, "min_active_seconds": 2},
        "budget": {"daily_limit_usd": 1000},
        "providers": {
            "anthropic": {
                "base_url": cloud,
                "api_key_env": KEY_ENV,
                "timeout_seconds": 5.0,
                "first_token_timeout_seconds": 2.0,
                # every request meets the fault (the breaker would spare most of them)
                "breaker": {"failure_threshold": 1000, "cooldown_seconds": 1.0},
            }
        },
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = _merged(base[key], value)
        else:
            base[key] = value
    return {"big_red_button": base}


def _merged(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class Rig:
    """A `brb serve` process with its own directory; `await start()`, then `url`."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        secrets: Secrets,
        captured: Captured,
        *,
        upstream: str,
        cloud: str,
        extra: dict[str, Any] | None = None,
        db_path: Path | None = None,
    ) -> None:
        self.name = name
        self.dir = workdir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.secrets = secrets
        self.captured = captured
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = db_path or self.dir / "brb.db"
        self.config = self.dir / "brb.yaml"
        self.config.write_text(json.dumps(config_for(self.port, upstream, cloud, extra or {})))
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def log(self) -> Path:
        return self.dir / f"brb-{self.runs}.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRB_")}
        env.pop("ANTHROPIC_API_KEY", None)
        env[KEY_ENV] = self.secrets.api_key
        env[TOKEN_ENV] = self.secrets.admin_token
        return env

    async def start(self, timeout_s: float = 60.0) -> None:
        self.runs += 1
        log = self.log.open("wb")
        self.captured.files.append(self.log)
        args = ["-m", "brb", "serve", "--config", str(self.config), "--db", str(self.db)]
        self.proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=self.env(), stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise SystemExit(f"{self.name}: brb exited at start; see {self.log}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with s.get(self.url + "/healthz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise SystemExit(f"{self.name}: brb did not come up within {timeout_s:.0f}s")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        """SIGTERM (brb drains), then SIGKILL if it outlives a generous wait."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.kill9()

    async def lever(self, action: str) -> int:
        """POST press or release with the admin token; the answer is captured."""
        headers = {"Authorization": f"Bearer {self.secrets.admin_token}"}
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                f"{self.url}{ADMIN}/{action}", json={"reason": "fault bench"}, headers=headers
            ) as r,
        ):
            body = await r.read()
            self.captured.exchanges.append(Exchange(r.status, str(r.headers), body))
            return r.status

    def ledger(self) -> dict[str, Any]:
        """The ledger's rows by status and what they add up to (micro-dollars)."""
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute(
                "SELECT status, outcome, reserved_micro_usd, cost_micro_usd FROM ledger"
            ).fetchall()
        finally:
            conn.close()
        counted = [r for r in rows if r[0] in ("settled", "reserved")]
        return {
            "rows": len(rows),
            "reserved_rows": sum(1 for r in rows if r[0] == "reserved"),
            # a reserved row counts at its reservation, as `brb spend`'s remaining does
            "micro_usd": sum(r[3] if r[0] == "settled" else r[2] for r in counted),
            # the documented over-count: a cut-off row may settle up to its reservation
            "cut_reserved_micro_usd": sum(r[2] for r in counted if r[1] != "ok"),
            "outcomes": sorted({r[1] for r in rows}),
        }

    def spend_json(self) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-m", "brb", "spend", "--json", "--db", str(self.db)],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            timeout=120,
            check=False,
        )
        self.captured.exchanges.append(Exchange(out.returncode, "", out.stdout + out.stderr))
        return json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr.decode()}

    def db_files(self) -> list[Path]:
        return [p for p in self.db.parent.glob(self.db.name + "*") if p.is_file()]


@contextlib.contextmanager
def fakes(anthropic: FakeAnthropic, ollama: FakeOllama | None) -> Iterator[tuple[str, str]]:
    """Serve the fakes from threads: (ollama URL, anthropic URL). No Ollama: a closed port."""
    with serve_in_thread(anthropic.app()) as cloud:
        if ollama is None:
            yield f"http://127.0.0.1:{free_port()}", cloud
            return
        with serve_in_thread(ollama.app()) as local:
            yield local, cloud
