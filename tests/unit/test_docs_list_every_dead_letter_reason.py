"""docs/dead-letters.md names every reason the worker gives a dead letter, and no other:
the decoder's (`schemas.errors.Reason`) and the pipeline's own (`DeadLetter(…, "reason",
…)` in `streams/pipeline.py`)."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

from schemas.errors import Reason

REPO = Path(__file__).resolve().parents[2]


def _pipeline_reasons() -> set[str]:
    tree = ast.parse((REPO / "streams" / "pipeline.py").read_text(encoding="utf-8"))
    return {
        node.args[1].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "DeadLetter"
        and len(node.args) > 1
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    }


def test_every_reason_of_the_worker_is_documented_and_every_documented_one_given() -> None:
    text = (REPO / "docs" / "dead-letters.md").read_text(encoding="utf-8")
    section = text.split("## Worker", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
    given = set(typing.get_args(Reason)) | _pipeline_reasons()

    assert "reserved_id" in given, "the pipeline's own reasons were not found"
    assert sorted(documented) == sorted(given)
