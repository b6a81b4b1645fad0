"""docs/decisions.md's table of diagnosis causes is the catalogue the code gives."""

from __future__ import annotations

import re
from pathlib import Path

from streams.diagnosis import CAUSES

DECISIONS = Path(__file__).resolve().parents[2] / "docs" / "decisions.md"


def test_the_decision_rules_list_every_cause_with_its_summary() -> None:
    text = DECISIONS.read_text(encoding="utf-8")
    section = text.split("## Why: the diagnosis", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (.+) \|$", section, flags=re.MULTILINE)

    assert rows == [(code, summary) for code, (summary, _action) in CAUSES.items()]
