"""How long one request will hold a local slot, learned from Ollama's own figures.

Owns the per-request service model of one (upstream, model): the prefill rate
(seconds per prompt token), the decode rate (seconds per output token), the
load time, and the distribution of reply lengths kept as a bounded sketch of
the most recent replies (not only their mean: reply lengths are heavy-tailed).
From these it predicts a request's service time from its prompt size and its
output cap (``num_predict`` / ``max_tokens``), and the remaining time of a
request already in service from what brb has seen of it (seconds elapsed,
tokens streamed so far). Must not do I/O, read a clock or know HTTP: the
daemon (live) and the replay (simulated) pass the figures and times in.

Learning: Ollama's final object reports ``prompt_eval_count``,
``prompt_eval_duration``, ``eval_count``, ``eval_duration`` and
``load_duration``. Each rate is a ratio of exponentially weighted sums
(seconds over tokens), so a 3-token reply's fixed overhead does not swing it.
When only a measured total and the token counts are known (a trace, the
request log, an OpenAI-shaped answer), it is split in the proportions the
current rates predict (the prior's, at first), both rates learning from it.

Remaining time is conditioned on what is seen: a request that has produced
``k`` tokens has a reply longer than ``k``, so its remaining length is drawn
from the replies longer than ``k`` (for a heavy tail it *grows* with ``k``);
a non-streamed request ``t`` seconds in has produced about
``(t - load - prefill) / decode`` tokens. Beyond the longest reply in the
sketch, the remaining length is extrapolated as half of what was produced
(a Pareto tail with index 3), never past the cap.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import deque
from dataclasses import dataclass, field

from brb.core.value_type import value_type

# Beyond the sketch's longest reply: remaining tokens = this share of those produced.
TAIL_RESIDUAL_SHARE = 0.5
SKETCH_SIZE = 512
SERVICE_CACHE_SIZE = 1024  # estimates kept per model between two learns (one per shape)

Residual = tuple[float, float, float, float]  # tokens: mean, median, p90, floor


@value_type
class ServiceFigures:
    """What Ollama's final object (or a trace line) says about one served request."""

    prompt_tokens: int | None = None
    output_tokens: int | None = None
    prompt_eval_s: float | None = None
    eval_s: float | None = None
    load_s: float | None = None
    measured_s: float | None = None  # the whole service, when durations are missing
    queued_s: float | None = None  # waited inside the upstream (total - load - prefill - eval)

    @property
    def service_s(self) -> float | None:
        """Load + prefill + decode, when Ollama reported them; else the measured total."""
        parts = [p for p in (self.load_s, self.prompt_eval_s, self.eval_s) if p is not None]
        return sum(parts) if parts else self.measured_s


@value_type
class RequestShape:
    """What brb knows of a request before Ollama serves it."""

    prompt_tokens: int = 0  # estimated from the body
    max_output_tokens: int | None = None  # num_predict / max_tokens, when the client set one


@value_type
class Progress:
    """What brb has seen of a request in service."""

    elapsed_s: float  # since it was sent (it holds a slot)
    output_tokens: int | None = None  # streamed so far; None when not streamed


@value_type
class Estimate:
    """A service (or remaining) time, seconds: its mean, median and p90, and its
    floor (the shortest reply seen: nothing seen makes it shorter)."""

    mean_s: float
    median_s: float
    p90_s: float
    floor_s: float = 0.0

    def at(self, quantile: float | None) -> float:
        """The mean for None, else the nearest of the points kept (0, 0.5, 0.9)."""
        if quantile is None:
            return self.mean_s
        if quantile < 0.25:
            return self.floor_s
        return self.median_s if quantile < 0.7 else self.p90_s


@dataclass(frozen=True, slots=True)
class Prior:
    """What to assume before the first reply is seen (a cold start)."""

    prefill_s_per_token: float = 1 / 1000
    decode_s_per_token: float = 1 / 30
    load_s: float = 0.0
    reply_tokens: int = 200


