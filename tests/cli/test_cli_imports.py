"""The state commands stay light: ``status``, ``press``, ``release`` and
``spend`` import no HTTP stack and no provider SDK (they take seconds).

Each check runs in a fresh interpreter, since this test process has long
since imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("aiohttp", "anthropic", "ollama", "openai", "httpx", "psycopg", "psycopg_pool")

SCRIPT = """
import json, sys
from typer.main import get_command
from brb.cli.main import app

cmd = get_command(app)
codes = []
for args in (["status", "--json"], ["press", "--for", "1m", "--json"], ["release", "--json"],
             ["release", "--hold", "--json"], ["spend", "--json"], ["spend", "--csv"],
             ["status", "--check"], ["status"]):
    try:
        codes.append(cmd.main(args, prog_name="brb", standalone_mode=False))
    except SystemExit as exc:
        codes.append(exc.code)
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))
print(json.dumps({"codes": codes, "heavy": heavy}))
"""


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "BRB_DB": str(tmp_path / "brb.db"),
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_state_commands_import_no_http_stack(tmp_path: Path) -> None:
    proc = run(["-c", SCRIPT, *HEAVY], tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["heavy"] == []
    # They really ran (status --check exits 0: the last change was release --hold).
    assert out["codes"] == [None, None, None, None, None, None, 0, None]


def test_python_m_brb_imports_no_http_stack(tmp_path: Path) -> None:
    """The console-script path (``run``), seen by the interpreter's own import log."""
    proc = run(["-X", "importtime", "-m", "brb", "status", "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["mode"] == "auto"
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "brb" in imported  # the log was read
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))


def test_python_m_brb_maps_errors_to_exit_codes(tmp_path: Path) -> None:
    proc = run(["-m", "brb", "press", "--for", "soon"], tmp_path)
    assert proc.returncode == 2 and "brb: --for:" in proc.stderr
    assert "Traceback" not in proc.stderr
