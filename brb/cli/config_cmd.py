"""``brb config check``: validate a config and print what is in force.

Prints the effective config (every default filled in) with secrets shown
only as set/not set, the price in force for each configured cloud model, the
routing rules in the order they are tried, and the warnings. Exit 0 when it
loads (warnings included), 2 when it doesn't.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from brb.cli.context import JsonOpt

app = typer.Typer(help="Check the configuration.", no_args_is_help=True)


def _secrets(cfg: Any) -> dict[str, str]:
    from brb.adapters.notifiers import pagerduty, slack, statuspage, webhook
    from brb.config import mask, provider_key, read_secret

    # The same lookups the daemon makes: the env var, then the systemd credential.
    n = cfg.notifications
    keys = {
        f"providers.{p.name} ({' / '.join(p.key_env_names)} / credential {p.credential})": mask(
            provider_key(p)
        )
        for p in cfg.provider_chain()
    }
    return {
        **keys,
        f"notifications.slack_webhook_url_env ({n.slack_webhook_url_env})": mask(
            read_secret([n.slack_webhook_url_env], slack.CREDENTIAL)
        ),
        f"notifications.pagerduty_routing_key_env ({n.pagerduty_routing_key_env})": mask(
            read_secret([n.pagerduty_routing_key_env], pagerduty.CREDENTIAL)
        ),
        f"notifications.webhook_url_env ({n.webhook_url_env})": mask(
            read_secret([n.webhook_url_env], webhook.CREDENTIAL)
        ),
        f"notifications.statuspage.api_key_env ({n.statuspage.api_key_env})": mask(
            read_secret([n.statuspage.api_key_env], statuspage.CREDENTIAL)
        ),
        f"admin.token_env ({cfg.admin.token_env})": mask(read_secret([cfg.admin.token_env])),
    }


def _prices(cfg: Any) -> dict[str, Any]:
    from brb.core.pricing import PRICES_AS_OF

    out: dict[str, Any] = {}
    for model in cfg.cloud_models():
        p = cfg.price_for(model)
        if p is None:
            out[model] = None
            continue
        out[model] = {
            "source": p.source if p.source == "config" else f"table of {PRICES_AS_OF}",
            "input_per_mtok": float(p.base.input_per_mtok),
            "output_per_mtok": float(p.base.output_per_mtok),
            "cache_write_per_mtok": float(p.base.cache_write_per_mtok),
            "cache_read_per_mtok": float(p.base.cache_read_per_mtok),
        }
        if p.long_prompt is not None:
            out[model]["over_prompt_tokens"] = p.long_prompt_threshold_tokens
            out[model]["long_prompt_input_per_mtok"] = float(p.long_prompt.input_per_mtok)
            out[model]["long_prompt_output_per_mtok"] = float(p.long_prompt.output_per_mtok)
    return out


@app.command("check")
def check(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="Config file (default: $BRB_CONFIG, /etc/brb/brb.yaml, none = defaults)"
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Validate a config file and print the effective config, secrets masked."""
    import yaml

    from brb.config import load

    loaded = load(path)
    cfg = loaded.config
    effective = {"big_red_button": cfg.model_dump(mode="json")}
    prices = _prices(cfg)
    secrets = _secrets(cfg)
    report: dict[str, Any] = {
        "path": str(loaded.path) if loaded.path else None,
        "valid": True,
        "warnings": list(loaded.warnings),
        "prices": prices,
        "secrets": secrets,
        "rules": [rule.describe() for rule in cfg.rule_set().rules],
        "effective": effective,
    }
    if json_out:
        print(json.dumps(report, indent=2))
        return
    print(f"# config: {report['path'] or '(none: all defaults)'} — valid")
    print(yaml.safe_dump(effective, sort_keys=False).rstrip())
    print("\n# price in force per cloud model (USD per million tokens)")
    for model, p in prices.items():
        if p is None:
            print(f"  {model}: NO PRICE KNOWN — diversion to it is off")
        else:
            print(
                f"  {model}: input {p['input_per_mtok']:g}, output {p['output_per_mtok']:g}, "
                f"cache write {p['cache_write_per_mtok']:g}, cache read "
                f"{p['cache_read_per_mtok']:g} ({p['source']})"
            )
            if "over_prompt_tokens" in p:
                print(
                    f"    prompts over {p['over_prompt_tokens']} tokens: input "
                    f"{p['long_prompt_input_per_mtok']:g}, output "
                    f"{p['long_prompt_output_per_mtok']:g}"
                )
    print("\n# routing rules, in the order they are tried (the first match decides)")
    if not report["rules"]:
        print("  none: the breaker's policy decides alone")
    for number, line in enumerate(report["rules"], start=1):
        print(f"  {number}. {line}")
    print("\n# secrets (values never shown)")
    for name, state in secrets.items():
        print(f"  {name}: {state}")
    for w in loaded.warnings:
        print(f"\nWARNING: {w}")
