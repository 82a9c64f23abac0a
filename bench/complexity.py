"""The complexity score: its AUC on the labelled set, and its speed on 32 KiB prompts.

Reads ``examples/complexity.jsonl`` (each line: ``label`` simple|complex, a
one-line ``reason``, ``messages``, optionally ``tools``: how many tools the
request offers, and ``held_out``: written after the weights were tuned on
the other rows, never tuned on), scores each as an Ollama ``/api/chat``
body, and prints the AUC (the probability that a complex prompt scores
above a simple one; ties count half) on all rows, on the rows the weights
were tuned on, and on the held-out rows alone. Then times
``read_conversation`` + ``score`` on 32 KiB prompts of three kinds (prose,
code, a mix with math and lists): median and p99 over many calls, after a
warm-up. The goal (issue 13): well under 1 ms for a 32 KiB prompt.

    python bench/complexity.py [--runs 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from brb.core.complexity import score
from brb.core.conversation import read_conversation

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "complexity.jsonl"
KIB_32 = 32 * 1024


def body_of(row: dict[str, Any]) -> dict[str, Any]:
    tools = [
        {"type": "function", "function": {"name": f"tool_{i}", "parameters": {"type": "object"}}}
        for i in range(row.get("tools", 0))
    ]
    return {"model": "llama3", "messages": row["messages"], **({"tools": tools} if tools else {})}


def auc(positives: list[float], negatives: list[float]) -> float:
    """Mann-Whitney: P(score of a complex prompt > score of a simple one), ties half."""
    wins = 0.0
    for p in positives:
        for n in negatives:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(positives) * len(negatives))


def prompts_32k() -> dict[str, str]:
    prose = "The committee met on Tuesday to review the quarterly figures and the new plan. "
    code = "def handler(event):\n    if not event:\n        return None\n    total += 1;\n"
    mixed = (
        "Must we prove that x^2 + y^2 >= 2xy? 1. use the integral\n- ensure $a$ is exact\n"
        "```\nconst f = (x) => { return x; }\n```\nCompare and analyze the trade-offs. "
    )
    return {name: (text * (KIB_32 // len(text) + 1))[:KIB_32] for name, text in
            (("prose", prose), ("code", code), ("mixed", mixed))}  # fmt: skip


def time_score(text: str, runs: int) -> tuple[float, float]:
    body = {"model": "llama3", "messages": [{"role": "user", "content": text}]}
    for _ in range(50):
        score(read_conversation("/api/chat", body))
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        score(read_conversation("/api/chat", body))
        samples.append(time.perf_counter() - start)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()

    rows = [json.loads(line) for line in EXAMPLES.read_text().splitlines() if line.strip()]
    scored = [(row, score(read_conversation("/api/chat", body_of(row)))) for row in rows]
    complex_ = sorted(s for row, s in scored if row["label"] == "complex")
    simple = sorted(s for row, s in scored if row["label"] == "simple")
    print(f"{EXAMPLES.relative_to(ROOT)}: {len(simple)} simple, {len(complex_)} complex")
    print(f"AUC {auc(complex_, simple):.3f} (all rows)")
    for held_out, label in ((False, "tuned on"), (True, "held out")):
        part = [(row, s) for row, s in scored if bool(row.get("held_out")) is held_out]
        pos = [s for row, s in part if row["label"] == "complex"]
        neg = [s for row, s in part if row["label"] == "simple"]
        if pos and neg:
            print(f"AUC {auc(pos, neg):.3f} ({label}: {len(neg)} simple, {len(pos)} complex)")
    print(f"simple  scores: median {statistics.median(simple):.3f}, max {max(simple):.3f}")
    print(f"complex scores: median {statistics.median(complex_):.3f}, min {min(complex_):.3f}")
    worst = sorted(scored, key=lambda rs: rs[1] if rs[0]["label"] == "complex" else -rs[1])[:3]
    for row, s in worst:
        print(f"  hardest: {row['label']} scored {s:.3f}: {row['reason']}")
    for name, text in prompts_32k().items():
        median, p99 = time_score(text, args.runs)
        print(f"32 KiB {name:5}: median {median * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us")


if __name__ == "__main__":
    main()
