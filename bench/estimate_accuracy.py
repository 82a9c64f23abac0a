"""How close ``brb estimate``'s expected cost is to what the requests of the example traces cost.

For every request of every trace in ``examples/`` (in arrival order), the
actual cost is its prompt and output tokens at the cloud model's price; the
expected cost is what the estimate says before the request is served:

* ``max_tokens`` — no learned data: every allowed output token (the trace's
  cap, else the config default, 1024);
* ``learned`` — the mean of the model's reply lengths seen so far in the
  trace, capped at the request's max_tokens (the service model's reply-length
  sketch, :func:`brb.core.estimate.learned_reply_tokens`), max_tokens until a
  reply has been seen.

Prints per trace and overall the median and p90 of expected / actual.
Traces carry token counts, not text, so the prompt side uses the trace's
prompt tokens: this measures the output prediction, which dominates (output
tokens cost five times input ones).

    python bench/estimate_accuracy.py [--model claude-sonnet-5-5] [--max-tokens 1024]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from brb.core.estimate import learned_reply_tokens
from brb.core.pricing import DEFAULT_CLOUD_MODEL, cost_usd, price_for
from brb.core.service_model import ReplyLengths

ROOT = Path(__file__).resolve().parents[1]
TRACES = ("ordinary_day", "black_friday", "flapping", "mixed_documents")


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_CLOUD_MODEL)
    parser.add_argument("--max-tokens", type=int, default=1024)
    args = parser.parse_args()
    price = price_for(args.model)
    assert price is not None, f"no price for {args.model}"
    print(f"cloud model {args.model}; default max_tokens {args.max_tokens}")
    print("trace             requests  max_tokens: median  p90   learned: median  p90")
    everything: dict[str, list[float]] = {"max": [], "learned": []}
    total = 0
    for name in TRACES:
        rows = [json.loads(line) for line in (ROOT / "examples" / f"{name}.jsonl").open()]
        rows.sort(key=lambda r: r["arrival_offset_s"])
        replies: dict[str, ReplyLengths] = {}
        ratios: dict[str, list[float]] = {"max": [], "learned": []}
        for r in rows:
            prompt, output = r["prompt_tokens"], r["output_tokens"]
            cap = r.get("max_output_tokens") or args.max_tokens
            actual = cost_usd(price, input_tokens=prompt, output_tokens=output)
            seen = replies.setdefault(r["model"], ReplyLengths())
            learned = learned_reply_tokens(seen, cap)
            expected_out = {"max": cap, "learned": cap if learned is None else learned}
            for kind, tokens in expected_out.items():
                expected = cost_usd(price, input_tokens=prompt, output_tokens=round(tokens))
                if actual > 0:
                    ratios[kind].append(float(expected / actual))
            seen.add(output)
        for kind in ratios:
            everything[kind] += ratios[kind]
        total += len(rows)
        print(_line(name, len(rows), ratios))
    print(_line("all", total, everything))


def _line(name: str, n: int, ratios: dict[str, list[float]]) -> str:
    m, learned = ratios["max"], ratios["learned"]
    return (
        f"{name:16}  {n:8}  {statistics.median(m):17.2f}  {quantile(m, 0.9):4.2f}  "
        f"{statistics.median(learned):14.2f}  {quantile(learned, 0.9):4.2f}"
    )


if __name__ == "__main__":
    main()
