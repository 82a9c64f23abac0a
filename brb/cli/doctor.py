"""``brb doctor``: is this brb ready for an emergency? A checklist.

Owns the readiness checks and their verdicts: the config loads (and every
configured cloud model has a price: an unpriced model FAILS, because brb
would silently keep traffic local), the database opens (path, permissions,
WAL, schema), the Ollama upstream answers ``GET /api/version``, every
provider of the chain has its key (never printed) and answers at its base
URL, optionally (``--live``) accepts the key (:mod:`brb.cli.doctor_providers`),
the notifiers have what they need, and the daemon's heartbeat is fresh.

Each check is ✓ ok, ! warning, ✗ failure or - skipped; exit 0 unless
something failed (warnings allowed), 1 otherwise. Secrets are shown only as
set / not set; only non-secret URLs (the PagerDuty events URL, the
Statuspage API base) are shown, and only by host. Doctor is not a hot
command: it may import the provider SDK, but only for ``--live``.
"""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from brb.cli.context import ConfigOpt, DbOpt, JsonOpt, now
from brb.cli.doctor_check import Check
from brb.core.redaction import redact_in, redact_url

if TYPE_CHECKING:
    from brb.adapters.store import Store
    from brb.config import BrbConfig

SYMBOLS: dict[str, str] = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "-"}
UPSTREAM_TIMEOUT_S = 3.0
LIVE_TIMEOUT_S = 10.0
HEARTBEAT_STALE_S = 30.0


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        live: Annotated[
            bool,
            typer.Option(
                "--live",
                help="Also call the provider (count_tokens: checks the key, costs nothing)",
            ),
        ] = False,
        json_out: JsonOpt = False,
        config: ConfigOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Check config, database, upstream, keys, notifiers and daemon; exit 1 on a failure."""
        checks = run_checks(config, db, live=live, at=now())
        failed = any(c.status == "fail" for c in checks)
        if json_out:
            print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}, indent=2))
        else:
            print(render(checks))
        raise typer.Exit(1 if failed else 0)


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = ["brb doctor"]
    for c in checks:
        lines.append(f"  {SYMBOLS[c.status]} {c.name:<{width}}  {c.summary}")
        lines += [f"  {'':<{width + 2}}  {d}" for d in c.details]
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    lines.append(f"{failed} failed, {warned} warnings" if failed or warned else "all good")
    return "\n".join(lines)


def run_checks(config: Path | None, db: Path | None, *, live: bool, at: datetime) -> list[Check]:
    from brb.cli.doctor_providers import check_providers

    config_check, cfg = check_config(config)
    checks = [config_check]
    if cfg is None:
        return checks
    db_check, store = check_database(db, cfg)
    checks.append(db_check)
    try:
        checks.append(check_upstream(cfg))
        checks += check_providers(cfg, live=live)
        checks += check_notifiers(cfg)
        checks.append(check_daemon(store, at))
    finally:
        if store is not None:
            store.close()
    return checks


# --- config and database ------------------------------------------------------------


def check_config(path: Path | None) -> tuple[Check, BrbConfig | None]:
    from brb.config import load
    from brb.errors import ConfigError

    try:
        loaded = load(path)
    except ConfigError as exc:
        return Check(
            "config", "fail", str(exc).splitlines()[0], tuple(str(exc).splitlines()[1:])
        ), None
    cfg = loaded.config
    where = str(loaded.path) if loaded.path else "no file: every default"
    unpriced = [m for m in cfg.cloud_models() if cfg.price_for(m) is None]
    details = tuple(f"warning: {w}" for w in loaded.warnings)
    if unpriced:
        return Check(
            "config",
            "fail",
            f"{where}: no price for {', '.join(map(repr, unpriced))}"
            ": diversion is OFF (add it under pricing: or pick a priced model)",
            details,
        ), cfg
    if details:
        return Check("config", "warn", f"{where} loads, with warnings", details), cfg
    return Check("config", "ok", f"{where} loads; cloud model {cfg.models.anthropic_model}"), cfg


def check_database(db: Path | None, cfg: BrbConfig) -> tuple[Check, Store | None]:
    from brb.adapters import migrations
    from brb.adapters.store import Store, locate
    from brb.errors import BrbError, StoreError

    try:
        where = locate(db, cfg)
    except BrbError as exc:
        return Check("database", "fail", str(exc)), None
    if isinstance(where, str):
        return _check_postgres(where)
    path = where
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), Path("/"))
        if not os.access(parent, os.W_OK | os.X_OK):
            return Check(
                "database",
                "fail",
                f"no database at {path}, and {parent} is not "
                "writable by this user: brb can't create it",
            ), None
        return Check(
            "database",
            "warn",
            f"no database yet at {path} (`brb serve` or `brb status` creates it)",
        ), None
    if not os.access(path, os.R_OK | os.W_OK):
        return Check(
            "database",
            "fail",
            f"{path}: this user can't read and write it (join the brb group, or pass --db)",
        ), None
    try:
        store = Store.open(path, create=False)
    except StoreError as exc:
        return Check("database", "fail", str(exc)), None
    mode = stat.S_IMODE(path.stat().st_mode)
    journal = str(store.query("PRAGMA journal_mode")[0][0]).upper()
    applied = store.applied_migrations()
    schema = applied[-1] if applied else "none"
    summary = f"SQLite file {path} (mode {mode:04o}, {journal}, schema {schema})"
    problems = []
    if mode & stat.S_IROTH:
        problems.append(f"readable by every user on this host: chmod o-rwx {path}")
    if journal != "WAL":
        problems.append("not in WAL mode: the CLI and the daemon will block each other")
    if list(applied) != list(migrations.NAMES):
        problems.append(f"schema {schema} is not this brb's {migrations.NAMES[-1]}")
    return Check("database", "warn" if problems else "ok", summary, tuple(problems)), store


def _check_postgres(url: str) -> tuple[Check, Store | None]:
    """Fleet mode: the shared PostgreSQL database (shown without its password)."""
    from brb.adapters import migrations
    from brb.adapters.store import Store
    from brb.errors import StoreError

    try:
        store = Store.open(url)
    except StoreError as exc:
        return Check("database", "fail", str(exc)), None
    applied = store.applied_migrations()
    schema = applied[-1] if applied else "none"
    summary = f"PostgreSQL {store.label} (fleet mode, schema {schema})"
    problems: tuple[str, ...] = ()
    if list(applied) != list(migrations.NAMES):
        problems = (f"schema {schema} is not this brb's {migrations.NAMES[-1]}",)
    return Check("database", "warn" if problems else "ok", summary, problems), store


# --- upstream and provider ------------------------------------------------------------


def check_upstream(cfg: BrbConfig) -> Check:
    import urllib.error
    import urllib.request  # here, not at the top: every `brb` command imports this module

    url = f"{cfg.upstream}/api/version"
    # No proxy: the daemon talks to the upstream directly, so must the check.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    started = time.monotonic()
    try:
        with opener.open(url, timeout=UPSTREAM_TIMEOUT_S) as resp:
            body = resp.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        return Check(
            "upstream", "fail", f"{url} answered HTTP {exc.code}: is this Ollama? (config upstream)"
        )
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check(
            "upstream",
            "fail",
            f"{redact_url(cfg.upstream)} unreachable: {redact_in(str(reason), cfg.upstream)} "
            "-- is Ollama running there? (config upstream)",
        )
    elapsed = time.monotonic() - started
    try:
        version = json.loads(body)["version"]
    except (ValueError, KeyError, TypeError):
        return Check(
            "upstream", "warn", f"{url} answered, but not like Ollama (no version in {body[:80]!r})"
        )
    shown = redact_url(cfg.upstream)
    return Check("upstream", "ok", f"Ollama {version} at {shown} ({elapsed * 1000:.0f} ms)")


# --- notifiers and daemon --------------------------------------------------------------


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def check_notifiers(cfg: BrbConfig) -> list[Check]:
    """Each notifier as the daemon will build it (env var or systemd credential),
    secrets masked; a notifier the config names but can't use is a warning, a
    secret that isn't a URL where one is needed a failure."""
    from brb.adapters.notifiers import checks
    from brb.config import read_secret

    n, sp = cfg.notifications, cfg.notifications.statuspage
    meant = {
        "slack": n.slack_channel and f"slack_channel {n.slack_channel}",
        "pagerduty": n.pagerduty_service and f"pagerduty_service {n.pagerduty_service}",
        "statuspage": (sp.page_id or sp.component_id) and "statuspage page/component",
    }
    out: list[Check] = []
    for c in checks(cfg):
        if c.enabled:
            out.append(Check(c.name, "ok", c.detail))
        elif "not an http(s) URL" in c.detail or "is not a URL" in c.detail:
            out.append(Check(c.name, "fail", c.detail))
        elif meant.get(c.name):
            out.append(Check(c.name, "warn", f"{meant[c.name]} is configured but {c.detail}"))
        else:
            out.append(Check(c.name, "skip", c.detail))
    if not any(c.status == "ok" for c in out):
        out.append(
            Check(
                "alerts",
                "warn",
                "no notifier is set up: nobody will be told when "
                "the button goes on or the budget runs out",
            )
        )

    env = cfg.admin.token_env
    if read_secret([env]):
        out.append(Check("admin token", "ok", f"set (${env}): HTTP press/release on"))
    else:
        out.append(
            Check(
                "admin token",
                "skip",
                f"${env} not set: HTTP press/release are off (403); the CLI still works",
            )
        )
    return out


def check_daemon(store: Store | None, at: datetime) -> Check:
    from brb.core.durations import format_duration

    if store is None:
        return Check("daemon", "skip", "no database to read its heartbeat from")
    beat = store.read_heartbeat()
    if beat is None or beat.heartbeat_at is None:
        return Check("daemon", "warn", "never seen: start `brb serve` (or the brb service)")
    age = max(0.0, (at - beat.heartbeat_at).total_seconds())
    who = f"pid {beat.pid} (brb {beat.version}) on {beat.listen}"
    if age > HEARTBEAT_STALE_S:
        return Check(
            "daemon", "warn", f"last heartbeat {format_duration(age)} ago from {who}: not running?"
        )
    return Check("daemon", "ok", f"{who}, heartbeat {format_duration(age)} ago")
