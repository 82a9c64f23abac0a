"""The replay as a picture: queue, mode, diversions and spend over time, on one page.

Owns drawing one or more :class:`~brb.core.replay.SimResult` runs to a PNG
with matplotlib, the optional ``brb[plot]`` extra, imported only when a plot
is asked for (a clear :class:`~brb.errors.UsageError` when it is missing).
Must not simulate or compute figures: it draws what the run recorded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from brb.core.replay import SimResult
from brb.errors import UsageError

_NICE_BINS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise UsageError(
            "--plot needs matplotlib: install the extra with  pip install 'brb[plot]'"
        ) from None
    matplotlib.use("Agg")  # files only: never open a window or need a display
    import matplotlib.pyplot as plt

    return plt


def _time_unit(span_s: float) -> tuple[float, str]:
    if span_s > 3 * 3600:
        return 3600.0, "hours"
    if span_s > 180:
        return 60.0, "minutes"
    return 1.0, "seconds"


def _bin_s(span_s: float) -> int:
    """A round bin width giving about 150 bins over the run."""
    target = span_s / 150
    return next((b for b in _NICE_BINS_S if b >= target), _NICE_BINS_S[-1])


def _rate_per_min(times: Sequence[float], bin_s: int, n_bins: int) -> list[float]:
    counts = [0] * n_bins
    for t in times:
        counts[min(n_bins - 1, int(t // bin_s))] += 1
    return [c * 60 / bin_s for c in counts]


def plot_runs(runs: Sequence[tuple[str, SimResult]], path: Path, *, title: str) -> None:
    """Draw ``runs`` (label, result) to ``path`` as a PNG."""
    plt = _matplotlib()
    span_s = max(max(r.end_s, 1.0) for _, r in runs)
    unit, unit_name = _time_unit(span_s)
    bin_s = _bin_s(span_s)
    n_bins = max(1, math.ceil(span_s / bin_s))
    edges = [i * bin_s / unit for i in range(n_bins + 1)]
    single = len(runs) == 1

    fig, axes = plt.subplots(
        4, 1, figsize=(11, 9.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.2, 2.2, 2.2]}
    )
    ax_q, ax_mode, ax_rate, ax_spend = axes
    colors = plt.get_cmap("tab10").colors

    for k, (label, r) in enumerate(runs):
        color = colors[k % len(colors)]
        end = r.end_s / unit
        xs = [t / unit for t, _ in r.depth_series] + [end]
        ys = [d for _, d in r.depth_series] + [r.depth_series[-1][1]]
        ax_q.step(xs, ys, where="post", color=color, lw=1.2, label=label)

        xs = [t / unit for t, _ in r.phase_series] + [end]
        on = [int(d) for _, d in r.phase_series] + [int(r.phase_series[-1][1])]
        if single:
            ax_mode.fill_between(xs, on, step="post", color="tab:red", alpha=0.6, lw=0)
        else:
            ax_mode.step(xs, [k + 0.8 * v for v in on], where="post", color=color, lw=1.5)

        diverted = [o.arrival_s for o in r.outcomes if o.backend == "cloud"]
        rate = _rate_per_min(diverted, bin_s, n_bins)
        ax_rate.stairs(rate, edges, color=color, lw=1.2, label="diverted" if single else label)

        xs = [t / unit for t, _ in r.spend_series] + [end]
        spend = [float(c) for _, c in r.spend_series] + [float(r.spend_series[-1][1])]
        ax_spend.step(
            xs, spend, where="post", color=color, lw=1.5, label="spent" if single else label
        )

    first = runs[0][1]
    if single:
        arrivals = _rate_per_min([o.arrival_s for o in first.outcomes], bin_s, n_bins)
        ax_rate.stairs(arrivals, edges, color="0.6", lw=1, label="arrivals")
        ax_rate.legend(loc="upper right", fontsize=8)
        ax_mode.set_yticks([0, 1], ["standby", "diverting"])
        ax_mode.set_ylim(-0.1, 1.1)
        limit = float(first.params.daily_limit_usd)
        if limit <= 2 * max(float(first.cost_usd), 0.01):
            ax_spend.axhline(limit, color="tab:red", ls="--", lw=1, label="daily limit")
            ax_spend.legend(loc="upper left", fontsize=8)
    else:
        ticks = range(len(runs))
        ax_mode.set_yticks([k + 0.4 for k in ticks], [str(k + 1) for k in ticks])
        ax_mode.set_ylim(-0.2, len(runs))
        ax_q.legend(loc="upper right", fontsize=7, title="run")

    thresholds = first.params.thresholds
    ax_q.set_ylabel("requests waiting\nlocally")
    ax_q.set_title(title, fontsize=11, loc="left")
    if all(
        r.params.thresholds.queue_depth == thresholds.queue_depth for _, r in runs
    ) and thresholds.queue_depth <= 2 * max(first.peak_queue_depth, 1):
        ax_q.axhline(thresholds.queue_depth, color="0.4", ls=":", lw=1)
        ax_q.annotate(
            f"queue threshold {thresholds.queue_depth}",
            (0.005, thresholds.queue_depth),
            xycoords=("axes fraction", "data"),
            va="bottom",
            fontsize=8,
            color="0.3",
        )
    ax_mode.set_ylabel("breaker")
    ax_rate.set_ylabel("requests\nper minute")
    ax_spend.set_ylabel("cloud spend\nso far (USD)")
    ax_spend.set_xlabel(
        f"{unit_name} since the trace start ({first.params.start:%Y-%m-%d %H:%M %Z})"
    )
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.set_xlim(0, span_s / unit)
    fig.align_ylabels(axes)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise UsageError(f"--plot: can't write {path}: {exc}") from None
    finally:
        plt.close(fig)
