"""A diverted body brb's converter refuses as malformed goes local, quietly.

Found by bench/faults.py's fuzz: a pressed /api/chat whose message content is
a list, or an /api/generate with ``format: "yaml"``, made the conversion raise
BadRequest, which the cloud leg logged as a conversion bug with a traceback.
It is the client's body: the request is answered locally (Ollama has its say
on it), with the reason ``not_convertible`` and one info line, no traceback.
"""

from __future__ import annotations

import logging

import pytest
from daemon_rig import MODEL, StartRig

BODIES = [
    ("/api/generate", {"model": MODEL, "prompt": "hi", "stream": False, "format": "yaml"}),
    (
        "/api/chat",
        {
            "model": MODEL,
            "stream": False,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        },
    ),  # fmt: skip
]


@pytest.mark.parametrize(("path", "body"), BODIES, ids=["format yaml", "content a list"])
def test_a_body_the_converter_refuses_is_answered_locally_without_a_traceback(
    start_brb: StartRig, caplog: pytest.LogCaptureFixture, path: str, body: dict[str, object]
) -> None:
    rig = start_brb()
    rig.press()
    with caplog.at_level(logging.INFO, logger="brb"):
        answer = rig.post(path, body)
    assert answer.status == 200, answer.text
    assert answer.provider in (None, "ollama")
    assert rig.cloud_hits() == 0
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert any("skipped" in r.getMessage() for r in caplog.records if r.name == "brb.daemon.cloud")
