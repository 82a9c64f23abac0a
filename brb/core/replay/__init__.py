"""The replay: what the button would have done to a traffic trace, and at what cost.

Owns ``brb replay``'s pure side: reading a trace (:mod:`.trace`), the
discrete-event simulation through the daemon's own breaker, policy, queue,
pool placement and budget code (:mod:`.simulator`, :mod:`.local_server`,
:mod:`.pool_server`, :mod:`.budget_book`), the hindsight oracle (:mod:`.oracle`) and the figures
a run reports (:mod:`.summary`). Must not do I/O, log or read the clock.
"""

from brb.core.replay.oracle import OracleResult, oracle
from brb.core.replay.run import (
    EPOCH,
    Outcome,
    SimParams,
    SimResult,
    SimUpstream,
    TimelineEntry,
    UpstreamTally,
)
from brb.core.replay.simulator import simulate
from brb.core.replay.summary import percentile, summarize
from brb.core.replay.trace import TraceRecord, parse_trace

__all__ = [
    "EPOCH",
    "OracleResult",
    "Outcome",
    "SimParams",
    "SimResult",
    "SimUpstream",
    "TimelineEntry",
    "TraceRecord",
    "UpstreamTally",
    "oracle",
    "parse_trace",
    "percentile",
    "simulate",
    "summarize",
]
