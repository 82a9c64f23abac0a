"""Reading fields of a client's JSON body, where a wrong shape becomes BadRequest.

Owns: typed access to optional fields (string, list, object, number, bool)
with error messages that name the field, in the spirit of Ollama's
``{"error": "..."}``. Must not decide what a field means.
"""

from __future__ import annotations

import math
from typing import Any

from brb.errors import BadRequest

JSON = dict[str, Any]


def require_object(value: object, where: str) -> JSON:
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be a JSON object")
    return value


def opt_str(obj: JSON, key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise BadRequest(f"{where}.{key} must be a string")


def opt_list(obj: JSON, key: str, where: str) -> list[Any] | None:
    value = obj.get(key)
    if value is None or isinstance(value, list):
        return value
    raise BadRequest(f"{where}.{key} must be a list")


def opt_object(obj: JSON, key: str, where: str) -> JSON | None:
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise BadRequest(f"{where}.{key} must be a JSON object")


def opt_bool(obj: JSON, key: str, where: str) -> bool | None:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise BadRequest(f"{where}.{key} must be true or false")


def opt_number(obj: JSON, key: str, where: str) -> float | None:
    """A finite number, or None when absent, null or not finite (NaN/inf say nothing usable)."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{where}.{key} must be a number")
    number = float(value)
    return number if math.isfinite(number) else None


def opt_int(obj: JSON, key: str, where: str) -> int | None:
    number = opt_number(obj, key, where)
    return None if number is None else int(number)


def required_model(body: JSON) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("model is required")
    return model


def str_list(value: object, where: str) -> list[str]:
    """A string or a list of strings (how both APIs spell `stop`)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise BadRequest(f"{where} must be a string or a list of strings")
