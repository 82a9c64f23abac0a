"""Fixtures for the button tests: a rig of each kind, and a fresh database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from button_rigs import RIGS

from brb.adapters.store import Store


@pytest.fixture(params=list(RIGS))
def rig(request: pytest.FixtureRequest) -> Any:
    return RIGS[request.param]()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "brb.db"
    Store.open(path).close()
    return path
