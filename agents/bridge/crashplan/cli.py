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
import sys
from pathlib import Path
from typing import Any

from agents.bridge.crashplan.errors import ConsoleError, CsvReportError

__all__ = ["import_csv", "run_bridge"]

log = logging.getLogger(__name__)


def _kafka_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        name: value
        for name in ("bootstrap_servers", "topic_prefix", "partitions")
        if (value := getattr(args, name, None)) is not None
    }


def run_bridge(args: argparse.Namespace) -> int:
    from agents.bridge.crashplan.runner import Bridge
    from agents.bridge.crashplan.settings import BridgeSettings

    settings = BridgeSettings.from_env(**_kafka_overrides(args))
    logging.getLogger().setLevel(settings.kafka.log_level.upper())
    print(f"backupwatch bridge crashplan\n{settings.describe()}", file=sys.stderr)

    async def run() -> None:
        import signal

        bridge = Bridge(settings)
        try:
            await bridge.start(serve_metrics=not args.once)
            if args.once:
                print((await bridge.poll()).describe())
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            await bridge.run(stop)
        finally:
            await bridge.close()

    try:
        asyncio.run(run())
    except ConsoleError as err:
        print(f"backupwatch: {err}", file=sys.stderr)
        return 2
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
        print(f"backupwatch: cannot read {args.file}: {err.strerror or err}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as err:
        print(f"backupwatch: {args.file} is not UTF-8 text: {err.reason}", file=sys.stderr)
        return 2
    except CsvReportError as err:
        print(f"backupwatch: {args.file}: {err}", file=sys.stderr)
        return 2
    for error in errors:
        print(f"line {error.line}: {error.reason}", file=sys.stderr)
    summary = asyncio.run(import_devices(settings, devices))
    print(summary.describe())
    if errors:
        print(
            f"backupwatch: {len(errors)} row(s) could not be read (above); the others were sent",
            file=sys.stderr,
        )
        return 1
    return 0
