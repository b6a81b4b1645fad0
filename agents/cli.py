"""The `backupwatch` command line."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    print("backupwatch: no commands yet", file=sys.stderr)
    return 2
