"""Alerts for the notifier's tests: the contract's example, varied by keyword."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from msgspec.structs import replace

from schemas.codec import decode_as
from schemas.models import Alert, Cause

EXAMPLE = Path(__file__).parents[4] / "schemas" / "examples" / "alert.json"


def example_alert(**changes: Any) -> Alert:
    return replace(decode_as(EXAMPLE.read_bytes(), Alert), **changes)


def cause(code: str = "locked_files", **changes: Any) -> Cause:
    fields: dict[str, Any] = {
        "code": code,
        "summary": "Locked files keep the backup from finishing",
        "evidence": {"locked_files": 12, "share": 0.25},
        "action": "Close the application holding the files, or exclude them",
        "score": 0.7,
    }
    fields.update(changes)
    return Cause(**fields)
