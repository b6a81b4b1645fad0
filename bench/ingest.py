"""The ingest endpoint: records/s and the time to a 202, for single records and for
batches of 500, against the same records produced straight to Kafka.

    python -m bench.ingest [--records N] [--batch 500] [--batch-records N] [--clients 8]
                           [--runs 3]

One invocation starts a local broker (or uses `KAFKA_BOOTSTRAP_SERVERS`), creates the
topics, starts a worker (`backupwatch worker`, memory store, its ticker on) reading
them and `backupwatch ingest` in a process of its own, then alternates, run by run:

* **direct** (baseline): this process holds a Kafka producer built as the endpoint
  builds it (`agents.ingest.producer`, acks=all, idempotent) and appends the records,
  each request's records awaited until acknowledged — what a client with Kafka
  credentials could do;
* **ingest**: the same records POSTed to `/api/ingest` over loopback (aiohttp, keep-
  alive), one `application/json` record or one `application/x-ndjson` batch a request,
  each answered 202 once the broker acknowledged it.

Both run `--clients` requests at a time and time each request from its start to its
answer (p50, p99), and the whole from the first request to the last answer
(records/s). Figures are medians over `--runs` runs. The worker reads every record
meanwhile, on the same two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import aiohttp

from agents.ingest.producer import publish, start_producer
from agents.ingest.settings import IngestSettings
from agents.kafka.topics import ensure_topics
from agents.process import WorkerProcess
from agents.settings import Settings
from bench.harness import Broker, free_port, log
from bench.workload import fleet_records
from schemas.codec import decode
from schemas.models import TelemetryRecord

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-ingest-token-" + "b" * 20  # noqa: S105 - the benchmark's own endpoint

Request = Callable[[int], Awaitable[None]]
T = TypeVar("T")


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def timed(requests: int, clients: int, request: Request) -> tuple[float, list[float]]:
    """(wall seconds, each request's seconds) of `requests` requests, `clients` at a time."""
    latencies: list[float] = []
    queue = iter(range(requests))

    async def client() -> None:
        for n in queue:
            started = time.perf_counter()
            await request(n)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started, latencies


def chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def run_direct(
    producer: object, prefix: str, groups: list[list[TelemetryRecord]], clients: int
) -> tuple[float, list[float]]:
    async def request(n: int) -> None:
        await publish(producer, prefix, groups[n])

    return await timed(len(groups), clients, request)


async def run_ingest(
    session: aiohttp.ClientSession, url: str, bodies: list[tuple[bytes, str]], clients: int
) -> tuple[float, list[float]]:
    async def request(n: int) -> None:
        body, content_type = bodies[n]
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type}
        async with session.post(url, data=body, headers=headers) as response:
            if response.status != 202:
                raise RuntimeError(f"{response.status}: {await response.text()}")
            await response.read()

    return await timed(len(bodies), clients, request)


def start_ingest(settings: IngestSettings, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as out:
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "agents.cli", "ingest"],
            cwd=REPO,
            env={**os.environ, **settings.as_env()},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_healthy(session: aiohttp.ClientSession, base: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{base}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the ingest endpoint did not answer within 120 s")


async def main_async(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    broker = Broker.start(tmp)
    worker: WorkerProcess | None = None
    ingest: subprocess.Popen[bytes] | None = None
    try:
        settings = Settings(
            bootstrap_servers=broker.bootstrap,
            topic_prefix=f"bench-ingest-{os.getpid()}.",
            app_id=f"bench-ingest-{os.getpid()}",
            partitions=8,
            store="memory://",
            data_dir=tmp / "worker",
            web_port=free_port(),
            tick_interval=timedelta(seconds=30),
        )
        await ensure_topics(settings)
        worker = WorkerProcess(settings, tmp / "worker.log")
        worker.start()
        await asyncio.to_thread(worker.wait_ready, 180)
        log("worker ready")
        ingest_settings = IngestSettings(
            bootstrap_servers=broker.bootstrap,
            topic_prefix=settings.topic_prefix,
            web_port=free_port(),
            tokens=TOKEN,
            rate=100_000,
            burst=100_000,
            max_records=max(args.batch, 1),
        )
        ingest = start_ingest(ingest_settings, tmp / "ingest.log")
        base = f"http://127.0.0.1:{ingest_settings.web_port}"
        singles = [value for _, value in fleet_records(args.records, args.devices)]
        batched = [value for _, value in fleet_records(args.batch_records, args.devices, seed=8)]
        # The workload holds heartbeats and progress reports only.
        modes: dict[str, tuple[list[list[TelemetryRecord]], list[tuple[bytes, str]]]] = {
            "single": (
                [[decode(v)] for v in singles],  # type: ignore[list-item]
                [(v, "application/json") for v in singles],
            ),
            f"batch of {args.batch}": (
                chunks([decode(v) for v in batched], args.batch),  # type: ignore[misc]
                [
                    (b"\n".join(group) + b"\n", "application/x-ndjson")
                    for group in chunks(batched, args.batch)
                ],
            ),
        }
        counts = {"single": len(singles), f"batch of {args.batch}": len(batched)}
        results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        producer = await start_producer(broker.bootstrap)
        connector = aiohttp.TCPConnector(limit=args.clients)
        async with aiohttp.ClientSession(connector=connector) as session:
            await wait_healthy(session, base)
            log("ingest endpoint ready")
            try:
                for run in range(1, args.runs + 1):
                    for mode, (groups, bodies) in modes.items():
                        for runner in ("direct", "ingest"):
                            if runner == "direct":
                                took, latencies = await run_direct(
                                    producer, settings.topic_prefix, groups, args.clients
                                )
                            else:
                                took, latencies = await run_ingest(
                                    session, f"{base}/api/ingest", bodies, args.clients
                                )
                            rate = counts[mode] / took
                            p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
                            results.setdefault((mode, runner), []).append((rate, p50, p99))
                            log(
                                f"run {run} {mode:<13} {runner:<6} {rate:9,.0f} records/s  "
                                f"p50 {p50 * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms"
                            )
            finally:
                await producer.stop()
        print(
            f"\n{len(singles):,} single records and {len(batched):,} in batches, over "
            f"{args.devices:,} devices, {args.clients} clients, "
            f"median of {args.runs} runs; {platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}"
        )
        print(f"  {'requests':<14} {'runner':<7} {'records/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
        for (mode, runner), rows in results.items():
            rate = statistics.median(r[0] for r in rows)
            p50 = statistics.median(r[1] for r in rows)
            p99 = statistics.median(r[2] for r in rows)
            print(f"  {mode:<14} {runner:<7} {rate:10,.0f} {p50 * 1000:8.1f} {p99 * 1000:8.1f}")
        for mode in modes:
            direct = statistics.median(r[0] for r in results[(mode, "direct")])
            through = statistics.median(r[0] for r in results[(mode, "ingest")])
            print(f"  {mode}: ingest at {through / direct:.2f}× the direct rate")
    finally:
        if ingest is not None:
            ingest.terminate()
            ingest.wait(timeout=60)
        if worker is not None:
            worker.stop()
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--batch-records", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
