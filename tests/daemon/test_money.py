"""Money on the request path: one ledger row per diverted request, at exact prices.

Prices are set in the config to round numbers so the expected cost is exact
Decimal arithmetic over the usage the fake Anthropic reports (its token
count is deterministic: ``brb.sim.anthropic_reply``). The budget tests make
the worst case a round number too: input free, output $1000 per million
tokens and ``models.max_tokens: 100``, so every reservation is exactly $0.10.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from daemon_rig import CLOUD_REPLY, MODEL, Answer, Req, Rig, StartRig, chat_body

from brb.sim.anthropic import FakeAnthropic
from brb.sim.anthropic_reply import count_input_tokens, tokens_of

CLOUD_MODEL = "claude-sonnet-5-5"
IN_PER_MTOK = Decimal(1000)  # $0.001 a token
OUT_PER_MTOK = Decimal(2000)  # $0.002 a token
MTOK = Decimal(1_000_000)
EXACT_PRICES = {
    CLOUD_MODEL: {
        "input_per_mtok": str(IN_PER_MTOK),
        "output_per_mtok": str(OUT_PER_MTOK),
        "cache_write_per_mtok": "1250",
        "cache_read_per_mtok": "100",
    }
}
# worst case = 100 max tokens x $0.001 = $0.10; a 40-word reply costs $0.04
BUDGET_PRICES = {
    CLOUD_MODEL: {
        "input_per_mtok": "0",
        "output_per_mtok": "1000",
        "cache_write_per_mtok": "0",
        "cache_read_per_mtok": "0",
    }
}
WORST = Decimal("0.10")
LONG_REPLY = " ".join(f"w{i}" for i in range(40))
LONG_COST = Decimal("0.04")


def usd(micro: int) -> Decimal:
    return Decimal(micro) / MTOK


def test_each_diverted_request_settles_usage_times_price(start_brb: StartRig) -> None:
    rig = start_brb(models={"anthropic_model": CLOUD_MODEL}, pricing=EXACT_PRICES)
    rig.press()
    asked = [
        ("/api/chat", False, "a"),
        ("/api/chat", True, "bb"),
        ("/api/generate", False, "ccc " * 10),
        ("/api/generate", True, "d"),
        ("/v1/chat/completions", False, "eeeee"),
        ("/v1/chat/completions", True, "f"),
    ]
    answers: list[Answer] = []
    for path, stream, text in asked:  # one at a time: ledger rows follow the fake's records
        answer = rig.ask(path, text, stream=stream, session=f"s-{len(answers)}")
        assert answer.provider == "anthropic"
        answers.append(answer)

    rows = rig.settled_rows(len(asked))
    recorded = rig.anthropic.message_requests
    assert len(rows) == len(recorded) == len(asked)  # one row per diverted request
    output_tokens = len(tokens_of(CLOUD_REPLY))
    for i, (row, rec, answer) in enumerate(zip(rows, recorded, answers, strict=True)):
        path, stream, _ = asked[i]
        assert isinstance(rec.body, dict)
        input_tokens = count_input_tokens(rec.body)  # what the fake reported
        expected = (input_tokens * IN_PER_MTOK + output_tokens * OUT_PER_MTOK) / MTOK
        assert row["status"] == "settled" and row["outcome"] == "ok"
        assert (row["input_tokens"], row["output_tokens"]) == (input_tokens, output_tokens)
        assert usd(row["cost_micro_usd"]) == expected
        assert usd(row["reserved_micro_usd"]) >= expected  # the worst case covered it
        assert (row["provider"], row["cloud_model"], row["local_model"]) == (
            "anthropic",
            CLOUD_MODEL,
            MODEL,
        )
        assert (row["session"], row["endpoint"]) == (f"s-{i}", path)
        assert row["latency_s"] is not None and row["latency_s"] >= 0
        if stream:
            assert "x-brb-cost-usd" not in answer.headers  # not known when headers leave
        else:
            assert Decimal(answer.headers["x-brb-cost-usd"]) == expected
            if path != "/v1/chat/completions":
                body = answer.json()
                assert (body["prompt_eval_count"], body["eval_count"]) == (
                    input_tokens,
                    output_tokens,
                )

    status = rig.status()
    total = sum(usd(r["cost_micro_usd"]) for r in rows)
    assert status["requests_diverted_today"] == len(asked)
    assert Decimal(str(status["spend_today_usd"])) == total
    assert status["cost_today"] == f"${total:.2f}"


def budget_rig(start_brb: StartRig, limit: str, **anthropic: Any) -> Rig:
    rig = start_brb(
        anthropic=FakeAnthropic(reply_text=LONG_REPLY, **anthropic),
        models={"anthropic_model": CLOUD_MODEL, "max_tokens": 100},
        pricing=BUDGET_PRICES,
        budget={"daily_limit_usd": limit},
    )
    rig.press()
    return rig


def test_requests_stay_local_once_the_budget_cant_cover_the_worst_case(
    start_brb: StartRig,
) -> None:
    # $0.15: the 1st reserves 0.10 (settles 0.04), the 2nd 0.04+0.10 fits (settles
    # 0.08), the 3rd would make 0.18: it stays local, and so does every later one.
    rig = budget_rig(start_brb, "0.15")
    providers = [rig.ask(text=f"q{i}").provider for i in range(5)]
    assert providers == ["anthropic", "anthropic", "ollama", "ollama", "ollama"]
    local = rig.ask(text="still served")  # local traffic is never blocked by the budget
    assert (local.status, local.headers["x-brb-route"]) == (200, "fallback")
    assert rig.ask(session="compliance-1").status == 200
    rows = rig.settled_rows(2)
    assert len(rows) == 2 and rig.cloud_hits() == 2
    assert [usd(r["reserved_micro_usd"]) for r in rows] == [WORST, WORST]
    assert sum(usd(r["cost_micro_usd"]) for r in rows) == 2 * LONG_COST
    assert rig.status()["remaining_usd"] == float(Decimal("0.15") - 2 * LONG_COST)


def test_concurrent_diversions_never_reserve_past_the_limit(start_brb: StartRig) -> None:
    # the fake holds each answer 2 s (a wide margin for a loaded machine: the 12 are
    # sent at once), so all 12 reservations overlap: only floor(0.35 / 0.10) = 3
    # fit; the other 9 go local at once.
    rig = budget_rig(start_brb, "0.35", latency_s=2.0)
    answers = rig.burst([Req("/api/chat", chat_body("/api/chat", f"c{i}")) for i in range(12)])
    assert [a.status for a in answers] == [200] * 12
    assert sum(a.provider == "anthropic" for a in answers) == 3
    rows = rig.settled_rows(3)
    assert len(rows) == 3
    assert sum(usd(r["reserved_micro_usd"]) for r in rows) <= Decimal("0.35")
    assert sum(usd(r["cost_micro_usd"]) for r in rows) == 3 * LONG_COST
