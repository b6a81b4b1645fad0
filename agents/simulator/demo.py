"""`make run`: a local Kafka, a worker, a simulated fleet, and alerts as they happen.

    python -m agents.simulator.demo [--devices N] [--days D] [--seconds S]

Starts the project's local Kafka (unless KAFKA_BOOTSTRAP_SERVERS names one), creates a
fresh set of topics for this run, starts a worker with its web server, replays D
simulated days of an N-device fleet in about S seconds, and prints every alert as the
worker emits it. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agents.kafka.follow import describe_alert
from agents.kafka.topics import ALERTS, ensure_topics
from agents.process import WorkerProcess
from agents.settings import Settings
from schemas.codec import decode_as
from schemas.errors import InvalidRecord
from schemas.models import Alert

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
KAFKA = REPO / "deploy" / "kafka" / "kafka.sh"


def _say(text: str) -> None:
    print(f"\033[1m==> {text}\033[0m", flush=True)


def start_kafka() -> tuple[str, bool]:
    """(bootstrap, started_here)."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        _say(f"using the Kafka at {external}")
        return external, False
    _say("starting the local Kafka (first run downloads its jars from Maven Central)")
    out = subprocess.run(  # noqa: S603
        [str(KAFKA), "start"], check=True, stdout=subprocess.PIPE, text=True
    )
    return out.stdout.strip().splitlines()[-1], True


async def print_alerts(settings: Settings, counts: dict[str, int]) -> None:
    consumer = settings.kafka.consumer(
        settings.topic(ALERTS),
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        async for record in consumer:
            try:
                alert = decode_as(record.value or b"", Alert)
            except InvalidRecord:
                continue
            counts[alert.to_state] = counts.get(alert.to_state, 0) + 1
            print(describe_alert(alert), flush=True)
    finally:
        await consumer.stop()


async def run(args: argparse.Namespace, settings: Settings) -> None:
    from agents.simulator.fleet import Fleet
    from agents.simulator.producer import simulate

    counts: dict[str, int] = {}
    follower = asyncio.create_task(print_alerts(settings, counts))
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    start = end - timedelta(days=args.days)
    fleet = Fleet(devices=args.devices, seed=args.seed, start=start)
    speed = args.days * 86400 / args.seconds
    _say(
        f"simulating {args.devices} devices over {args.days:g} days "
        f"({start:%Y-%m-%d} → {end:%Y-%m-%d}) in about {args.seconds:g} s"
    )
    summary = await simulate(
        settings,
        fleet,
        start=start,
        days=args.days,
        tick_every=timedelta(minutes=5),
        speed=speed,
        record_timestamps="wall",
    )
    await asyncio.sleep(3)
    _say(summary.describe())
    _say(
        "alerts: "
        + ", ".join(f"{n} to {state}" for state, n in sorted(counts.items()))
        + f" — dashboard http://{settings.web_host}:{settings.web_port}/"
    )
    _say("the worker keeps running; Ctrl-C stops everything")
    await follower


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=60.0, help="wall time of the replay")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--web-port", type=int, default=6066)
    args = parser.parse_args(argv)
    # A SIGTERM (a terminal closing, `timeout`) stops the demo as Ctrl-C does: the
    # worker and the broker it started must not outlive it.
    signal.signal(signal.SIGTERM, _interrupt)

    bootstrap, started_kafka = start_kafka()
    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    state_dir = REPO / "var" / f"demo-{run_id}"
    state_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        bootstrap_servers=bootstrap,
        topic_prefix=f"demo-{run_id}.",
        app_id=f"demo-{run_id}",
        web_port=args.web_port,
        data_dir=state_dir / "worker",
        tick_interval=timedelta(0),
    )
    asyncio.run(ensure_topics(settings))
    log_path = state_dir / "worker.log"
    _say(f"starting a worker (log: {log_path})")
    worker = WorkerProcess(settings, log_path)
    worker.start()
    try:
        try:
            worker.wait_ready(timeout=120)
        except (TimeoutError, RuntimeError) as err:
            raise SystemExit(f"{err}\n(full log: {log_path})") from None
        _say(
            f"worker ready — dashboard {worker.web}/ , API {worker.web}/api/devices , "
            f"metrics {worker.web}/metrics"
        )
        asyncio.run(run(args, settings))
    except KeyboardInterrupt:
        print(file=sys.stderr)
    finally:
        _say("stopping")
        worker.stop(timeout=30)
        if started_kafka:
            subprocess.run([str(KAFKA), "stop"], check=False)  # noqa: S603
    return 0


if __name__ == "__main__":
    sys.exit(main())
