"""The simulated local server: one model's parallel slots and FIFO queue.

Owns what the daemon's queue monitor would see for one model on the
simulated clock: which requests hold a slot and since when, who waits for a
first byte and since when, and the learned average service time. It hands
the monitor's facts to :class:`brb.core.queueing.QueueView`, the same view
the daemon builds, so predictions are computed by the one implementation.
Must not decide routing or touch money: the simulator does that.

Model: a request takes a slot the moment one is free (first byte = start of
service, no prompt-evaluation delay), holds it for its service time, and
waiters are served in arrival order, like Ollama's per-model semaphore.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from brb.core.queueing import QueueView, ewma


@dataclass(frozen=True, slots=True)
class Busy:
    """A request holding a slot."""

    index: int
    start_s: float
    end_s: float


class LocalModel:
    """One local model's slots and queue; times are simulated seconds."""

    __slots__ = ("busy", "ewma_s", "slots", "waiting")

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.busy: list[Busy] = []
        self.waiting: deque[tuple[float, int]] = deque()  # (arrival_s, trace index)
        self.ewma_s: float | None = None

    @property
    def is_idle(self) -> bool:
        return not self.busy and not self.waiting

    def view(self, t: float) -> QueueView:
        """What the daemon's queue monitor would see at ``t``."""
        oldest = t - self.waiting[0][0] if self.waiting else 0.0
        return QueueView(
            slots=self.slots,
            in_service_elapsed_s=tuple(t - b.start_s for b in self.busy),
            waiting=len(self.waiting),
            oldest_wait_s=oldest,
            service_ewma_s=self.ewma_s,
        )

    def enqueue(self, t: float, index: int) -> None:
        self.waiting.append((t, index))

    def can_start(self) -> bool:
        return bool(self.waiting) and len(self.busy) < self.slots

    def start_next(self, t: float, service_s: float) -> tuple[int, float]:
        """Give the head of the queue a slot at ``t``; returns (index, arrival_s)."""
        arrival_s, index = self.waiting.popleft()
        self.busy.append(Busy(index, t, t + service_s))
        return index, arrival_s

    def finish(self, index: int, t: float) -> None:
        """The request ``index`` completes at ``t``: free its slot and learn
        its service time, as the monitor learns from each completion."""
        for i, b in enumerate(self.busy):
            if b.index == index:
                del self.busy[i]
                self.ewma_s = ewma(self.ewma_s, t - b.start_s)
                return
        raise KeyError(index)
