"""`backupwatch report …` and `backupwatch watch …`: thin wiring of the pure readers.

Each command reads the tool's output (standard input, or a command it runs after
`--`), turns it into records with `now` read once here, and sends them; bad input is
one line `backupwatch: …` and exit 2, and then nothing is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from agents.commands import stop_on_signals
from agents.environment import parse_duration
from agents.reporters import borg, restic
from agents.reporters.errors import ReportError
from agents.reporters.records import (
    DEFAULT_INTERVAL,
    Identity,
    backup_records,
    destination_name,
    fleet_records,
    heartbeat,
    snapshot_interval,
    snapshot_records,
)
from agents.reporters.send import HttpSender, KafkaSender, Sender
from agents.reporters.settings import ReportSettings
from schemas.codec import decode_as, encode
from schemas.errors import InvalidRecord
from schemas.models import TelemetryRecord

__all__ = ["add_commands"]

log = logging.getLogger(__name__)


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None


def _duration(text: str) -> timedelta:
    duration = parse_duration(text)
    if duration is None or not timedelta(0) < duration <= timedelta(days=31):
        raise argparse.ArgumentTypeError(f"not a duration such as 15m, 6h or 1d: {text!r}")
    return duration


def _sender(args: argparse.Namespace) -> Sender:
    settings = ReportSettings.from_env(url=args.url, token_file=args.token_file, org=args.org)
    if settings.url:
        return HttpSender(settings.url, settings.bearer())
    from agents.settings import Settings

    kafka = Settings.from_env()
    return KafkaSender(kafka.bootstrap_servers, kafka.topic_prefix)


def _org(args: argparse.Namespace) -> str:
    return ReportSettings.from_env(url=args.url, token_file=args.token_file, org=args.org).org


def _identity(args: argparse.Namespace) -> Identity:
    device = args.device or socket.gethostname()
    return Identity(
        device_id=device,
        user_id=args.user or device,
        org_id=_org(args),
        hostname=device,
        os=platform.system().lower(),
    )


def _read_input(args: argparse.Namespace) -> tuple[list[bytes], list[bytes], int | None]:
    """(standard output, standard error, exit code) of the tool: from the command after
    `--`, run here with its standard error passed on, or from standard input."""
    command = [part for part in args.tool_command if part != "--"]
    if not command:
        if sys.stdin.isatty():
            raise ReportError(
                f"no input: pipe in the {args.tool} output, or give the command after --"
            )
        return sys.stdin.buffer.read().splitlines(), [], args.exit_code
    try:
        done = subprocess.run(command, capture_output=True, check=False)  # noqa: S603
    except OSError as err:
        raise ReportError(f"cannot run {command[0]}: {err.strerror or err}") from None
    sys.stderr.buffer.write(done.stderr)
    sys.stderr.flush()
    # 0, or the tool's "made a backup, but some files could not be read".
    finished = (0, restic.UNREADABLE_EXIT if args.tool == "restic" else borg.WARNING_EXIT)
    if done.returncode not in finished:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
        raise ReportError(f"{command[0]} failed (exit {done.returncode}): {lines[-1]}")
    return done.stdout.splitlines(), done.stderr.splitlines(), done.returncode


def _checked(records: Sequence[TelemetryRecord]) -> list[TelemetryRecord]:
    """The records as the worker will read them: constructing a record checks no
    constraint (a host name longer than an id may be), decoding it does."""
    checked: list[TelemetryRecord] = []
    for record in records:
        try:
            checked.append(decode_as(encode(record), TelemetryRecord))  # type: ignore[arg-type]
        except InvalidRecord as err:
            raise ReportError(f"the report would be refused: {err.message}") from None
    return checked


def _send(args: argparse.Namespace, records: Sequence[TelemetryRecord]) -> int:
    records = _checked(records)
    sender = _sender(args)
    asyncio.run(sender.send(records))
    print(f"sent {len(records)} record(s)", file=sys.stderr)
    return 0


def _restic_records(args: argparse.Namespace, now: datetime) -> list[TelemetryRecord]:
    out, err, code = _read_input(args)
    identity = _identity(args)
    repository = args.destination or args.repo or os.environ.get("RESTIC_REPOSITORY", "")
    if not repository:
        raise ReportError("name the repository: --repo, --destination or RESTIC_REPOSITORY")
    destination = destination_name(repository)
    first = next((line.strip() for line in out if line.strip()), b"")
    if first.startswith(b"["):
        snapshots = restic.parse_snapshots(b"\n".join(out))
        mine = [s for s in snapshots if s.hostname == identity.device_id]
        if not mine:
            hosts = ", ".join(sorted({s.hostname for s in snapshots})) or "none"
            raise ReportError(
                f"no snapshot of host {identity.device_id!r} in the list (hosts: {hosts}); "
                "name the host with --device"
            )
        interval = args.interval or snapshot_interval([s.time for s in mine])
        return [
            *snapshot_records(identity, destination, mine[-1], interval),
            heartbeat(identity, now),
        ]
    run = restic.parse_backup([*out, *err], exit_code=code)
    return list(backup_records(identity, destination, run, now, args.interval or DEFAULT_INTERVAL))


def _borg_records(args: argparse.Namespace, now: datetime) -> list[TelemetryRecord]:
    out, err, code = _read_input(args)
    run = borg.parse_create(out, err, exit_code=code)
    repository = args.destination or args.repo or run.repository or os.environ.get("BORG_REPO", "")
    if not repository:
        raise ReportError("name the repository: --repo, --destination or BORG_REPO")
    identity = _identity(args)
    interval = args.interval or DEFAULT_INTERVAL
    return list(backup_records(identity, destination_name(repository), run, now, interval))


def cmd_report(args: argparse.Namespace) -> int:
    now = args.at or datetime.now(UTC)
    try:
        if args.tool == "heartbeat":
            records: list[TelemetryRecord] = [heartbeat(_identity(args), now, args.reachable)]
        elif args.tool == "restic":
            records = _restic_records(args, now)
        else:
            records = _borg_records(args, now)
        return _send(args, records)
    except ReportError as err:
        print(f"backupwatch: {err}", file=sys.stderr)
        return 2


def _list_repository(tool: str, repo: str, destination: str, org: str) -> list[TelemetryRecord]:
    """The records of every host's newest snapshot in `repo`, as the tool lists them."""
    if tool == "restic":
        command = ["restic", "snapshots", "--json", "--repo", repo]
    else:
        command = ["borg", "list", "--json", "--format", "{hostname}{username}{end}", repo]
    try:
        done = subprocess.run(command, capture_output=True, check=False)  # noqa: S603
    except OSError as err:
        raise ReportError(f"cannot run {tool}: {err.strerror or err}") from None
    if done.returncode != 0:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        raise ReportError(f"{tool} could not list {destination_name(repo)}: {last}")
    if tool == "restic":
        snapshots = restic.parse_snapshots(done.stdout)
    else:
        _, snapshots = borg.parse_archives(done.stdout)
    return fleet_records(snapshots, destination, org)


