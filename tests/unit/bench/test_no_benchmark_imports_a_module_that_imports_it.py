"""The benchmarks import one another in one direction only: `bench.pipeline` runs the
runners (naive Faust, Quix, secured), which take what they share from `bench.harness`,
never from the module that runs them. An import circle would make each module's meaning
depend on which one was imported first."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _imports(path: Path) -> set[str]:
    """The `bench.*` modules a file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bench."):
            found.add(node.module or "")
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("bench.")}
    return found


def test_no_benchmark_module_imports_one_that_imports_it_back() -> None:
    graph = {f"bench.{path.stem}": _imports(path) for path in BENCH.glob("*.py")}
    circles = []
    for start in graph:
        # Every module reachable from `start`; a circle reaches `start` again.
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            module = todo.pop()
            if module == start:
                circles.append(start)
                break
            if module not in seen:
                seen.add(module)
                todo.extend(graph.get(module, ()))
    assert circles == [], f"these bench modules import themselves through others: {circles}"


def test_the_check_sees_a_circle_through_a_function_level_import(tmp_path: Path) -> None:
    module = tmp_path / "runner.py"
    module.write_text("def run():\n    from bench.pipeline import log\n")
    assert _imports(module) == {"bench.pipeline"}
