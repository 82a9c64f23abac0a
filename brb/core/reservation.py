"""What a diversion of one body to one cloud model would send, and the worst case it reserves.

Owns the step between "divert this body" and the money: the body converted
to Anthropic Messages params (``/v1/messages`` bodies through the allow-list
and bound of :mod:`brb.core.convert.passthrough`), a true upper bound on its
input tokens, the ``max_tokens`` the cloud may produce, and the worst-case
cost the budget reserves before the first byte leaves. The daemon's cloud
leg and ``brb estimate`` both call :func:`plan_diversion`, so the worst case
an estimate shows is exactly what the daemon would reserve for the same
body. Must not do I/O or reserve anything itself. Raises ConversionError
when the body can't go to the cloud (it stays local; UnboundedCost when no
honest bound exists), BadRequest when a ``/v1/messages`` body has a field
the Messages API doesn't.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from brb.core import pricing
from brb.core.capabilities import ModelCapabilities
from brb.core.conversation import ANTHROPIC_MESSAGES
from brb.core.convert import CloudRequest, Endpoint, to_cloud
from brb.core.convert.passthrough import passthrough_request


@dataclass(frozen=True, slots=True)
class DiversionPlan:
    """One body, ready for one cloud model, and what it may cost at most."""

    cloud_model: str
    price: pricing.ModelPrice
    params: dict[str, Any]  # Anthropic Messages params, never a "stream" key
    is_stream: bool
    req: CloudRequest | None  # None for a /v1/messages passthrough
    input_tokens_bound: int
    max_tokens: int
    worst_usd: Decimal


def plan_diversion(
    endpoint: str,
    body: object,
    *,
    cloud_model: str,
    price: pricing.ModelPrice,
    caps: ModelCapabilities,
    default_max_tokens: int,
    max_input_tokens: int | None,
) -> DiversionPlan:
    """Convert ``body`` (sent to ``endpoint``) for ``cloud_model`` and bound its cost."""
    req: CloudRequest | None
    has_1h_cache_writes = False
    if endpoint == ANTHROPIC_MESSAGES:
        passed = passthrough_request(body, cloud_model=cloud_model, caps=caps)
        params = passed.params
        is_stream = passed.is_stream
        max_tokens = passed.max_tokens
        req = None
        bound = passed.input_tokens_upper_bound
        has_1h_cache_writes = passed.has_1h_cache_writes
    else:
        req = to_cloud(
            Endpoint(endpoint),
            body,
            cloud_model=cloud_model,
            default_max_tokens=default_max_tokens,
            max_input_tokens=max_input_tokens,
            caps=caps,
        )
        params = req.params
        is_stream = req.is_stream
        max_tokens = int(params["max_tokens"])
        bound = req.input_tokens_upper_bound
    worst = pricing.worst_case_usd(
        price, input_tokens=bound, max_tokens=max_tokens, has_1h_cache_writes=has_1h_cache_writes
    )
    return DiversionPlan(cloud_model, price, params, is_stream, req, bound, max_tokens, worst)
