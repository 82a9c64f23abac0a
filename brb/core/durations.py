"""Human durations as operators type them: ``90s``, ``10m``, ``2h``, ``1h30m``, ``1d``.

Owns parsing and formatting durations. Pure.
"""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> timedelta:
    """Parse ``10m``, ``1h30m``, ``45s`` or a bare number of seconds.

    Raises ValueError with a message an operator can act on.
    """
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned:
        raise ValueError("empty duration: use e.g. 30s, 10m, 2h, 1h30m")
    try:
        seconds = float(cleaned)
    except ValueError:
        pos = 0
        seconds = 0.0
        for match in _PART.finditer(cleaned):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(cleaned) or pos == 0:
            raise ValueError(
                f"can't read duration {text!r}: use e.g. 30s, 10m, 2h, 1h30m, 1d"
            ) from None
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    return timedelta(seconds=seconds)


def format_duration(seconds: float) -> str:
    """``3725`` -> ``1h2m5s``: brb's one way to show a duration (status, alerts,
    reports), short, and read back by :func:`parse_duration`."""
    if seconds < 1:
        return f"{max(0.0, seconds):.2f}s"
    whole = int(round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
    ]
    if secs or not any(parts):
        parts.append(f"{secs}s")
    return "".join(parts)
