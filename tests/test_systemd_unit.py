"""systemd/brb.service: the directives the issue requires, `systemd-analyze verify` clean,
and `systemd-analyze security` at "OK" or better."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "brb.service"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not installed (apt-get install systemd)"
)
GOOD_LEVELS = {"SAFE", "OK"}  # systemd's scale: SAFE < OK < MEDIUM < EXPOSED < UNSAFE


def _directives() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("WatchdogSec", "30"),
        ("Restart", "on-failure"),
        ("User", "brb"),
        ("Group", "brb"),
        ("StateDirectory", "brb"),
        ("StateDirectoryMode", "0770"),
        ("UMask", "0007"),
        ("LoadCredential", "anthropic-key:/etc/brb/anthropic-key"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallFilter", "@system-service"),
        ("SystemCallArchitectures", "native"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("DevicePolicy", "closed"),
        ("KillSignal", "SIGTERM"),
        ("ExecStart", "/usr/local/bin/brb serve --config /etc/brb/brb.yaml"),
    ],
)
def test_unit_sets(key: str, value: str) -> None:
    assert value in _directives().get(key, []), f"{key}={value} missing"


def test_not_a_dynamic_user() -> None:
    # The state must live in /var/lib/brb, not /var/lib/private, so the CLI can reach it.
    assert "DynamicUser" not in _directives()


def _testable_copy(tmp_path: Path, extra: str = "") -> Path:
    """The unit with ExecStart pointing at a binary that exists here (verify checks it)."""
    true = shutil.which("true") or "/bin/true"
    text = UNIT.read_text().replace("ExecStart=/usr/local/bin/brb ", f"ExecStart={true} ")
    assert text != UNIT.read_text()
    if extra:
        text = text.replace("[Install]", f"{extra}\n\n[Install]")
    path = tmp_path / "brb.service"
    path.write_text(text)
    return path


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60)


@needs_analyze
def test_verify_is_clean(tmp_path: Path) -> None:
    result = _analyze("verify", str(_testable_copy(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@needs_analyze
def test_verify_would_catch_a_typo(tmp_path: Path) -> None:
    # verify only warns (exit 0) on an unknown directive: stderr is what shows it.
    result = _analyze("verify", str(_testable_copy(tmp_path, "[Service]\nProtectSystm=strict")))
    assert "ProtectSystm" in result.stderr


@needs_analyze
def test_security_exposure_is_ok(tmp_path: Path) -> None:
    result = _analyze("security", "--offline=yes", str(_testable_copy(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    match = re.search(r"Overall exposure level for brb\.service: ([0-9.]+) (\w+)", result.stdout)
    assert match, result.stdout[-500:]
    score, level = float(match.group(1)), match.group(2)
    print(f"systemd-analyze security: {score} {level}")
    assert level in GOOD_LEVELS, f"exposure {score} {level}"
