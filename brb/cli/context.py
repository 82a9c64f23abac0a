"""The options every command shares, as Typer declares them.

Owns the ``--config``/``--db``/``--json`` declarations; what they turn into
(a loaded config, an open store, the time) is :mod:`brb.cli.loading`,
re-exported here. Keeps imports light: no HTTP stack, no SDKs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from brb.cli.loading import load_config as load_config
from brb.cli.loading import load_light as load_light
from brb.cli.loading import now as now
from brb.cli.loading import open_store as open_store
from brb.cli.loading import parse_for as parse_for

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $BRB_CONFIG, /etc/brb/brb.yaml, none)",
        show_default=False,
    ),
]
DbOpt = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Database file (default: $BRB_DB, config database, "
        "$STATE_DIRECTORY/brb.db, ~/.local/state/brb/brb.db)",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output")]
