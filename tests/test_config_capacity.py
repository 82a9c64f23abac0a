"""The ``capacity:``, ``scale_hook:`` and ``scale_hook_after_seconds`` keys."""

from __future__ import annotations

import re
from typing import Any

import pytest

from brb.config import parse
from brb.errors import ConfigError


def cfg(**section: Any) -> Any:
    return parse({"big_red_button": section})


def test_defaults() -> None:
    c = cfg()
    assert (c.capacity.window_days, c.capacity.max_extra_slots) == (7, 8)
    assert c.capacity.refresh_seconds == 300
    assert c.scale_hook is None and c.scale_hook_after_seconds == 600


def test_a_url_or_a_command() -> None:
    assert cfg(scale_hook={"url": "http://127.0.0.1:9000/scale"}).scale_hook.command is None
    hook = cfg(scale_hook={"command": ["/usr/local/bin/add-box", "--dry-run"]}).scale_hook
    assert hook.url is None and hook.command == ["/usr/local/bin/add-box", "--dry-run"]
    assert hook.timeout_seconds == 10


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ({"scale_hook": {}}, "scale_hook: give either url"),
        ({"scale_hook": {"url": "http://a", "command": ["x"]}}, "not both"),
        ({"scale_hook": {"url": "ftp://a"}}, "must be an http(s) URL"),
        ({"scale_hook": {"command": []}}, "scale_hook.command"),
        ({"scale_hook": {"url": "http://a", "method": "PUT"}}, "scale_hook.method"),
        ({"scale_hook_after_seconds": 0}, "scale_hook_after_seconds"),
        ({"capacity": {"window_days": 0}}, "capacity.window_days"),
        ({"capacity": {"max_extra_slots": 1000}}, "capacity.max_extra_slots"),
    ],
)
def test_bad_values_are_refused_with_their_key(section: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        cfg(**section)
