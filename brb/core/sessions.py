"""Which sessions must never leave the building.

Owns matching a session id against the ``excluded_sessions`` globs, exactly
or ignoring case (``session_match``), and the fail-closed rule for a request
that carries several ids: excluded if any of them matches. Must not know where
the session ids came from (a header, a trace): callers pass them in.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence


class SessionFilter:
    """Compiled ``excluded_sessions`` globs (``*`` ``?`` ``[...]``; case-sensitive
    unless ``case_insensitive``)."""

    __slots__ = ("_pattern", "globs")

    def __init__(self, globs: Sequence[str], *, case_insensitive: bool = False) -> None:
        self.globs = tuple(globs)
        if self.globs:
            joined = "|".join(f"(?:{fnmatch.translate(g)})" for g in self.globs)
            flags = re.IGNORECASE if case_insensitive else 0
            self._pattern: re.Pattern[str] | None = re.compile(joined, flags)
        else:
            self._pattern = None

    def is_excluded(self, session: str | None) -> bool:
        if not session or self._pattern is None:
            return False
        return self._pattern.match(session) is not None

    def is_any_excluded(self, sessions: Iterable[str]) -> bool:
        """Whether any of the ids one request carries matches (fail closed)."""
        return any(self.is_excluded(session) for session in sessions)
