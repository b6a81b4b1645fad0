"""What every command of the CLI shares, so each command's own code says only what it does.

Settings given on the command line override their `BACKUPWATCH_*` variables; a command
that cannot go on says why in one line and exits with 2; a long-running one ends cleanly
on SIGTERM (what Kubernetes and compose send) or SIGINT (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Iterable
from typing import Any

from agents import logs

__all__ = ["given", "refuse", "stop_on_signals"]


def given(args: argparse.Namespace, names: Iterable[str]) -> dict[str, Any]:
    """The settings among `names` that the command line gave, to override the environment."""
    return {name: value for name in names if (value := getattr(args, name, None)) is not None}


def refuse(message: str) -> int:
    """One line naming what is wrong, exit status 2 (a log record when logs are JSON)."""
    if logs.is_json():
        logs.say(message, logging.ERROR)
    else:
        print(f"backupwatch: {message}", file=sys.stderr)
    return 2


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT; call it inside the running event loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
