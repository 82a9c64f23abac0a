"""The pool's placement rule (brb.core.placement): least predicted start, loaded model preferred."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brb.core.placement import Offer, choose


def test_a_free_slot_beats_a_queue() -> None:
    offers = [Offer(True, 5.0, 8.0), Offer(False, 0.0, 0.0)]
    assert choose(offers) == 1


def test_the_loaded_model_wins_unless_the_other_starts_sooner_after_the_load() -> None:
    cold_free = Offer(False, 0.0, 0.0, cold_s=4.0)
    warm_busy = Offer(True, 3.0, 5.0)
    assert choose([cold_free, warm_busy]) == 1  # 3 s wait < a 4 s load
    warm_long = Offer(True, 6.0, 9.0)
    assert choose([cold_free, warm_long]) == 0  # a 4 s load < a 6 s wait


def test_a_tie_goes_to_the_less_busy_then_to_config_order() -> None:
    assert choose([Offer(False, 0, 0, busy=0.5), Offer(False, 0, 0, busy=0.0)]) == 1
    assert choose([Offer(False, 0, 0, busy=0.5), Offer(False, 0, 0, busy=0.5)]) == 0


def test_figures_include_the_cold_load() -> None:
    assert Offer(True, 2.0, 3.0, cold_s=4.0).figures == (True, 6.0, 7.0)
    assert Offer(False, 0.0, 0.0).figures == (False, 0.0, 0.0)


def test_no_offer_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least one upstream"):
        choose([])


offer = st.builds(
    Offer,
    st.booleans(),
    st.floats(0, 100),
    st.floats(0, 100),
    st.floats(0, 10),
    st.floats(0, 1),
)


@given(st.lists(offer, min_size=1, max_size=6))
def test_the_chosen_offer_starts_no_later_than_any_other(offers: list[Offer]) -> None:
    best = offers[choose(offers)]
    assert all(best.score <= o.score for o in offers)
    tied = [o for o in offers if o.score == best.score]
    assert best.busy == min(o.busy for o in tied)
