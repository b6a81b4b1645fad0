"""Run a few lines of Python in a fresh interpreter, in the repository: for what a module
loads or registers when imported, which this test session may have done already."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["REPO", "run_python"]

REPO = Path(__file__).resolve().parents[1]


def run_python(code: str, *args: str, timeout: float = 60) -> str:
    """The standard output of `code` (given `args` as `sys.argv[1:]`); a failure fails
    the test with the interpreter's error output."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
