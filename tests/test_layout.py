"""The package's import rules (DESIGN.md "Boundaries"), read from the source so they stay true."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "db", "triage")
# The one module that talks to wechatpy (its docstring says what it does not use, and why).
WECHATPY_HOME = "bot.wechat.wire"
# What db/ may take from handlers/: the Store interface it implements.
DB_FROM_HANDLERS = {"handlers.store", "handlers.messages"}


@cache
def modules() -> dict[str, Path]:
    """Every module of the four packages, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imported(name: str) -> Iterator[str]:
    """Every module `name` imports, at the top or inside a function (dotted names)."""
    tree = ast.parse(modules()[name].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                whole = f"{node.module}.{alias.name}"
                yield whole if whole in modules() else node.module


@cache
def graph() -> dict[str, set[str]]:
    """Module → the project's modules it imports."""
    return {name: {m for m in imported(name) if m in modules() and m != name}
            for name in modules()}


def importers_of(library: str) -> set[str]:
    """The project's modules that import `library` (or a part of it)."""
    return {name for name in modules()
            if any(m == library or m.startswith(library + ".") for m in imported(name))}


def package(name: str) -> str:
    return name.split(".")[0]


def test_the_modules_import_each_other_without_a_cycle() -> None:
    edges = graph()
    done: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> None:
        if name in path:
            cycle = [*path[path.index(name):], name]
            raise AssertionError("import cycle: " + " → ".join(cycle))
        if name in done:
            return
        path.append(name)
        for other in sorted(edges[name]):
            visit(other)
        path.pop()
        done.add(name)

    for name in sorted(edges):
        visit(name)


def test_triage_is_the_pure_core_and_imports_nothing_above_it() -> None:
    upward = {(name, other) for name, others in graph().items() if package(name) == "triage"
              for other in others if package(other) in ("handlers", "bot")}
    assert upward == set()
    assert not {n for n in importers_of("aiohttp") | importers_of("wechatpy")
                if package(n) == "triage"}


def test_db_takes_from_handlers_only_the_store_interface_and_nothing_from_bot() -> None:
    taken = {(name, other) for name, others in graph().items() if package(name) == "db"
             for other in others
             if package(other) == "bot" or (package(other) == "handlers"
                                            and other not in DB_FROM_HANDLERS)}
    assert taken == set()


def test_handlers_never_see_aiohttp_wechatpy_or_the_service() -> None:
    assert {n for n in importers_of("aiohttp") | importers_of("wechatpy")
            if package(n) == "handlers"} == set()
    assert {(name, other) for name, others in graph().items() if package(name) == "handlers"
            for other in others if package(other) == "bot"} == set()


def test_only_db_imports_sqlite_utils() -> None:
    assert {n for n in importers_of("sqlite_utils") if package(n) != "db"} == set()


def test_one_module_imports_wechatpy() -> None:
    assert importers_of("wechatpy") == {WECHATPY_HOME}


def test_the_domains_words_are_spelled_once() -> None:
    """Statuses, target types and kinds are tuples in triage/vocabulary.py, nowhere else."""
    from triage import vocabulary

    spelled = {tuple(vocabulary.STATUSES), tuple(vocabulary.TARGET_TYPES),
               tuple(vocabulary.KINDS)}
    copies = []
    for name, path in modules().items():
        if name == "triage.vocabulary":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Tuple | ast.List | ast.Set) and len(node.elts) >= 5:
                words = tuple(e.value for e in node.elts
                              if isinstance(e, ast.Constant) and isinstance(e.value, str))
                if len(words) == len(node.elts) and (
                        words in spelled or any(set(words) == set(s) for s in spelled)):
                    copies.append(f"{name}:{node.lineno}")
    assert copies == []
