"""The pure core holds no state between calls besides the sharing caches of
`streams.fastpath`: no `global` rebinding, no other module-level container filled at
run time."""

from __future__ import annotations

import ast
from pathlib import Path

import streams

CORE = Path(streams.__file__).parent
EMPTY_CONTAINERS = (ast.Dict, ast.List, ast.Set)


def _modules() -> list[Path]:
    return sorted(CORE.glob("*.py"))


def test_no_function_of_the_core_rebinds_a_module_name() -> None:
    rebinding = [
        f"{path.name}:{node.lineno}"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Global | ast.Nonlocal)
    ]
    assert rebinding == []


def _empty_container(value: ast.expr | None) -> bool:
    if isinstance(value, EMPTY_CONTAINERS):
        return not getattr(value, "keys", None) and not getattr(value, "elts", None)
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in ("dict", "list", "set")
        and not value.args
    )


def test_only_the_fastpath_module_starts_an_empty_container_to_fill() -> None:
    holders = {
        path.name
        for path in _modules()
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.Assign | ast.AnnAssign) and _empty_container(node.value)
    }
    assert holders == {"fastpath.py"}
