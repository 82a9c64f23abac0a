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


def test_case_insensitive_matching_when_asked() -> None:
    loose = SessionFilter(["compliance-*"], case_insensitive=True)
    assert loose.is_excluded("Compliance-1") and loose.is_excluded("COMPLIANCE-x")
    assert not loose.is_excluded("customer-COMPLIANCE-1")
    assert not SessionFilter(["compliance-*"]).is_excluded("Compliance-1")  # the default


@pytest.mark.parametrize(
    ("sessions", "excluded"),
    [
        (["customer-1", "compliance-7"], True),  # any value matching excludes the request
        (["compliance-7", "customer-1"], True),
        (["customer-1", "customer-2"], False),
        ([], False),
    ],
)
def test_a_repeated_session_header_is_excluded_if_any_value_matches(
    sessions: list[str], excluded: bool
) -> None:
    assert ORIGINAL.is_any_excluded(sessions) is excluded
