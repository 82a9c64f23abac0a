"""The layers of DESIGN.md, enforced by reading the source with ``ast``.

* ``brb/core`` is pure: it imports only an allow-list of side-effect-free
  stdlib modules, plus ``brb.core`` and ``brb.errors``; and it reads no clock,
  no environment, no files and prints nothing.
* ``brb/adapters`` never imports ``brb.daemon``, ``brb.cli`` or ``brb.sim``.
* No import cycles anywhere in ``brb/``: every import counts, at module level,
  inside a function or under ``TYPE_CHECKING`` (a late import must not hide one).

The checker itself is tested on snippets, so a broken checker can't pass
silently.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BRB = Path(__file__).resolve().parents[1] / "brb"

# Side-effect-free stdlib modules core may use (a package entry covers its
# submodules). Not here on purpose: asyncio, socket, sqlite3, logging,
# subprocess, os, sys, time, threading, io, pathlib, shutil, tempfile, warnings,
# zoneinfo (reads tz files: callers pass a tzinfo), uuid/secrets (entropy).
CORE_STDLIB = frozenset(
    {
        "__future__",
        "abc",
        "base64",
        "binascii",
        "bisect",
        "collections",
        "contextlib",
        "copy",
        "dataclasses",
        "datetime",
        "decimal",
        "difflib",
        "enum",
        "fnmatch",
        "fractions",
        "functools",
        "hashlib",
        "heapq",
        "itertools",
        "json",
        "math",
        "numbers",
        "operator",
        "random",
        "re",
        "statistics",
        "string",
        "struct",
        "textwrap",
        "types",
        "typing",
        "unicodedata",
        "urllib.parse",
    }
)
CORE_BRB = ("brb.core", "brb.errors")
CLOCK_CALLS = frozenset({"now", "utcnow", "today"})  # datetime.now(), date.today(), ...
ENV_ATTRS = frozenset({"environ", "getenv", "environb"})
IO_BUILTINS = frozenset({"open", "print", "input", "breakpoint", "__import__"})
ADAPTERS_FORBIDDEN = ("brb.daemon", "brb.cli", "brb.sim")


def _within(module: str, prefixes: tuple[str, ...] | frozenset[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def imports(tree: ast.AST, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """Every module ``tree`` imports, absolute, with its line (``from a import b``
    yields ``a.b`` as well as ``a``, since ``b`` may be a submodule)."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base_parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(base_parts)
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found.extend((node.lineno, f"{target}.{a.name}") for a in node.names)
    return found


