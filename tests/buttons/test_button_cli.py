"""`brb button listen` as systemd runs it: a real process, stopped by a signal."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
BRB = [sys.executable, "-c", "import sys; sys.argv[0] = 'brb'; from brb.cli.main import run; run()"]


def start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [*BRB, "button", "listen", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_until(proc: subprocess.Popen[str], marker: str, within_s: float = 20.0) -> list[str]:
    """stdout lines up to and including the first containing ``marker``."""
    assert proc.stdout is not None
    lines: list[str] = []
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if not sel.select(timeout=0.1):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if marker in line:
                return lines
    proc.kill()
    _, err = proc.communicate()
    raise AssertionError(f"never printed {marker!r}; stdout {lines}, stderr {err}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_dry_run_on_mock_gpio_stops_cleanly_on_a_signal(signum: int) -> None:
    proc = start("--kind", "gpio", "--pin", "17", "--dry-run")
    lines = read_until(proc, "listening on")
    assert lines[-1] == "listening on gpio pin 17 (pull-up)"
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "brb button: stopped" in out


def test_settings_come_from_the_config_button_section(tmp_path: Path) -> None:
    config = tmp_path / "brb.yaml"
    config.write_text(
        "big_red_button:\n  button:\n    kind: gpio\n    pin: 22\n    pull_up: false\n"
    )
    proc = start("--config", str(config), "--dry-run")
    lines = read_until(proc, "listening on")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert lines[-1] == "listening on gpio pin 22 (pull-down)"
    assert proc.returncode == 0, err


def test_a_button_that_cannot_be_built_is_a_clear_error_not_a_traceback() -> None:
    from brb.cli.main import app

    result = CliRunner().invoke(app, ["button", "listen", "--kind", "keyboard", "--dry-run"])
    assert result.exit_code == 1
    assert "needs a device" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_unknown_kind_is_a_usage_error() -> None:
    from brb.cli.main import app

    result = CliRunner().invoke(app, ["button", "listen", "--kind", "usb"])
    assert result.exit_code == 2


def test_an_unusable_database_fails_at_start_not_at_the_first_press(tmp_path: Path) -> None:
    from brb.cli.main import app

    args = ["button", "listen", "--kind", "gpio", "--db", str(tmp_path)]  # a directory
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "brb:" in result.output and str(tmp_path) in result.output
