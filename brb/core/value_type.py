"""How brb declares a value type built on every request: frozen to the type checker, cheap to build.

Owns :func:`value_type`, a decorator for small immutable records (a route, a
decision, a request-log row) that the request path builds several of per
request. A ``@dataclass(frozen=True)`` enforces immutability at run time by
assigning each field in ``__init__`` through ``object.__setattr__``: about
150 ns a field on CPython 3.11, several microseconds a request over the
records the front builds. A :func:`value_type` class is the same dataclass to
the type checker (``frozen_default``: mypy --strict rejects any assignment to
a field) and, at run time, a slotted dataclass whose ``__init__`` assigns
plainly (about 30 ns a field), hashed by its fields as a frozen one is. What
it gives up is only the run-time guard against ``object.field = ...``, which
mypy already refuses. Records off the request path stay ``@dataclass(frozen=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def value_type(cls: type[T]) -> type[T]:
    """``@dataclass(frozen=True, slots=True)`` to the type checker; at run time a slotted
    dataclass with plain assignments in ``__init__`` (and a hash of its fields)."""
    return dataclass(slots=True, unsafe_hash=True)(cls)