class ReplyLengths:
    """The most recent ``size`` reply lengths, also kept sorted (bounded memory: an
    insert and an eviction per reply, each a bisect and a move in C, instead of a
    sort per question), and their total (a question from the start of a reply, as
    the cost estimate asks on every priced request, sums nothing)."""

    __slots__ = ("_recent", "_size", "_sorted", "_total")

    def __init__(self, size: int = SKETCH_SIZE) -> None:
        self._recent: deque[int] = deque()
        self._size = size
        self._sorted: list[int] = []
        self._total = 0  # sum(self._sorted), exact (ints)

    def __len__(self) -> int:
        return len(self._recent)

    def add(self, tokens: int) -> None:
        """One more reply (the oldest is forgotten once ``size`` are kept). Runs for
        every local answer: plain comparisons, not max(); a reply as long as the one
        it evicts leaves the sorted lengths as they were."""
        if tokens < 0:
            tokens = 0
        recent = self._recent
        recent.append(tokens)
        if len(recent) > self._size:
            evicted = recent.popleft()
            if evicted == tokens:
                return
            del self._sorted[bisect_left(self._sorted, evicted)]
            self._total -= evicted
        insort(self._sorted, tokens)
        self._total += tokens

    def _sum(self, lo: int, hi: int) -> int:
        """``sum(self._sorted[lo:hi])``; the kept total when that is every length
        but zeros (the lengths are sorted and never negative)."""
        xs = self._sorted
        if hi == len(xs) and (lo == 0 or xs[lo - 1] == 0):
            return self._total
        return sum(xs[lo:hi])

    def residual(self, produced: float, cap: int | None) -> Residual:
        """Remaining tokens of a reply known to be longer than ``produced``:
        (mean, median, p90, floor), each capped at ``cap - produced``."""
        room = math.inf if cap is None else max(0.0, cap - produced)
        if room == 0.0:
            return 0.0, 0.0, 0.0, 0.0
        xs = self._sorted
        lo = bisect_right(xs, produced)
        n = len(xs) - lo
        if n == 0:  # past everything seen: a heavy tail's residual grows with age
            guess = min(room, max(1.0, TAIL_RESIDUAL_SHARE * produced))
            return guess, guess, min(room, 2 * guess), min(room, 1.0)
        # sum of min(x, produced + room) - produced over x in xs[lo:]
        limit = produced + room
        if math.isfinite(limit):
            hi = bisect_right(xs, limit, lo)
            total = self._sum(lo, hi) + (len(xs) - hi) * limit - n * produced
        else:
            total = self._sum(lo, len(xs)) - n * produced
        median = min(room, xs[lo + (n - 1) // 2] - produced)
        p90 = min(room, xs[lo + min(n - 1, math.ceil(0.9 * n) - 1)] - produced)
        return total / n, median, p90, min(room, xs[lo] - produced)


@dataclass(slots=True)
class _Ratio:
    """An exponentially weighted ratio of seconds to tokens."""

    seconds: float = 0.0
    tokens: float = 0.0

    def add(self, seconds: float, tokens: int, alpha: float) -> None:
        if self.tokens <= 0:
            self.seconds, self.tokens = seconds, float(tokens)
            return
        self.seconds += alpha * (seconds - self.seconds)
        self.tokens += alpha * (tokens - self.tokens)

    def rate(self, default: float) -> float:
        return self.seconds / self.tokens if self.tokens > 0 else default


@dataclass(slots=True)
class ModelRates:
    """The learned service model of one model on one upstream."""

    prior: Prior = field(default_factory=Prior)
    alpha: float = 0.1
    replies: ReplyLengths = field(default_factory=ReplyLengths)
    _prefill: _Ratio = field(default_factory=_Ratio)
    _decode: _Ratio = field(default_factory=_Ratio)
    load_s: float | None = None
    hidden_wait_s: float = 0.0  # what a request sent to a "free" slot waits inside the upstream
    learned: int = 0
    # service() per shape until the next learn(): the room's plan asks it for every
    # waiter at every review, and the answer only changes when the rates do
    _service: dict[RequestShape, Estimate] = field(default_factory=dict, repr=False, compare=False)

    @property
    def prefill_s_per_token(self) -> float:
        return self._prefill.rate(self.prior.prefill_s_per_token)

    @property
    def decode_s_per_token(self) -> float:
        return self._decode.rate(self.prior.decode_s_per_token)

    @property
    def expected_load_s(self) -> float:
        return self.prior.load_s if self.load_s is None else self.load_s

    def learn(self, f: ServiceFigures) -> None:
        """Learn from one served request (what its final object or log line says)."""
        if self._service:
            self._service.clear()
        alpha, prompt_eval_s, eval_s = self.alpha, f.prompt_eval_s, f.eval_s
        if prompt_eval_s is not None and f.prompt_tokens:
            self._prefill.add(prompt_eval_s, f.prompt_tokens, alpha)
        if f.load_s is not None:
            last = f.load_s if self.load_s is None else self.load_s
            self.load_s = last + alpha * (f.load_s - last)
        output_tokens = f.output_tokens
        if output_tokens is not None:
            self.replies.add(output_tokens)
            if eval_s is not None and output_tokens:
                self._decode.add(eval_s, output_tokens, alpha)
        queued_s = f.queued_s
        if queued_s is not None:  # other clients share the upstream: slots are not all ours
            self.hidden_wait_s += 0.2 * ((queued_s if queued_s > 0.0 else 0.0) - self.hidden_wait_s)
        if eval_s is None and prompt_eval_s is None and f.measured_s is not None:
            self._learn_total(f.prompt_tokens or 0, output_tokens or 0, f.measured_s)
        self.learned += 1

    def _learn_total(self, prompt_tokens: int, output_tokens: int, measured_s: float) -> None:
        """Only the total is known: split it in the proportions the current rates
        predict, so the same request would now be predicted at what it took."""
        prefill_s = prompt_tokens * self.prefill_s_per_token
        decode_s = output_tokens * self.decode_s_per_token
        work_s = measured_s - self.expected_load_s
        if work_s <= 0 or prefill_s + decode_s <= 0:
            return
        scale = work_s / (prefill_s + decode_s)
        if prompt_tokens:
            self._prefill.add(prefill_s * scale, prompt_tokens, self.alpha)
        if output_tokens:
            self._decode.add(decode_s * scale, output_tokens, self.alpha)

    def _tokens(self, produced: float, cap: int | None) -> Residual:
        if len(self.replies) == 0:  # cold start: the prior's typical reply
            room = math.inf if cap is None else max(0.0, cap - produced)
            typical = self.prior.reply_tokens - produced
            left = min(room, max(typical, TAIL_RESIDUAL_SHARE * produced, 1.0))
            return left, left, left, min(room, 1.0)
        return self.replies.residual(produced, cap)

    def _start_s(self, shape: RequestShape) -> float:
        return self.expected_load_s + shape.prompt_tokens * self.prefill_s_per_token

    def service(self, shape: RequestShape) -> Estimate:
        """The whole service time of a request not started yet."""
        known = self._service.get(shape)
        if known is None:
            known = self._estimate(self._start_s(shape), self._tokens(0.0, shape.max_output_tokens))
            if len(self._service) >= SERVICE_CACHE_SIZE:  # shapes are many: start again
                self._service.clear()
            self._service[shape] = known
        return known

    def remaining(self, shape: RequestShape, progress: Progress) -> Estimate:
        """What is left of a request in service, given what brb has seen of it."""
        before_first = self._start_s(shape)
        decode = self.decode_s_per_token
        if progress.output_tokens:  # streaming: the prompt is done, k tokens out
            produced = float(progress.output_tokens)
            return self._estimate(0.0, self._tokens(produced, shape.max_output_tokens))
        if progress.elapsed_s < before_first:
            head = before_first - progress.elapsed_s
            return self._estimate(head, self._tokens(0.0, shape.max_output_tokens))
        produced = (progress.elapsed_s - before_first) / decode if decode > 0 else 0.0
        return self._estimate(0.0, self._tokens(produced, shape.max_output_tokens))

    def _estimate(self, fixed_s: float, tokens: Residual) -> Estimate:
        d = self.decode_s_per_token
        mean, median, p90, floor = tokens
        return Estimate(
            fixed_s + mean * d, fixed_s + median * d, fixed_s + p90 * d, fixed_s + floor * d
        )


class ServiceModel:
    """The service models of one upstream, one :class:`ModelRates` per model."""

    __slots__ = ("_models", "prior")

    def __init__(self, prior: Prior | None = None) -> None:
        self.prior = prior or Prior()
        self._models: dict[str, ModelRates] = {}

    def rates(self, model: str) -> ModelRates:
        r = self._models.get(model)
        if r is None:
            r = self._models[model] = ModelRates(prior=self.prior)
        return r

    def peek(self, model: str) -> ModelRates:
        """The model's rates, or the prior's for one not learned (not kept)."""
        r = self._models.get(model)
        return r if r is not None else ModelRates(prior=self.prior)

    def known(self, model: str) -> ModelRates | None:
        """The model's rates if any were made (none is made here)."""
        return self._models.get(model)

    def forget(self, model: str) -> None:
        """Drop what was learned of ``model`` (the daemon bounds the models it keeps)."""
        self._models.pop(model, None)

    def learn(self, model: str, figures: ServiceFigures) -> None:
        self.rates(model).learn(figures)

    def models(self) -> dict[str, ModelRates]:
        return dict(self._models)
