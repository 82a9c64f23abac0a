"""The status snapshot: what brb is doing now, as one value.

Owns the composition of the store's state, the budget and the config into
the documented ``brb status --json`` schema (the HTTP admin status builds on
it) and the ``--check`` exit code. Reads only; imports no HTTP stack and no
provider SDK, so the CLI stays fast.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from brb.adapters.database import iso
from brb.adapters.store import Store
from brb.adapters.store_instances import Heartbeat, is_stale
from brb.core import breaker
from brb.core.breaker import Mode
from brb.core.budget import budget_day
from brb.core.redaction import redact_url
from brb.credentials import provider_key

if TYPE_CHECKING:
    from brb.config_cache import ConfigLike

SCHEMA_VERSION = 1

EXIT_OK = 0
EXIT_DIVERTING = 3
EXIT_BUDGET_EXHAUSTED = 4
# The daemon writes a heartbeat every 2 s; older than this, it is taken as not running.
DAEMON_ALIVE_S = 30.0


def money(d: Decimal) -> float:
    return float(d.quantize(Decimal("0.000001")))


def diversion_blockers(cfg: ConfigLike, daemon_providers: list[str] | None = None) -> list[str]:
    """Why nothing can be diverted, whatever the breaker says (empty: nothing).

    ``daemon_providers`` is what the running daemon built at start (it may see
    a systemd credential this shell can't); None when no daemon is running."""
    out = []
    if not cfg.enabled:
        out.append("brb is disabled in the config (enabled: false)")
    model = cfg.models.anthropic_model
    if cfg.price_for(model) is None:
        out.append(f"no price known for cloud model {model!r}: add it under pricing:")
    if daemon_providers is not None:
        if not daemon_providers:
            out.append("the running daemon has no cloud provider: it found no provider key")
    elif not any(provider_key(spec) for spec in cfg.provider_chain()):
        chain = cfg.provider_chain()
        if not chain:
            out.append("no cloud provider is configured (providers: is empty)")
        for spec in chain:
            kind = "Anthropic" if spec.kind == "anthropic" else "API"
            out.append(
                f"no {kind} key for provider {spec.name}: set "
                f"{' or '.join(spec.key_env_names)} (or the systemd credential {spec.credential})"
            )
    return out


# The provider breaker edges the daemon logs (brb.daemon.listeners.provider_log).
PROVIDER_OPENED = "provider_opened"
PROVIDER_HALF_OPEN = "provider_half_open"
PROVIDER_CLOSED = "provider_closed"
PROVIDER_EVENT_KINDS = (PROVIDER_OPENED, PROVIDER_HALF_OPEN, PROVIDER_CLOSED)


UPSTREAM_DOWN = "upstream_down"
UPSTREAM_UP = "upstream_up"
UPSTREAM_MODELS = "upstream_models"
UPSTREAM_EVENT_KINDS = (UPSTREAM_DOWN, UPSTREAM_UP, UPSTREAM_MODELS)


def upstream_states(
    store: Store, cfg: ConfigLike, beat: Heartbeat | None, now: datetime
) -> list[dict[str, Any]]:
    """``[{name, url, healthy, models_loaded, queue_depth, in_flight, predicted_wait_s}]``
    for the running daemon's pool (the configured one when no daemon is alive). Health
    and loaded models are replayed from what the daemon logged since it started (down
    and up edges, written as they happen; the loaded models when they change); the
    queue figures are the daemon's at its last heartbeat (every 2 s), null with no
    live daemon. With no daemon every upstream reads healthy (a daemon starts with
    them all admitted)."""
    live: dict[str, dict[str, Any]] = {}
    last = beat.heartbeat_at if beat is not None else None
    if beat is not None and last is not None and (now - last).total_seconds() <= DAEMON_ALIVE_S:
        live = {str(u.get("name")): u for u in beat.upstreams}
    specs = [(name, u.get("url")) for name, u in live.items()] or [
        (spec.name, redact_url(spec.url)) for spec in cfg.upstream_pool()
    ]
    out = {
        name: {
            "name": name,
            "url": url,
            "healthy": True,
            "models_loaded": None,
            "queue_depth": live.get(name, {}).get("queue_depth"),
            "in_flight": live.get(name, {}).get("in_flight"),
            "predicted_wait_s": live.get(name, {}).get("predicted_wait_s"),
        }
        for name, url in specs
    }
    if beat is not None and beat.started_at is not None:
        for e in store.events(kinds=list(UPSTREAM_EVENT_KINDS), since=beat.started_at):
            row = out.get(e.who)
            if row is None:
                continue
            if e.kind == UPSTREAM_MODELS:
                row["models_loaded"] = list(e.detail.get("models") or [])
            else:
                row["healthy"] = e.kind == UPSTREAM_UP
    return list(out.values())


def provider_states(
    store: Store, cfg: ConfigLike, beat: Heartbeat | None, now: datetime
) -> dict[str, dict[str, Any]]:
    """``{name: {state, failures, open_until, last_error}}`` for the configured chain,
    replayed from the breaker edges the daemon logged since it started (an open
    breaker past its ``open_until`` reads half_open: its next request is the probe).
    With no daemon every breaker is closed: a daemon starts with them closed."""
    out: dict[str, dict[str, Any]] = {
        spec.name: {"state": "closed", "failures": 0, "open_until": None, "last_error": None}
        for spec in cfg.provider_chain()
    }
    if beat is None or beat.started_at is None:
        return out
    for e in store.events(kinds=list(PROVIDER_EVENT_KINDS), since=beat.started_at):
        row = out.get(e.who)
        if row is None:
            continue
        if e.kind == PROVIDER_OPENED:
            row.update(
                state="open",
                failures=int(e.detail.get("failures") or 0),
                open_until=e.detail.get("open_until"),
                last_error=e.detail.get("last_error"),
            )
        elif e.kind == PROVIDER_HALF_OPEN:
            row["state"] = "half_open"
        else:
            row.update(state="closed", failures=0, open_until=None)
    for row in out.values():
        until = row["open_until"]
        if row["state"] == "open" and until and now >= datetime.fromisoformat(until):
            row["state"] = "half_open"
    return out


def snapshot(store: Store, cfg: ConfigLike, now: datetime) -> dict[str, Any]:
    override = store.read_mode(now)
    state = store.read_breaker()
    day = budget_day(now, cfg.tz)
    budget = store.ledger.snapshot(day, cfg.budget.daily_limit_usd)
    diverting = breaker.is_diverting(override, state, now)
    beat = store.read_heartbeat()
    blockers = diversion_blockers(cfg, _daemon_providers(store, beat, now))
    if budget.is_exhausted:
        blockers.append(f"today's budget of ${cfg.budget.daily_limit_usd} is exhausted")

    if override.mode is Mode.ON:
        reason = f"pressed by {override.who or '?'} via {override.source or '?'}"
    elif override.mode is Mode.OFF:
        reason = f"held off by {override.who or '?'} via {override.source or '?'}"
    else:
        reason = state.reason
    if override.mode is not Mode.AUTO and override.reason:
        reason += f": {override.reason}"

    sample = store.last_queue_sample()
    return {
        "schema": SCHEMA_VERSION,
        "now": iso(now),
        "mode": override.mode.value,
        "breaker": state.phase.value,
        "diverting": diverting,
        "reason": reason,
        "since": iso(override.since if override.mode is not Mode.AUTO else state.since),
        "breaker_since": iso(state.since),
        "override_until": iso(override.until),
        "override": {
            "mode": override.mode.value,
            "since": iso(override.since),
            "until": iso(override.until),
            "who": override.who,
            "source": override.source,
            "reason": override.reason,
        },
        "budget_day": day.isoformat(),
        "timezone": cfg.timezone,
        "spend_today_usd": money(budget.settled_usd),
        "reserved_usd": money(budget.reserved_usd),
        "daily_limit_usd": money(budget.limit_usd),
        "remaining_usd": money(budget.remaining_usd),
        "budget_exhausted": budget.is_exhausted,
        "diverted_today": store.ledger.diverted_count(day),
        "cloud_model": cfg.models.anthropic_model,
        "diversion_blocked_by": blockers,
        "providers": provider_states(store, cfg, beat, now),
        "upstreams": upstream_states(store, cfg, beat, now),
        "queue": None
        if sample is None
        else {
            "at": iso(sample.at),
            "age_seconds": round((now - sample.at).total_seconds(), 3),
            "model": sample.model,
            "queue_depth": sample.queue_depth,
            "in_flight": sample.in_flight,
            "wait_seconds": sample.wait_s,
        },
        "daemon": None
        if beat is None or beat.heartbeat_at is None
        else {
            "pid": beat.pid,
            "version": beat.version,
            "listen": beat.listen,
            "started_at": iso(beat.started_at),
            "heartbeat_age_seconds": round((now - beat.heartbeat_at).total_seconds(), 3),
        },
        "instances": instances_json(store, now),
        "capacity": capacity_json(store, now),
    }


def capacity_json(store: Store, now: datetime) -> dict[str, Any] | None:
    """The capacity advice the daemon last computed (it replays the request log every
    ``capacity.refresh_seconds``; this only reads the result), with when; None: none yet."""
    found = store.capacity_advice()
    if found is None:
        return None
    at, advice = found
    return {**advice, "computed_at": iso(at), "age_seconds": round((now - at).total_seconds(), 3)}


def instances_json(store: Store, now: datetime) -> list[dict[str, Any]]:
    """Every daemon sharing this database (a fleet; one with SQLite): each with its own
    breaker and queue, and ``stale`` when its heartbeat is older than 3 intervals."""
    return [
        {
            "id": i.id,
            "host": i.host,
            "listen": i.listen,
            "pid": i.pid,
            "version": i.version,
            "breaker": i.breaker,
            "diverting": i.is_diverting,
            "queue_depth": i.queue_depth,
            "heartbeat_age_s": round((now - i.heartbeat_at).total_seconds(), 3),
            "stale": is_stale(i.heartbeat_at, i.heartbeat_interval_s, now),
        }
        for i in store.instances()
    ]


def check_exit_code(snap: dict[str, Any]) -> int:
    """``brb status --check``: 0 nothing diverted, 3 diverting, 4 budget
    exhausted (4 wins: nothing can be diverted)."""
    if snap["budget_exhausted"]:
        return EXIT_BUDGET_EXHAUSTED
    if snap["diverting"]:
        return EXIT_DIVERTING
    return EXIT_OK


def _daemon_providers(store: Store, beat: Heartbeat | None, now: datetime) -> list[str] | None:
    """The providers the live daemon built at start; None when no daemon is alive."""
    if beat is None or beat.heartbeat_at is None:
        return None
    if (now - beat.heartbeat_at).total_seconds() > DAEMON_ALIVE_S:
        return None
    starts = store.events(kinds=["daemon_start"], limit=1, newest_first=True)
    if not starts or "providers" not in starts[0].detail:
        return None
    return [str(p) for p in starts[0].detail["providers"]]
