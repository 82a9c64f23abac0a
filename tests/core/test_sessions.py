"""brb.core.sessions: excluded_sessions globs."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brb.core.sessions import SessionFilter

ORIGINAL = SessionFilter(["compliance-*", "test-*", "internal-*"])  # config/emergency.yaml


@pytest.mark.parametrize(
    ("session", "excluded"),
    [
        ("compliance-2026-q4", True),
        ("test-", True),
        ("internal-billing", True),
        ("customer-42", False),
        ("xcompliance-1", False),  # anchored at the start
        ("Compliance-1", False),  # case-sensitive
        ("compliance", False),
        ("test-a\nb", True),
        (None, False),
        ("", False),
    ],
)
def test_original_globs(session: str | None, excluded: bool) -> None:
    assert ORIGINAL.is_excluded(session) is excluded


def test_glob_features_and_empty_filter() -> None:
    f = SessionFilter(["team-?", "run-[0-9]*"])
    assert f.is_excluded("team-a") and not f.is_excluded("team-ab")
    assert f.is_excluded("run-7x") and not f.is_excluded("run-x7")
    assert not SessionFilter([]).is_excluded("anything")
    assert SessionFilter(["*"]).is_excluded("anything")


@given(
    globs=st.lists(st.text(alphabet="ab*?-", min_size=1, max_size=5), max_size=4),
    session=st.text(alphabet="ab-", min_size=1, max_size=8),
)
def test_agrees_with_fnmatchcase(globs: list[str], session: str) -> None:
    expected = any(fnmatch.fnmatchcase(session, g) for g in globs)
    assert SessionFilter(globs).is_excluded(session) is expected
