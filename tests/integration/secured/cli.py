"""Run `backupwatch` commands as a person would: a subprocess with BACKUPWATCH_*
variables, its exit code, output and how long it took."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

from tests.kafka_harness import REPO

__all__ = ["Run", "backupwatch", "clean_env"]


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    seconds: float

    @property
    def last_line(self) -> str:
        lines = self.err.strip().splitlines()
        return lines[-1] if lines else ""


def clean_env() -> dict[str, str]:
    # Only the variables a test gives: none of the developer's Kafka settings.
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BACKUPWATCH_", "KAFKA_BOOTSTRAP", "AWS_"))
    }


def backupwatch(
    *args: str, env: Mapping[str, str], stdin: bytes | None = None, timeout: float = 120
) -> Run:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "agents.cli", *args],
        cwd=REPO,
        env={**clean_env(), **env},
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return Run(
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
        time.monotonic() - started,
    )
