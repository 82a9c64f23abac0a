"""brb.adapters.provider_failure: what every provider adapter says about a failed call."""

from __future__ import annotations

import pytest

from brb.adapters.provider_failure import error_kind, retry_after_s, short_message


@pytest.mark.parametrize(
    ("body", "keys", "kind"),
    [
        ({"type": "error", "error": {"type": "overloaded_error"}}, ("type",), "overloaded_error"),
        (
            {"error": {"code": "rate_limit_exceeded", "type": "x"}},
            ("code", "type"),
            "rate_limit_exceeded",
        ),
        ({"error": {"code": None, "type": "server_error"}}, ("code", "type"), "server_error"),
        ({"type": "api_error"}, ("type",), "api_error"),  # no error object: the body itself
        ({"error": "a string, not an object"}, ("type",), ""),
        ({"error": {"message": "no kind"}}, ("code", "type"), ""),
        ("not a body", ("type",), ""),
        (None, ("type",), ""),
    ],
)
def test_error_kind(body: object, keys: tuple[str, ...], kind: str) -> None:
    assert error_kind(body, *keys) == kind


def test_short_message_and_retry_after() -> None:
    assert short_message(ValueError("two\nlines")) == "two lines"
    assert short_message(ValueError("x" * 400), limit=10) == "x" * 10 + "…"
    assert retry_after_s("2.5") == 2.5
    assert retry_after_s("Wed, 21 Oct 2026 07:28:00 GMT") is None
    assert retry_after_s(None) is None
