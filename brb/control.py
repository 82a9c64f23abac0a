"""The operator's levers: press and release.

Owns the one code path behind every way of pressing the button: the CLI,
the HTTP admin endpoints and the physical buttons all call :func:`press`
and :func:`release`. Each call records an event with who, from where and
why; pressing what is already pressed changes nothing but is still logged.
The daemon sees the change through the store within a second.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import datetime

from brb.adapters.store import Store
from brb.core.breaker import Mode, Override


@dataclass(frozen=True, slots=True)
class ControlResult:
    changed: bool
    override: Override

    @property
    def mode(self) -> str:
        return self.override.mode.value


def current_user() -> str:
    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def _set(store: Store, target: Override, *, kind: str, now: datetime) -> ControlResult:
    current = store.read_mode(now)
    changed = (current.mode, current.until) != (target.mode, target.until)
    detail = {
        "from_mode": current.mode.value,
        "to_mode": target.mode.value,
        "until": target.until.isoformat() if target.until else None,
        "changed": changed,
    }
    if changed:
        store.write_override(target, (kind, detail))
        return ControlResult(True, target)
    store.add_event(
        f"{kind}_noop",
        at=now,
        source=target.source,
        who=target.who,
        reason=target.reason,
        detail=detail,
    )
    return ControlResult(False, current)


def press(
    store: Store,
    *,
    now: datetime,
    source: str,
    who: str | None = None,
    reason: str | None = None,
    until: datetime | None = None,
) -> ControlResult:
    """Divert every eligible request (mode ``on``), optionally until ``until``."""
    target = Override(Mode.ON, until, now, who or current_user(), source, reason or "")
    return _set(store, target, kind="press", now=now)


def release(
    store: Store,
    *,
    now: datetime,
    source: str,
    who: str | None = None,
    reason: str | None = None,
    hold: bool = False,
    until: datetime | None = None,
) -> ControlResult:
    """Back to ``auto`` (the breaker decides), or with ``hold`` to ``off``:
    divert nothing, whatever the load, optionally until ``until``."""
    mode = Mode.OFF if hold else Mode.AUTO
    target = Override(
        mode, until if hold else None, now, who or current_user(), source, reason or ""
    )
    return _set(store, target, kind="hold" if hold else "release", now=now)
