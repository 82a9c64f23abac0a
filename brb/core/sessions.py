"""Which sessions must never leave the building.

Owns matching a session id against the ``excluded_sessions`` globs. Must not
know where the session id came from (a header, a trace): callers pass it in.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence


class SessionFilter:
    """Compiled ``excluded_sessions`` globs (case-sensitive, ``*`` ``?`` ``[...]``)."""

    __slots__ = ("_pattern", "globs")

    def __init__(self, globs: Sequence[str]) -> None:
        self.globs = tuple(globs)
        if self.globs:
            joined = "|".join(f"(?:{fnmatch.translate(g)})" for g in self.globs)
            self._pattern: re.Pattern[str] | None = re.compile(joined)
        else:
            self._pattern = None

    def is_excluded(self, session: str | None) -> bool:
        if not session or self._pattern is None:
            return False
        return self._pattern.match(session) is not None
