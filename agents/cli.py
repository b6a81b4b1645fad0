"""The `backupwatch` command line.

    backupwatch worker            run a worker (Faust) with its web server
    backupwatch serve             the API and dashboard, apart from the workers
    backupwatch topics create     create the project's topics
    backupwatch topics describe   the topics and ACLs the project needs, for an admin
    backupwatch simulate          a simulated fleet, in simulated time
    backupwatch alerts            follow the alerts topic
    backupwatch produce TOPIC     JSON lines from a file or stdin, validated first
    backupwatch notify            deliver alerts by email and webhook
    backupwatch ingest            the HTTP endpoint endpoints post telemetry to
    backupwatch report TOOL       send a restic or Borg backup's report, or a heartbeat
    backupwatch watch TOOL        poll a restic or Borg repository for all its hosts
    backupwatch check-config      validate the settings and reach Kafka
    backupwatch --version         the installed version
    backupwatch user ID ACTION    put a user on leave, end it, deactivate, reactivate
    backupwatch bridge crashplan  watch a CrashPlan console's fleet through its API
    backupwatch import crashplan-csv FILE   a console's Device Backup Report export

Settings come from `BACKUPWATCH_*` variables (docs/settings.md); flags override some.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from agents import __version__, logs
from agents.commands import given, refuse, stop_on_signals
from agents.errors import ConfigError, KafkaUnreachable, TopicLayoutError
from agents.reporters.commands import add_commands
from agents.settings import Settings, prepare_data_dir

__all__ = ["main"]

log = logging.getLogger("backupwatch")


def _settings(args: argparse.Namespace) -> Settings:
    overrides = given(
        args, ("bootstrap_servers", "topic_prefix", "partitions", "web_port", "store")
    )
    if getattr(args, "no_ticker", False):
        overrides["tick_interval"] = timedelta(0)
    # The role names the process in the brokers' logs (the Kafka client id).
    return Settings.from_env(role=args.command, **overrides)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_number(most: float) -> Callable[[str], float]:
    """A parser of finite numbers above 0 and at most `most`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (math.isfinite(value) and 0 < value <= most):
            limit = "" if math.isinf(most) else f" and at most {most:g}"
            raise argparse.ArgumentTypeError(f"must be a number above 0{limit}, got {text}")
        return value

    return parse


def _moment(text: str) -> datetime:
    """An ISO 8601 time; one without an offset is local time, as `date` shows it."""
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: past year 1 or 9999 in UTC
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time such as 2026-10-01T00:00:00Z: {text!r}"
        ) from None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap-servers", help="Kafka host:port (BACKUPWATCH_BOOTSTRAP_SERVERS)"
    )
    parser.add_argument("--topic-prefix", help="topic name prefix (BACKUPWATCH_TOPIC_PREFIX)")
    parser.add_argument("--partitions", type=int, help="input partitions (BACKUPWATCH_PARTITIONS)")


def cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings.check_read_access()
    prepare_data_dir(settings.data_dir)
    from agents.kafka.topics import ensure_topics

    # Faust's own topics too, here rather than by Faust: a user that may not create
    # them is told so in one line.
    created = asyncio.run(ensure_topics(settings, internal=True))
    if created:
        logs.say(f"created topics: {', '.join(created)}")
    logs.say(f"backupwatch worker {__version__}\n{settings.describe()}")
    from faust.worker import Worker

    from agents.worker.app import create_app
    from agents.worker.web import attach_views

    worker_app = create_app(settings)
    worker_app.report_reader = attach_views(worker_app)
    # Faust sets up logging itself when it starts: in JSON, with our formatter.
    config = (
        logs.logging_config(settings.log_level, "json") if settings.log_format == "json" else None
    )
    worker = Worker(worker_app.app, loglevel=settings.log_level, quiet=True, logging_config=config)
    worker.execute_from_commandline()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings.check_read_access()
    logs.configure(settings.log_level, settings.log_format)
    logs.say(f"backupwatch serve {__version__}\n{settings.describe()}")
    from agents.report.serve import run

    async def serve() -> None:
        await run(settings, stop_on_signals())

    asyncio.run(serve())
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from agents.check import check_config

    for line in asyncio.run(check_config(settings)):
        print(line)
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from agents.kafka.topics import ensure_topics
    from agents.notify.settings import NotifySettings
    from agents.notify.topics import ensure_notify_topics

    # Faust's own topics and the notifier's too: an admin may create everything with
    # this command and leave the processes a user that may not
    # (BACKUPWATCH_CREATE_TOPICS=false).
    created = asyncio.run(ensure_topics(settings, internal=True))
    # Not the notifier's own settings: its email or webhook settings are not this
    # command's to check.
    notify = NotifySettings(
        bootstrap_servers=settings.bootstrap_servers,
        topic_prefix=settings.topic_prefix,
        replication_factor=settings.replication_factor,
        kafka=settings.kafka,
    )
    if settings.create_topics:
        created += asyncio.run(ensure_notify_topics(notify))
    print(f"created: {', '.join(created)}" if created else "all topics exist")
    return 0


