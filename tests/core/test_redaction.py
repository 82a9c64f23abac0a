"""brb.core.redaction: credentials in a URL never shown."""

from __future__ import annotations

import pytest

from brb.core.redaction import redact_in, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:s3cret@ollama:11434", "http://user:***@ollama:11434"),
        ("https://tok3n@ollama.example/x", "https://***@ollama.example/x"),
        ("http://127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("http://a:b:c@h", "http://a:***@h"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_in_masks_the_url_and_a_bare_password() -> None:
    url = "http://user:s3cret@ollama:11434"
    text = f"can't reach {url}/api/chat (auth s3cret refused)"
    out = redact_in(text, url)
    assert "s3cret" not in out and "http://user:***@ollama:11434/api/chat" in out
    assert redact_in("plain", "http://h") == "plain"
