"""A value type is a dataclass to everyone: fields, replace, equality, a hash of its
fields as a frozen one has, slots (no instance dict); only its __init__ is cheaper."""

from __future__ import annotations

import dataclasses

import pytest

from brb.core.value_type import value_type


@value_type
class Route:
    provider: str
    price: float | None = None


def test_a_value_type_is_a_dataclass_with_its_fields_and_defaults() -> None:
    assert [f.name for f in dataclasses.fields(Route)] == ["provider", "price"]
    assert Route("anthropic") == Route("anthropic", None)
    assert Route("anthropic") != Route("openai")
    assert dataclasses.replace(Route("anthropic"), price=1.5) == Route("anthropic", 1.5)
    assert repr(Route("a", 2.0)) == "Route(provider='a', price=2.0)"


def test_a_value_type_hashes_by_its_fields_like_a_frozen_dataclass() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Frozen:
        provider: str
        price: float | None = None

    assert hash(Route("a", 1.0)) == hash(Route("a", 1.0)) == hash(Frozen("a", 1.0))
    assert len({Route("a"), Route("a"), Route("b")}) == 2


def test_a_value_type_is_slotted() -> None:
    route = Route("a")
    assert not hasattr(route, "__dict__")
    with pytest.raises(AttributeError):
        route.other = 1  # type: ignore[attr-defined]
