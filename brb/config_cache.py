"""The light CLI commands' config: a validated config remembered between runs.

``brb status|press|release|spend`` are run in loops by shell scripts and the
button, and building the pydantic models costs several times what the rest
of the command does. So the first run validates in full (:mod:`brb.config`,
the only validator) and remembers the result as JSON; later runs whose config
file has the same bytes, and whose brb, pydantic and PyYAML files are
unchanged, read it back as a frozen :class:`ConfigView` without importing
pydantic or yaml. A config that fails validation is never remembered, so it
is refused exactly as ``brb.config.load`` refuses it, every time.

Owns the cache file (``$CACHE_DIRECTORY``, ``$XDG_CACHE_HOME/brb`` or
``~/.cache/brb``), its key and its encoding. Never parses YAML and never
decides whether a value is valid; any problem with the cache (absent,
stale, unreadable, unwritable) falls back to the full load.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from brb.config_views import BrbConfigViews, ModelsViews, default_path

if TYPE_CHECKING:
    from brb.config import BrbConfig

FORMAT = 1
# Code that decides what a file validates to: when any of brb's loaded module
# files changes (an edit in a checkout, an upgrade), or the top module of a
# validating library (rewritten by an upgrade), the cache is stale.
_LIBRARIES = ("pydantic", "pydantic_core", "pydantic.version", "yaml", "annotated_types")


class SectionView:
    """A frozen config section read back from the cache: attribute access
    to the same values, of the same types, as the pydantic section has."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("the config is frozen")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._values == self._values

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._values!r})"


class ModelsView(ModelsViews, SectionView):
    __slots__ = ()


class ConfigView(BrbConfigViews, SectionView):
    __slots__ = ()


# The view for each pydantic section that has derived views (by class name).
_VIEWS: dict[str, type[SectionView]] = {"BrbConfig": ConfigView, "Models": ModelsView}

ConfigLike: TypeAlias = "BrbConfig | ConfigView"


class _Uncacheable(Exception):
    """A value the JSON encoding can't carry with its exact type."""


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind in (str, int, float, bool) or value is None:
        return value
    if kind is Decimal:
        return {"$decimal": str(value)}
    if kind is list:
        return [_encode(v) for v in value]
    if kind is tuple:
        return {"$tuple": [_encode(v) for v in value]}
    if kind is dict:
        if not all(type(k) is str and not k.startswith("$") for k in value):
            raise _Uncacheable
        return {"$dict": {k: _encode(v) for k, v in value.items()}}
    fields = getattr(kind, "model_fields", None)  # a pydantic section
    if isinstance(fields, dict):
        values = {name: _encode(getattr(value, name)) for name in fields}
        return {"$section": kind.__name__, "values": values}
    raise _Uncacheable


def _decode(obj: dict[str, Any]) -> Any:
    if "$decimal" in obj:
        return Decimal(obj["$decimal"])
    if "$tuple" in obj:
        return tuple(obj["$tuple"])
    if "$dict" in obj:
        return obj["$dict"]
    if "$section" in obj:
        return _VIEWS.get(obj["$section"], SectionView)(obj["values"])
    return obj


def cache_dir() -> Path:
    explicit = os.environ.get("CACHE_DIRECTORY")  # systemd's CacheDirectory=
    if explicit:
        return Path(explicit.split(":")[0])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "brb"


def _entry_file(path: Path | None) -> Path:
    where = str(path.resolve()) if path is not None else "-"
    return cache_dir() / f"config-{zlib.crc32(where.encode()):08x}.json"


def _code_files() -> list[list[Any]]:
    """The source files of the loaded validating code, with their size and mtime."""
    out = []
    for name, module in sorted(sys.modules.items()):
        if name.partition(".")[0] != "brb" and name not in _LIBRARIES:
            continue
        file = getattr(module, "__file__", None)
        if file:
            st = os.stat(file)
            out.append([file, st.st_size, st.st_mtime_ns])
    return out


def _code_unchanged(files: list[list[Any]]) -> bool:
    try:
        for file, size, mtime in files:
            st = os.stat(file)
            if st.st_size != size or st.st_mtime_ns != mtime:
                return False
    except (OSError, ValueError, TypeError):
        return False
    return bool(files)


def _read_text(path: Path | None) -> str | None:
    return None if path is None else path.read_text(encoding="utf-8")


def load(path: Path | None) -> tuple[ConfigLike, tuple[str, ...]]:
    """The config and its warnings, as ``brb.config.load(path)`` gives them:
    from the cache when it is fresh, else by a full load that refreshes it."""
    p = Path(path) if path is not None else default_path()
    entry = _entry_file(p)
    try:
        text = _read_text(p)
        cached = json.loads(entry.read_text(encoding="utf-8"), object_hook=_decode)
        if (
            cached["format"] == FORMAT
            and cached["python"] == sys.version
            and cached["path"] == (str(p) if p is not None else None)
            and cached["text"] == text
            and _code_unchanged(cached["code"])
            and isinstance(cached["config"], ConfigView)
        ):
            return cached["config"], tuple(cached["warnings"])
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        pass  # no usable cache (or no readable file: the full load says why)
    from brb import config

    try:
        before = _read_text(p)
    except (OSError, UnicodeDecodeError):
        before = None  # the full load refuses it with the reason
    loaded = config.load(p)
    _remember(entry, loaded.config, p, before, loaded.warnings)
    return loaded.config, loaded.warnings


def _remember(
    entry: Path, cfg: BrbConfig, p: Path | None, text: str | None, warnings: tuple[str, ...]
) -> None:
    try:
        if _read_text(p) != text:
            return  # the file changed while it was validated
        record = {
            "format": FORMAT,
            "python": sys.version,
            "path": str(p) if p is not None else None,
            "text": text,
            "code": _code_files(),
            "config": _encode(cfg),
            "warnings": list(warnings),
        }
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8", opener=_private) as f:
            json.dump(record, f)
        os.replace(tmp, entry)
    except (OSError, _Uncacheable, UnicodeDecodeError):
        return  # not remembered: the next run loads in full again


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)
