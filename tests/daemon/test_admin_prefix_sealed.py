"""Nothing under the admin prefix is ever forwarded to Ollama (issue 16, point 7): a
wrong method or path there is brb's own 404/405, answered in Ollama's error shape, and
the request, with its Authorization header, never reaches the upstream."""

from __future__ import annotations

import pytest
from daemon_rig import Rig

PREFIX = "/admin/big-red-button"
TOKEN = "the-admin-token-that-must-stay-home"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

WRONG = [
    ("GET", PREFIX + "/press"),
    ("POST", PREFIX + "/press/"),
    ("PUT", PREFIX + "/release"),
    ("DELETE", PREFIX + "/release"),
    ("GET", PREFIX + "/status/x"),
    ("POST", PREFIX + "/status"),
    ("POST", PREFIX + "/estimate/"),
    ("GET", PREFIX + "/estimate"),
    ("HEAD", PREFIX + "/press"),
    ("OPTIONS", PREFIX + "/press"),
    ("OPTIONS", PREFIX + "/"),
    ("HEAD", PREFIX + "/nope"),
    ("POST", PREFIX),
    ("PUT", PREFIX),
    ("DELETE", PREFIX + "/"),
    ("PATCH", PREFIX + "/static/dashboard.js"),
    ("POST", PREFIX + "/events"),
    # spellings of the prefix a router would not match but a proxy must not forward
    ("POST", "/" + PREFIX + "/press"),
    ("POST", "/admin//big-red-button/press"),
    ("POST", PREFIX.upper() + "/PRESS"),
    ("POST", PREFIX + "%2Fpress"),
    ("GET", "/admin/big-red-button/./status/"),
]


@pytest.mark.parametrize("with_token", [True, False], ids=["token-set", "token-unset"])
def test_wrong_methods_and_paths_under_the_prefix_are_brbs_own_errors(
    start_brb: object, monkeypatch: pytest.MonkeyPatch, with_token: bool
) -> None:
    if with_token:
        monkeypatch.setenv("BRB_ADMIN_TOKEN", TOKEN)
    rig: Rig = start_brb()  # type: ignore[operator]
    before = sum(rig.ollama.received.values())
    wrong = []
    for method, path in WRONG:
        answer = rig.request(method, path, b'{"for": "10m"}', AUTH)
        ok = answer.status in (404, 405) and TOKEN not in answer.text
        if method != "HEAD":  # a HEAD answer has no body; others: {"error": "..."}
            ok = ok and answer.headers.get("content-type", "").startswith("application/json")
            ok = ok and isinstance(answer.json()["error"], str)
        if not ok:
            wrong.append((method, path, answer.status, answer.text))
    assert wrong == []
    assert sum(rig.ollama.received.values()) == before, dict(rig.ollama.received)
    # the right ones still work
    if with_token:
        assert rig.request("POST", PREFIX + "/press", b"{}", AUTH).status == 200
        assert rig.request("POST", PREFIX + "/release", b"{}", AUTH).status == 200
    assert sum(rig.ollama.received.values()) == before
