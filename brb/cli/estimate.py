"""``brb estimate [FILE|-]``: what diverting one request body would cost now, and where it goes.

Owns the command line: reading the body (a file or stdin), the route state
from the store (the mode, the breaker, the last queue sample) and the
model's recent reply lengths (the request log of the last 7 days), the
``--live`` exact count through the provider's ``count_tokens`` (the SDK is
imported only then), and printing. The figures are
:func:`brb.estimation.estimate_body`'s. Exit 0 with an estimate; 2 when the
body can't be read (the reason on stderr).
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from brb.cli.context import ConfigOpt, DbOpt, JsonOpt, load_config
from brb.errors import BadRequest, BrbError, UsageError

# A queue sample older than this says nothing about the queue now.
FRESH_SAMPLE_S = 30.0
# The request log's replies of the last this many days teach the expected reply length.
REPLY_HISTORY_DAYS = 7

if TYPE_CHECKING:
    from brb.config import BrbConfig
    from brb.core.estimate import Estimate
    from brb.core.service_model import ReplyLengths
    from brb.router import RouteState


def register(app: typer.Typer) -> None:
    @app.command()
    def estimate(
        body_file: Annotated[
            str,
            typer.Argument(
                metavar="[FILE|-]", help="A request body (JSON); '-' or nothing reads stdin"
            ),
        ] = "-",
        endpoint: Annotated[
            str | None,
            typer.Option(
                "--endpoint",
                help="/api/chat, /api/generate, /v1/chat/completions or /v1/messages "
                "(when the body's shape doesn't say)",
                show_default=False,
            ),
        ] = None,
        session: Annotated[
            str, typer.Option("--session", help="The session id the request would carry")
        ] = "",
        live: Annotated[
            bool,
            typer.Option(
                "--live", help="Exact prompt tokens from the provider's count_tokens (free)"
            ),
        ] = False,
        json_out: JsonOpt = False,
        config: ConfigOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Estimate what diverting a request body would cost, per provider, and its route now."""
        from brb.estimation import estimate_body, read_body

        cfg = load_config(config, quiet=json_out)
        endpoint, body = read_body(_read_text(body_file), endpoint)
        state, replies = _from_store(cfg, db, str(body["model"]))
        exact = _count_live(cfg, endpoint, body) if live else None
        try:
            result = estimate_body(
                cfg,
                endpoint,
                body,
                state=state,
                sessions=[session] if session else [],
                replies=replies,
                exact_prompt_tokens=exact,
            )
        except BadRequest as exc:
            raise UsageError(f"can't read the body as {endpoint}: {exc}") from None
        if json_out:
            print(json.dumps(result.to_json(), indent=2))
        else:
            _print(result, endpoint, has_chain=bool(cfg.provider_chain()))


def _read_text(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"can't read {name}: {exc}") from None


def _from_store(
    cfg: BrbConfig, db: Path | None, model: str
) -> tuple[RouteState, ReplyLengths | None]:
    """The mode, breaker and queue as the store has them (the daemon writes them), and
    the recent reply lengths of ``model`` from the request log (None: no data)."""
    from brb.adapters.store import open_store
    from brb.cli.context import now
    from brb.config import provider_key
    from brb.core.service_model import ReplyLengths
    from brb.router import RouteState

    has_provider = any(provider_key(spec) for spec in cfg.provider_chain())
    # as the cloud leg routes: priced when a provider of the chain has a price for its model
    priced = any(cfg.price_for(s.cloud_model_for(model)) for s in cfg.provider_chain())
    at = now()
    try:
        with open_store(db, cfg, create=False) as store:
            override = store.read_mode(at)
            state = store.read_breaker()
            sample = store.last_queue_sample()
            log = store.request_log(since=at - timedelta(days=REPLY_HISTORY_DAYS))
    except BrbError:  # no database yet: nothing pressed, the breaker in standby
        return RouteState(has_provider=has_provider, is_model_priced=priced), None
    replies = ReplyLengths()
    for row in log:
        if row["model"] == model and row["output_tokens"] is not None and row["status"] == 200:
            replies.add(int(row["output_tokens"]))
    if sample is not None and (at - sample.at).total_seconds() > FRESH_SAMPLE_S:
        sample = None  # the daemon isn't sampling: the queue is unknown, taken as empty
    route_state = RouteState(
        mode=override.mode,
        phase=state.phase,
        predicted_wait_s=sample.wait_s if sample is not None else 0.0,
        queue_depth=sample.queue_depth if sample is not None else 0,
        would_queue=sample is not None and sample.queue_depth > 0,
        has_provider=has_provider,
        is_model_priced=priced,
    )
    return route_state, replies if len(replies) else None


def _count_live(cfg: BrbConfig, endpoint: str, body: dict[str, Any]) -> int:
    """The prompt's exact tokens from the first Anthropic provider's count_tokens."""
    import asyncio

    from brb.adapters.anthropic_provider import AnthropicProvider
    from brb.config import provider_key
    from brb.core.capabilities import capabilities_for
    from brb.core.reservation import plan_diversion

    spec = cfg.anthropic_provider()
    key = provider_key(spec) if spec is not None else None
    if spec is None or key is None:
        raise UsageError("--live needs an Anthropic provider with a key (see brb config check)")
    model = spec.cloud_model_for(str(body.get("model", "")))
    price = cfg.price_for(model)
    if price is None:
        raise UsageError(f"--live: no price known for {model}")
    try:
        plan = plan_diversion(
            endpoint,
            body,
            cloud_model=model,
            price=price,
            caps=capabilities_for(model),
            default_max_tokens=cfg.models.max_tokens,
            max_input_tokens=cfg.models.max_input_tokens,
        )
    except BadRequest as exc:
        raise UsageError(f"--live: the body can't be sent to {model}: {exc}") from None
    countable = ("model", "messages", "system", "tools", "tool_choice", "thinking")
    params = {k: v for k, v in plan.params.items() if k in countable}

    async def count() -> int:
        provider = AnthropicProvider(api_key=key, base_url=spec.base_url, timeout_s=spec.timeout_s)
        try:
            return await provider.count_tokens(params)
        finally:
            await provider.close()

    return asyncio.run(count())


def _print(result: Estimate, endpoint: str, *, has_chain: bool) -> None:
    how = "counted by the provider" if result.is_prompt_exact else "estimated"
    print(f"{endpoint}: {result.prompt_tokens} prompt tokens ({how}), ", end="")
    print(f"{result.expected_output_tokens} output tokens expected")
    if not has_chain:
        print("no providers configured: nothing can be diverted (see brb config check)")
    for p in result.providers:
        if p.expected_usd is None or p.worst_case_usd is None:
            print(f"  {p.name} ({p.model}): can't divert there: {p.note}")
        else:
            print(
                f"  {p.name} ({p.model}): about ${p.expected_usd:.4f}, "
                f"at most ${p.worst_case_usd:.4f} (what would be reserved)"
            )
    if result.route is not None:
        where = "diverted" if result.route.divert else "kept local"
        print(f"now: {where} ({result.route.reason})")