def cmd_topics_describe(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from agents.kafka.topics import acl_specs, describe_needs, internal_topic_specs, topic_specs
    from agents.notify.settings import NotifySettings, variable
    from agents.notify.topics import notify_topic_specs

    notify = NotifySettings(
        topic_prefix=settings.topic_prefix,
        group=os.environ.get(variable("group"), "").strip() or NotifySettings().group,
    )
    specs = [*topic_specs(settings), *internal_topic_specs(settings), *notify_topic_specs(notify)]
    print(describe_needs(settings, specs, acl_specs(settings, notify.group)))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from agents.kafka.topics import ensure_topics
    from agents.simulator.fleet import Fleet
    from agents.simulator.producer import FUTURE_LIMIT, simulate
    from schemas.types import EARLIEST

    now = datetime.now(UTC).replace(microsecond=0)
    span = timedelta(days=args.days)
    start: datetime = args.start or now - span
    # Both refused before anything is written: the records carry no time before
    # EARLIEST, and Kafka refuses record times more than an hour ahead of its clock.
    if start < EARLIEST:
        return refuse(
            f"the simulation would start at {start:%Y-%m-%d %H:%M} UTC, before "
            f"{EARLIEST:%Y-%m-%d}, the earliest time a record may carry: give a later "
            "--start or fewer --days"
        )
    if start > now + FUTURE_LIMIT - span:
        return refuse(
            f"the simulation from {start:%Y-%m-%d %H:%M} UTC for {args.days:g} "
            "day(s) would end in the future: Kafka refuses record times more than an hour "
            "ahead of its clock; give an earlier --start or fewer --days"
        )
    asyncio.run(ensure_topics(settings))
    fleet = Fleet(devices=args.devices, seed=args.seed, start=start)
    width = 40

    def progress(done: float, total: float, counts: dict[str, int]) -> None:
        if logs.is_json():
            return  # a bar redrawn in place is for a terminal, not a log
        share = 0.0 if total <= 0 else min(1.0, done / total)
        bar = "#" * int(share * width)
        events = sum(counts.values())
        print(
            f"\r[{bar:<{width}}] {share * 100:5.1f}%  day {done / 86400:5.1f}/{total / 86400:.1f}"
            f"  {events:,} events",
            end="",
            file=sys.stderr,
            flush=True,
        )

    summary = asyncio.run(
        simulate(
            settings,
            fleet,
            start=start,
            days=args.days,
            tick_every=timedelta(minutes=args.tick_minutes),
            speed=args.speed,
            progress=progress,
        )
    )
    if not logs.is_json():
        print(file=sys.stderr)
    print(summary.describe() if hasattr(summary, "describe") else summary)
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from agents.kafka.follow import follow_alerts

    return asyncio.run(
        follow_alerts(settings, as_json=args.json, from_beginning=args.from_beginning)
    )


def cmd_produce(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from agents.kafka.follow import produce_lines

    source: BinaryIO = sys.stdin.buffer
    if args.file not in (None, "-"):
        try:
            source = Path(args.file).open("rb")  # noqa: SIM115
        except OSError as err:
            return refuse(f"cannot read {args.file}: {err.strerror or err}")
    try:
        return asyncio.run(produce_lines(settings, args.topic, source))
    finally:
        if source is not sys.stdin.buffer:
            source.close()


def cmd_notify(args: argparse.Namespace) -> int:
    from agents.notify.settings import NotifySettings

    overrides = given(args, ("bootstrap_servers", "topic_prefix"))
    settings = NotifySettings.from_env(**overrides)
    logs.configure(settings.log_level, settings.log_format)
    logs.say(f"backupwatch notify {__version__}\n{settings.describe()}")
    from agents.notify.runner import Notifier

    async def run() -> None:
        await Notifier(settings).run(stop_on_signals())

    asyncio.run(run())
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from agents.ingest.settings import IngestSettings

    overrides = given(args, ("bootstrap_servers", "topic_prefix", "web_port"))
    settings = IngestSettings.from_env(**overrides)
    logs.configure(settings.log_level, settings.log_format)
    logs.say(f"backupwatch ingest {__version__}\n{settings.describe()}")
    from agents.ingest.server import run

    async def serve() -> None:
        await run(settings, stop_on_signals())

    asyncio.run(serve())
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from agents.books.users import edit_user
    from streams.errors import UserFactsConflict

    if args.action == "leave" and args.until is None:
        print("backupwatch: a leave needs --until (when the user is back)", file=sys.stderr)
        return 2
    if len(args.reason) > 1024:
        print("backupwatch: --reason is longer than 1024 characters", file=sys.stderr)
        return 2
    at = args.at or datetime.now(UTC)
    if args.until is not None and args.until <= at:
        print(
            f"backupwatch: --until {args.until.isoformat()} is not after {at.isoformat()}",
            file=sys.stderr,
        )
        return 2
    try:
        record = asyncio.run(
            edit_user(
                settings, args.user_id, args.action, at=at, until=args.until, reason=args.reason
            )
        )
    except UserFactsConflict as err:
        print(f"backupwatch: {err}", file=sys.stderr)
        return 2
    print(
        f"user {record.user_id}: {args.action} from {at.isoformat()} "
        f"({len(record.periods)} period(s) on record)"
    )
    return 0


def cmd_bridge_crashplan(args: argparse.Namespace) -> int:
    from agents.bridge.crashplan.cli import run_bridge

    return run_bridge(args)


def cmd_import_crashplan_csv(args: argparse.Namespace) -> int:
    from agents.bridge.crashplan.cli import import_csv

    return import_csv(args)


def _add_crashplan(sub: Any) -> None:
    """`bridge crashplan` and `import crashplan-csv` (agents/bridge/crashplan/cli.py)."""
    bridge = sub.add_parser("bridge", help="feed backupwatch from a backup service's console")
    bridge_sub = bridge.add_subparsers(dest="service", required=True)
    crashplan = bridge_sub.add_parser(
        "crashplan", help="poll a CrashPlan console (settings: BACKUPWATCH_CRASHPLAN_*)"
    )
    _common(crashplan)
    crashplan.add_argument("--once", action="store_true", help="poll once, then exit")
    crashplan.set_defaults(func=cmd_bridge_crashplan)
    importer = sub.add_parser("import", help="send a console's report export through a bridge")
    import_sub = importer.add_subparsers(dest="format", required=True)
    csv_report = import_sub.add_parser(
        "crashplan-csv", help="a CrashPlan Device Backup Report, exported as CSV"
    )
    _common(csv_report)
    csv_report.add_argument("file", help="the CSV file")
    csv_report.set_defaults(func=cmd_import_crashplan_csv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backupwatch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"backupwatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    worker = sub.add_parser("worker", help="run a worker")
    _common(worker)
    worker.add_argument("--web-port", type=int, help="web server port (BACKUPWATCH_WEB_PORT)")
    worker.add_argument("--store", help="memory:// or rocksdb:// (BACKUPWATCH_STORE)")
    worker.add_argument(
        "--no-ticker",
        action="store_true",
        help="append no wall-clock ticks (a simulator supplies simulated time)",
    )
    worker.set_defaults(func=cmd_worker)

    serve = sub.add_parser(
        "serve",
        help="the API and dashboard for the whole fleet, apart from the workers "
        "(with BACKUPWATCH_REPORT_READER=none on them)",
    )
    _common(serve)
    serve.add_argument("--web-port", type=int, help="port (BACKUPWATCH_WEB_PORT)")
    serve.set_defaults(func=cmd_serve)

    topics = sub.add_parser("topics", help="manage the project's topics")
    topics_sub = topics.add_subparsers(dest="action", required=True)
    create = topics_sub.add_parser("create", help="create missing topics")
    _common(create)
    create.set_defaults(func=cmd_topics)
    describe = topics_sub.add_parser(
        "describe", help="print the topics and ACLs the project needs; connects to nothing"
    )
    _common(describe)
    describe.set_defaults(func=cmd_topics_describe)

    check = sub.add_parser(
        "check-config", help="validate the settings and reach Kafka (exit 0, or 2 and why)"
    )
    _common(check)
    check.set_defaults(func=cmd_check_config)

    sim = sub.add_parser("simulate", help="produce a simulated fleet in simulated time")
    _common(sim)
    sim.add_argument("--devices", type=_positive_int, default=200)
    sim.add_argument(
        "--days",
        type=_positive_number(most=3650),
        default=30.0,
        help="simulated days, at most 3650, ending in the past (default: 30)",
    )
    sim.add_argument("--seed", type=int, default=42)
    sim.add_argument(
        "--start",
        type=_moment,
        help="simulated start, ISO 8601 such as 2026-10-01T00:00:00Z (default: DAYS ago)",
    )
    sim.add_argument(
        "--tick-minutes",
        type=_positive_number(most=1440),
        default=5.0,
        help="simulated minutes per tick (at most the workers' max skew, 5 min by default)",
    )
    sim.add_argument(
        "--speed",
        type=_positive_number(most=math.inf),
        default=None,
        help="simulated seconds per wall second (default: as fast as possible)",
    )
    sim.set_defaults(func=cmd_simulate)

    alerts = sub.add_parser("alerts", help="follow the alerts topic")
    _common(alerts)
    alerts.add_argument("--json", action="store_true", help="one JSON document per line")
    alerts.add_argument("--from-beginning", action="store_true")
    alerts.set_defaults(func=cmd_alerts)

    produce = sub.add_parser("produce", help="produce JSON lines to an input topic")
    _common(produce)
    produce.add_argument(
        "topic", help="heartbeats, backup-progress, device-commands or org-policies"
    )
    produce.add_argument("file", nargs="?", help="file of JSON lines (default: stdin)")
    produce.set_defaults(func=cmd_produce)

    notify = sub.add_parser(
        "notify", help="deliver alerts by email and webhook (settings: BACKUPWATCH_NOTIFY_*)"
    )
    notify.add_argument(
        "--bootstrap-servers", help="Kafka host:port (BACKUPWATCH_BOOTSTRAP_SERVERS)"
    )
    notify.add_argument("--topic-prefix", help="topic name prefix (BACKUPWATCH_TOPIC_PREFIX)")
    notify.set_defaults(func=cmd_notify)

    ingest = sub.add_parser(
        "ingest", help="the HTTP ingest endpoint (settings: BACKUPWATCH_INGEST_*)"
    )
    ingest.add_argument(
        "--bootstrap-servers", help="Kafka host:port (BACKUPWATCH_BOOTSTRAP_SERVERS)"
    )
    ingest.add_argument("--topic-prefix", help="topic name prefix (BACKUPWATCH_TOPIC_PREFIX)")
    ingest.add_argument("--web-port", type=int, help="port (BACKUPWATCH_INGEST_WEB_PORT)")
    ingest.set_defaults(func=cmd_ingest)
    add_commands(sub)
    user = sub.add_parser(
        "user",
        help="record a fact about a user for all their devices (published to user-facts)",
    )
    _common(user)
    user.add_argument("user_id", help="the user")
    user.add_argument(
        "action",
        choices=("leave", "end-leave", "deactivate", "reactivate"),
        help="leave (needs --until), end-leave, deactivate (left the organization), reactivate",
    )
    user.add_argument("--until", type=_moment, help="leave: when the user is back (ISO 8601)")
    user.add_argument("--reason", default="", help="why (shown with the devices)")
    user.add_argument(
        "--at",
        type=_moment,
        help="the stream time it holds from (default: now; give it for a simulated fleet)",
    )
    user.set_defaults(func=cmd_user)

    _add_crashplan(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Before the settings are read, so that a refusal of them is logged as asked too.
    log_format = os.environ.get("BACKUPWATCH_LOG_FORMAT", "").strip().lower()
    logs.configure("info", "json" if log_format == "json" else "text")
    try:
        return int(args.func(args))
    except (ConfigError, TopicLayoutError, KafkaUnreachable) as err:
        return refuse(str(err))
    except Exception as err:
        # A right the Kafka user lacks shows up on first use (a send, a fetch, a
        # commit), not at connection time.
        refused = _kafka_refusal(err)
        if refused is None:
            raise
        return refuse(str(refused))
    except KeyboardInterrupt:
        return 130


def _kafka_refusal(err: Exception) -> Exception | None:
    from aiokafka.errors import KafkaError

    from agents.kafka.connection import KafkaConnection

    if not isinstance(err, KafkaError):
        return None
    try:
        return KafkaConnection.from_env(role="cli").refusal(err)
    except ConfigError:
        return None


if __name__ == "__main__":
    sys.exit(main())
