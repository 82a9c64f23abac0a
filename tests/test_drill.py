"""`brb drill` runs the real daemon against the simulated backends and passes."""

from __future__ import annotations

import json
import subprocess
import sys


def test_drill_passes_and_narrates_the_button() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "brb", "drill", "--json"],
        capture_output=True,
        text=True,
        timeout=90,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    result = json.loads(proc.stdout)
    assert result["passed"] is True
    log = "\n".join(result["log"])
    assert "BUTTON ON" in log and "BUTTON OFF" in log
    assert "✓ compliance sessions never left the building" in log
    assert "✗" not in log
