"""The bridge's commands, as `agents.cli` calls them.

    backupwatch bridge crashplan [--once]
    backupwatch import crashplan-csv FILE

A console that cannot be reached or refuses the credentials, a file that cannot be
read: one line `backupwatch: ...`, exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

from agents import logs
from agents.bridge.crashplan.errors import ConsoleError, CsvReportError
from agents.commands import given, refuse, stop_on_signals

__all__ = ["import_csv", "run_bridge"]

log = logging.getLogger(__name__)


def _kafka_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return given(args, ("bootstrap_servers", "topic_prefix", "partitions"))


def run_bridge(args: argparse.Namespace) -> int:
    from agents.bridge.crashplan.runner import Bridge
    from agents.bridge.crashplan.settings import BridgeSettings

    settings = BridgeSettings.from_env(**_kafka_overrides(args))
    logs.configure(settings.kafka.log_level, settings.kafka.log_format)
    logs.say(f"backupwatch bridge crashplan\n{settings.describe()}")

    async def run() -> None:
        bridge = Bridge(settings)
        try:
            await bridge.start(serve_metrics=not args.once)
            if args.once:
                print((await bridge.poll()).describe())
                return
            await bridge.run(stop_on_signals())
        finally:
            await bridge.close()

    try:
        asyncio.run(run())
    except ConsoleError as err:
        return refuse(str(err))
    return 0


def import_csv(args: argparse.Namespace) -> int:
    from agents.bridge.crashplan.csvreport import read_report
    from agents.bridge.crashplan.runner import import_devices
    from agents.settings import Settings

    settings = Settings.from_env(**_kafka_overrides(args))
    try:
        with Path(args.file).open(encoding="utf-8-sig", newline="") as source:
            devices, errors = read_report(source)
    except OSError as err:
        return refuse(f"cannot read {args.file}: {err.strerror or err}")
    except UnicodeDecodeError as err:
        return refuse(f"{args.file} is not UTF-8 text: {err.reason}")
    except CsvReportError as err:
        return refuse(f"{args.file}: {err}")
    for error in errors:
        logs.say(f"line {error.line}: {error.reason}", logging.WARNING)
    summary = asyncio.run(import_devices(settings, devices))
    print(summary.describe())
    if errors:
        logs.say(
            f"backupwatch: {len(errors)} row(s) could not be read (above); the others were sent"
        )
        return 1
    return 0
