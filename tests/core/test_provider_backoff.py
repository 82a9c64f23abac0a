from __future__ import annotations

from brb.core.provider_backoff import CAP_S, Backoff, after_failure, after_success


def test_one_or_two_blips_do_not_rest_a_provider() -> None:
    b = after_failure(Backoff(), 10.0)
    b = after_failure(b, 10.1)
    assert not b.is_resting(10.1) and b.failures == 2


def test_a_run_of_failures_rests_it_longer_each_time_up_to_the_cap() -> None:
    b = Backoff()
    pauses = []
    for i in range(10):
        now = 100.0 * i
        b = after_failure(b, now)
        pauses.append(round(max(0.0, b.resting_until - now), 3))
    assert pauses[:2] == [0.0, 0.0]
    assert pauses[2:7] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert max(pauses) == CAP_S


def test_retry_after_is_honoured_at_once_and_success_clears() -> None:
    b = after_failure(Backoff(), 5.0, retry_after_s=7)
    assert b.is_resting(11.9) and not b.is_resting(12.0)
    assert after_success(b) == Backoff()
