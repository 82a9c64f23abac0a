"""``brb doctor``'s checks of the provider chain: each entry's key, its base URL, and a live call.

Owns, for every ``providers.<name>`` entry in chain order: ``<name> key`` (set,
from which env var or credential; never printed), ``<name> reachable`` (an
HTTP answer of any status from ``base_url``: DNS, TLS and the network path
work; a warning if not, as the chain falls through) and, with ``--live``,
``<name> live``: for Anthropic a ``messages.count_tokens`` call (free), for
an OpenAI-compatible API a chat completion capped at one token. The
provider SDKs are imported only for ``--live``; the rest is standard library.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from brb.cli.doctor_check import Check

if TYPE_CHECKING:
    from brb.config import BrbConfig, ProviderSpec

REACHABLE_TIMEOUT_S = 5.0
LIVE_TIMEOUT_S = 10.0


def check_providers(cfg: BrbConfig, *, live: bool) -> list[Check]:
    from brb.config import provider_key

    chain = cfg.provider_chain()
    if not chain:
        return [Check("providers", "fail", "none configured (providers: is empty): nothing can "
                      "be diverted")]  # fmt: skip
    checks: list[Check] = []
    for spec in chain:
        key = provider_key(spec)
        checks.append(check_key(spec, key))
        checks.append(check_reachable(spec))
        if not live:
            how = "count_tokens" if spec.kind == "anthropic" else "a 1-token completion"
            checks.append(
                Check(f"{spec.name} live", "skip", f"not called (pass --live to check with {how})")
            )
        elif key is None:
            checks.append(Check(f"{spec.name} live", "fail", "no key to check"))
        elif spec.kind == "anthropic":
            checks.append(check_live_anthropic(spec, key))
        else:
            checks.append(check_live_openai(spec, key))
    return checks


def _key_source(spec: ProviderSpec) -> str:
    for name in spec.key_env_names:
        if os.environ.get(name, "").strip():
            return f"${name}"
    return f"credential {spec.credential}"


def check_key(spec: ProviderSpec, key: str | None) -> Check:
    if key is None:
        names = " or ".join(f"${n}" for n in spec.key_env_names)
        return Check(
            f"{spec.name} key",
            "fail",
            f"not set: set {names} (or the systemd credential {spec.credential}); "
            f"without it {spec.name} is left out of the chain",
        )
    return Check(f"{spec.name} key", "ok", f"set (from {_key_source(spec)})")


def check_reachable(spec: ProviderSpec) -> Check:
    import urllib.error
    import urllib.request

    started = time.monotonic()
    try:
        with urllib.request.urlopen(spec.base_url, timeout=REACHABLE_TIMEOUT_S) as resp:  # noqa: S310
            status = resp.status
    except urllib.error.HTTPError as exc:  # any HTTP answer means the path works
        status = exc.code
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        # a warning, not a failure: the chain falls through to the next provider, and
        # to the local queue, when this one can't be reached
        return Check(f"{spec.name} reachable", "warn", f"can't reach {spec.base_url}: {reason}")
    elapsed = time.monotonic() - started
    return Check(
        f"{spec.name} reachable",
        "ok",
        f"{spec.base_url} answered HTTP {status} ({elapsed * 1000:.0f} ms)",
    )


def _said(spec: ProviderSpec, status: int, kind: str, request_id: str | None) -> str:
    return f"{spec.base_url} answered {status}{kind} (request-id {request_id})"


def _verdict(spec: ProviderSpec, status: int, said: str) -> Check:
    name = f"{spec.name} live"
    if status in (429, 529) or status >= 500:
        return Check(name, "warn", f"{said}: reachable but busy right now")
    hint = {
        401: "the key was rejected",
        403: "the key may not use this model",
        404: f"model {spec.model!r} is unknown to the provider",
    }.get(status, "")
    return Check(name, "fail", f"{said}{': ' + hint if hint else ''}")


def check_live_anthropic(spec: ProviderSpec, key: str) -> Check:
    """One ``count_tokens`` call: proves reachability, the key and the model id, for free."""
    import anthropic

    client = anthropic.Anthropic(
        api_key=key,
        base_url=spec.base_url,
        max_retries=0,
        timeout=min(LIVE_TIMEOUT_S, spec.timeout_s),
    )
    started = time.monotonic()
    try:
        counted = client.messages.count_tokens(
            model=spec.model, messages=[{"role": "user", "content": "brb doctor"}]
        )
    except anthropic.APIStatusError as exc:
        kind = ""
        if isinstance(exc.body, dict) and isinstance(exc.body.get("error"), dict):
            kind = f" {exc.body['error'].get('type', '')}"
        return _verdict(spec, exc.status_code, _said(spec, exc.status_code, kind, exc.request_id))
    except anthropic.APIConnectionError as exc:
        return Check(f"{spec.name} live", "fail", f"can't reach {spec.base_url}: {exc}")
    finally:
        client.close()
    elapsed = time.monotonic() - started
    return Check(
        f"{spec.name} live",
        "ok",
        f"{spec.base_url} accepted the key; {spec.model} counted "
        f"{counted.input_tokens} tokens ({elapsed * 1000:.0f} ms)",
    )


def check_live_openai(spec: ProviderSpec, key: str) -> Check:
    """One chat completion capped at one token: the key, the model id, the API shape."""
    import openai

    client = openai.OpenAI(
        api_key=key,
        base_url=spec.base_url,
        max_retries=0,
        timeout=min(LIVE_TIMEOUT_S, spec.timeout_s),
    )
    started = time.monotonic()
    try:
        done = client.chat.completions.create(
            model=spec.model,
            messages=[{"role": "user", "content": "Say OK."}],
            max_completion_tokens=1,
        )
    except openai.APIStatusError as exc:
        code = ""
        if isinstance(exc.body, dict):
            code = f" {exc.body.get('code') or exc.body.get('type') or ''}".rstrip()
        return _verdict(spec, exc.status_code, _said(spec, exc.status_code, code, exc.request_id))
    except openai.APIConnectionError as exc:
        return Check(f"{spec.name} live", "fail", f"can't reach {spec.base_url}: {exc}")
    finally:
        client.close()
    elapsed = time.monotonic() - started
    used = done.usage.total_tokens if done.usage is not None else "?"
    return Check(
        f"{spec.name} live",
        "ok",
        f"{spec.base_url} accepted the key; {spec.model} answered a 1-token call "
        f"({used} tokens, {elapsed * 1000:.0f} ms)",
    )