def cmd_watch(args: argparse.Namespace) -> int:
    org = _org(args)
    sender = _sender(args)
    repo = args.repo or os.environ.get(
        "RESTIC_REPOSITORY" if args.tool == "restic" else "BORG_REPO", ""
    )
    if not repo:
        print("backupwatch: name the repository with --repo", file=sys.stderr)
        return 2
    destination = destination_name(args.destination or repo)

    def poll() -> list[TelemetryRecord]:
        return _list_repository(args.tool, repo, destination, org)

    async def run() -> int:
        stop = stop_on_signals()
        while True:
            try:
                records = _checked(await asyncio.to_thread(poll))
                await sender.send(records)
                log.info("%s: %d host(s) reported", destination, len(records) // 2)
            except ReportError as err:
                if args.once:
                    print(f"backupwatch: {err}", file=sys.stderr)
                    return 2
                # A repository out of reach for a while is what the alerts are for: the
                # watcher itself keeps going.
                log.warning("%s", err)
            if args.once:
                return 0
            try:
                await asyncio.wait_for(stop.wait(), args.every.total_seconds())
                return 0
            except TimeoutError:
                continue

    return asyncio.run(run())


def _sending_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="ingest endpoint URL (BACKUPWATCH_REPORT_URL); none: Kafka")
    parser.add_argument(
        "--token-file", help="file holding the ingest token (BACKUPWATCH_REPORT_TOKEN_FILE)"
    )
    parser.add_argument("--org", help="the org of the device(s) (BACKUPWATCH_REPORT_ORG)")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `report` and `watch` to the `backupwatch` command line."""
    report = sub.add_parser("report", help="send a backup tool's report or a heartbeat")
    tools = report.add_subparsers(dest="tool", required=True)
    for tool, source in (
        ("restic", "`restic backup --json` (or `restic snapshots --json`)"),
        ("borg", "`borg create --json` (or `borg info --json REPO::ARCHIVE`)"),
        ("heartbeat", None),
    ):
        helptext = f"from the output of {source}" if source else "this machine is on"
        parser = tools.add_parser(tool, help=helptext, description=helptext)
        _sending_options(parser)
        parser.add_argument("--device", help="device id (default: this machine's host name)")
        parser.add_argument("--user", help="user id (default: the device id)")
        parser.add_argument(
            "--at", type=_moment, help="the time the report stands for (default: now)"
        )
        if source is None:
            parser.add_argument(
                "--reachable",
                action="append",
                default=[],
                metavar="DESTINATION",
                help="a repository the machine can reach now (repeatable)",
            )
        else:
            parser.add_argument("--repo", help="the repository (a URL's credentials left out)")
            parser.add_argument(
                "--destination", help="the destination id (default: the repository)"
            )
            parser.add_argument(
                "--interval",
                type=_duration,
                help="how often the backup runs (default: 1d, or the snapshots' usual gap)",
            )
            parser.add_argument(
                "--exit-code",
                type=int,
                help="the tool's exit code, when its output comes on standard input",
            )
            parser.add_argument(
                "tool_command",
                nargs=argparse.REMAINDER,
                help=f"-- {tool} … : run the tool and read its output (default: standard input)",
            )
        parser.set_defaults(func=cmd_report)

    watch = sub.add_parser("watch", help="poll a repository's snapshots for every host in it")
    tools = watch.add_subparsers(dest="tool", required=True)
    for tool in ("restic", "borg"):
        parser = tools.add_parser(tool, help=f"poll a {tool} repository")
        _sending_options(parser)
        parser.add_argument("--repo", help="the repository (or RESTIC_REPOSITORY / BORG_REPO)")
        parser.add_argument("--destination", help="the destination id (default: the repository)")
        parser.add_argument(
            "--every", type=_duration, default=timedelta(minutes=15), help="poll interval"
        )
        parser.add_argument("--once", action="store_true", help="poll once and exit")
        parser.set_defaults(func=cmd_watch)