def core_violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Why ``source`` (the module ``module`` under brb/core) is not pure."""
    tree = ast.parse(source)
    out: list[str] = []
    for line, name in imports(tree, module, is_package):
        if name.startswith("brb.") or name == "brb":
            if name != "brb" and not _within(name, CORE_BRB):
                out.append(f"{module}:{line} imports {name} (core may import brb.core, brb.errors)")
        elif not _within(name, CORE_STDLIB):
            out.append(f"{module}:{line} imports {name} (not on core's pure stdlib allow-list)")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            if isinstance(fn, ast.Attribute) and fn.attr in CLOCK_CALLS:
                out.append(
                    f"{module}:{node.lineno} reads the clock (.{fn.attr}()): "
                    "take `now` as a parameter"
                )
            if isinstance(fn, ast.Name) and fn.id in IO_BUILTINS:
                out.append(f"{module}:{node.lineno} calls {fn.id}() (I/O in core)")
        if isinstance(node, ast.Attribute) and node.attr in ENV_ATTRS:
            out.append(f"{module}:{node.lineno} reads the environment ({node.attr})")
    return out


def forbidden_imports(
    source: str, module: str, forbidden: tuple[str, ...], is_package: bool = False
) -> list[str]:
    tree = ast.parse(source)
    return [
        f"{module}:{line} imports {name}"
        for line, name in imports(tree, module, is_package)
        if _within(name, forbidden)
    ]


def modules_under(package_dir: Path) -> list[tuple[str, Path, bool]]:
    out = []
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(BRB.parent).with_suffix("")
        is_package = rel.name == "__init__"
        parts = rel.parts[:-1] if is_package else rel.parts
        out.append((".".join(parts), path, is_package))
    return out


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """``{module: (source, is_package)}`` -> each module's imports among them."""
    graph: dict[str, set[str]] = {}
    for module, (source, is_package) in sources.items():
        found = {name for _, name in imports(ast.parse(source), module, is_package)}
        graph[module] = {n for n in found if n in sources and n != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: its strongly connected components of more
    than one module (Tarjan, iterative), each sorted, the list sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


# --- the real tree ---------------------------------------------------------------


CORE_MODULES = modules_under(BRB / "core")
ADAPTER_MODULES = modules_under(BRB / "adapters")


def test_there_is_something_to_check() -> None:
    names = {m for m, _, _ in CORE_MODULES}
    assert {"brb.core.breaker", "brb.core.budget", "brb.core.pricing"} <= names
    assert "brb.adapters.store" in {m for m, _, _ in ADAPTER_MODULES}


@pytest.mark.parametrize(
    ("module", "path", "is_package"), CORE_MODULES, ids=[m for m, _, _ in CORE_MODULES]
)
def test_core_is_pure(module: str, path: Path, is_package: bool) -> None:
    assert core_violations(path.read_text(encoding="utf-8"), module, is_package) == []


@pytest.mark.parametrize(
    ("module", "path", "is_package"), ADAPTER_MODULES, ids=[m for m, _, _ in ADAPTER_MODULES]
)
def test_adapters_do_not_reach_up(module: str, path: Path, is_package: bool) -> None:
    source = path.read_text(encoding="utf-8")
    assert forbidden_imports(source, module, ADAPTERS_FORBIDDEN, is_package) == []


def test_no_import_cycles_in_brb() -> None:
    sources = {m: (p.read_text(encoding="utf-8"), pk) for m, p, pk in modules_under(BRB)}
    graph = import_graph(sources)
    assert {"brb.daemon.app", "brb.daemon.admin", "brb.adapters.ledger"} <= set(graph)
    assert "brb.daemon.events" in graph["brb.daemon.front"]  # the graph has edges
    assert cycles(graph) == []


# --- the checker catches violations ----------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("import asyncio", "imports asyncio"),
        ("import socket", "imports socket"),
        ("from sqlite3 import connect", "imports sqlite3"),
        ("import logging\nlog = logging.getLogger(__name__)", "imports logging"),
        ("import subprocess", "imports subprocess"),
        ("import os.path", "imports os.path"),
        ("import time", "imports time"),
        ("from zoneinfo import ZoneInfo", "imports zoneinfo"),
        ("import aiohttp", "imports aiohttp"),
        ("from anthropic import AsyncAnthropic", "imports anthropic"),
        ("import ollama", "imports ollama"),
        ("import httpx", "imports httpx"),
        ("import requests", "imports requests"),
        ("from urllib.request import urlopen", "imports urllib.request"),
        ("from brb.adapters.store import Store", "imports brb.adapters.store"),
        ("from brb.config import BrbConfig", "imports brb.config"),
        ("from brb import config", "imports brb.config"),
        ("from ...adapters import store", "imports brb.adapters"),
        ("from ...daemon.front import app", "imports brb.daemon.front"),
        ("def f():\n    import sqlite3", "imports sqlite3"),  # hidden in a function
        ("from datetime import datetime, UTC\nx = datetime.now(UTC)", "reads the clock"),
        ("from datetime import date\nx = date.today()", "reads the clock"),
        ("import os\nk = os.environ['ANTHROPIC_API_KEY']", "reads the environment"),
        ("from os import getenv", "imports os"),
        ("x = open('/etc/passwd').read()", "calls open()"),
        ("print('hello')", "calls print()"),
    ],
)
def test_checker_flags(snippet: str, expected: str) -> None:
    found = core_violations(snippet, "brb.core.convert.sample")
    assert any(expected in v for v in found), found


@pytest.mark.parametrize(
    "snippet",
    [
        "from __future__ import annotations",
        "from collections.abc import Iterable\nfrom decimal import Decimal",
        "from brb.errors import ConversionError",
        "from brb.core.breaker import Mode",
        "from brb.core import pricing",
        "from .wire import Chunk\nfrom . import images",
        "from urllib.parse import urlsplit",
        "from datetime import datetime\ndef f(now: datetime) -> int:\n    return now.year",
    ],
)
def test_checker_accepts_pure_code(snippet: str) -> None:
    assert core_violations(snippet, "brb.core.convert.sample") == []


def test_relative_imports_resolve_from_the_package() -> None:
    tree = ast.parse("from . import wire\nfrom ..budget import x\nfrom .. import errors")
    assert [n for _, n in imports(tree, "brb.core.convert.sample")] == [
        "brb.core.convert",
        "brb.core.convert.wire",
        "brb.core.budget",
        "brb.core.budget.x",
        "brb.core",
        "brb.core.errors",
    ]
    tree = ast.parse("from .breaker import Mode")
    assert [n for _, n in imports(tree, "brb.core", is_package=True)] == [
        "brb.core.breaker",
        "brb.core.breaker.Mode",
    ]


@pytest.mark.parametrize(
    ("snippet", "bad"),
    [
        ("from brb.daemon.front import serve", True),
        ("import brb.cli.main", True),
        ("from brb import cli", True),
        ("from ..daemon import app", True),
        ("from brb.sim.ollama import FakeOllama", True),
        ("from brb.core.breaker import Mode\nfrom brb.errors import StoreError", False),
        ("from brb.adapters.store import iso", False),
    ],
)
def test_adapter_checker(snippet: str, bad: bool) -> None:
    found = forbidden_imports(snippet, "brb.adapters.sample", ADAPTERS_FORBIDDEN)
    assert bool(found) is bad, found


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        # module level, both ways
        ({"brb.a": "import brb.b", "brb.b": "from brb import a"}, [["brb.a", "brb.b"]]),
        # a late import inside a function still counts
        (
            {"brb.a": "from brb.b import f", "brb.b": "def f():\n    from brb.a import g"},
            [["brb.a", "brb.b"]],
        ),
        # so does a TYPE_CHECKING-only one
        (
            {
                "brb.a": "from brb.b import f",
                "brb.b": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from brb.a import A",
            },
            [["brb.a", "brb.b"]],
        ),
        # a longer loop, through a relative import, beside an innocent module
        (
            {
                "brb.x.a": "from .b import f",
                "brb.x.b": "from brb.x.c import g",
                "brb.x.c": "from brb.x import a",
                "brb.x.d": "from brb.x.a import f",
            },
            [["brb.x.a", "brb.x.b", "brb.x.c"]],
        ),
        # two separate cycles
        (
            {
                "brb.a": "import brb.b",
                "brb.b": "import brb.a",
                "brb.c": "import brb.d",
                "brb.d": "import brb.c",
            },  # fmt: skip
            [["brb.a", "brb.b"], ["brb.c", "brb.d"]],
        ),
        # a chain, a diamond and a self-import are not cycles
        ({"brb.a": "import brb.b", "brb.b": "import brb.c", "brb.c": "import os"}, []),
        (
            {
                "brb.a": "import brb.b\nimport brb.c",
                "brb.b": "import brb.d",
                "brb.c": "import brb.d",
                "brb.d": "",
            },  # fmt: skip
            [],
        ),
        ({"brb.a": "import brb.a"}, []),
    ],
)
def test_cycle_checker(sources: dict[str, str], expected: list[list[str]]) -> None:
    graph = import_graph({m: (src, False) for m, src in sources.items()})
    assert cycles(graph) == expected
