"""What a rebalance costs a `memory://` worker: the assignment callback the group waits
for, and what a worker reads and indexes again of the partitions it keeps.

    python -m bench.rebalance [--devices 100000,300000] [--partitions 8] [--runs 3]
                              [--baseline REF]

One invocation starts a local broker (or uses `KAFKA_BOOTSTRAP_SERVERS`) and, for each
device count, writes that many device states straight to a worker's device-state
changelog (one real state, as the core encodes it, copied under each device id, on the
device's home partition). Each run then starts a worker (`memory://`, no report reader,
no ticker) on it, waits until it is ready, starts a second worker in the same group and
waits until both are ready with disjoint halves of the partitions; both are stopped.

Figures per run, from the workers' logs:

* the first worker's **assignment callback** at its start (all partitions: its whole
  changelog to read), and the second's when it joins (half of them) — the time the
  worker's `on_partitions_assigned` took (`agents.worker.intake`), during which this
  member answers no rebalance and one started meanwhile waits for it;
* **ready**: from starting the process until `/readyz` answers 200 (the first worker),
  and from starting the second until both are ready again;
* **kept indexes rebuilt**: how many deadline indexes the first worker built again after
  the join ("partition N: indexed" lines), of the partitions it kept.

`--baseline REF` also runs the worker of the git revision REF (its tree from `git
archive`, run from a temporary directory), alternating with this tree's run by run, so
both are measured in the same invocation on the same changelog. Medians of `--runs`.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import orjson
from aiokafka.partitioner import murmur2

from agents.kafka.topics import changelog_topic, ensure_topics
from agents.settings import Settings
from bench.core import machine
from bench.pipeline import Broker, free_port, log
from streams.pipeline import Envelope, PartitionProcessor
from streams.policy import Policy
from streams.state import decode_state, encode_state

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 20, tzinfo=UTC)
_ASSIGNMENT = re.compile(r"partition assignment \((\d+) partitions\) took ([0-9.]+) s")
_INDEXED = re.compile(r"partition \d+: indexed \d+ devices")


def template_state() -> bytes:
    """One device's state as the core builds it from a heartbeat after a tick."""
    states: dict[str, bytes] = {}
    processor = PartitionProcessor(
        1,
        load=lambda key, partition: states.get(key),
        items_of=lambda partition: (),
        partition_for=lambda key: 0,
        policy_for=lambda org_id: Policy(),
    )
    tick = str(int(T0.timestamp() * 1000)).encode()
    heartbeat = orjson.dumps(
        {
            "schema": "heartbeat/1",
            "device_id": "dev-0000000",
            "user_id": "user-0000000",
            "org_id": "org-00",
            "event_time": (T0 - timedelta(seconds=30)).isoformat(),
            "app_version": "11.4.2",
            "os": "windows",
            "hostname": "laptop-0",
            "service_state": "running",
            "reachable_destinations": ["cloud-eu"],
        }
    )
    batch = [Envelope(topic, 0, 0, None, tick, T0, tick=True) for topic in range(3)]
    batch.append(Envelope(0, 0, 1, b"dev-0000000", heartbeat, T0))
    result = processor.process(batch)
    return result.writes["dev-0000000"]


async def fill_changelog(settings: Settings, devices: int) -> float:
    """Write `devices` states to the worker's changelog, each on its home partition."""
    template = decode_state(template_state())
    topic = changelog_topic(settings)
    producer = settings.kafka.producer(acks="all", linger_ms=20, max_batch_size=1024 * 1024)
    await producer.start()
    started = time.perf_counter()
    pending: list[asyncio.Future[Any]] = []
    try:
        for d in range(devices):
            device_id = f"dev-{d:07d}"
            key = device_id.encode()
            value = encode_state(
                msgspec.structs.replace(template, device_id=device_id, user_id=f"user-{d // 2:07d}")
            )
            home = int(murmur2(key) & 0x7FFFFFFF) % settings.partitions
            pending.append(await producer.send(topic, value, key=key, partition=home))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


@dataclass
class Worker:
    """One `backupwatch worker` process, run from `tree` (this one or a baseline's)."""

    settings: Settings
    tree: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "agents.cli", "worker", "--no-ticker"],
                cwd=self.tree,
                env={**os.environ, **self.settings.as_env(), "PYTHONPATH": str(self.tree)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return time.monotonic()

    def ready(self) -> bool:
        url = f"http://127.0.0.1:{self.settings.web_port}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def held(self) -> set[int]:
        url = f"http://127.0.0.1:{self.settings.web_port}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                return {int(p) for p in orjson.loads(response.read())["clocks"]}
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return set()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def wait(what: str, check: Any, timeout: float, workers: list[Worker]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        for worker in workers:
            if worker.process is not None and worker.process.poll() is not None:
                raise RuntimeError(f"a worker exited; its log:\n{worker.log_text()[-4000:]}")
        if time.monotonic() > deadline:
            tails = "\n".join(w.log_text()[-2000:] for w in workers)
            raise RuntimeError(f"timed out waiting for {what}:\n{tails}")
        time.sleep(0.2)


@dataclass
class Run:
    first_callback: float  # the first worker's assignment callback at its start (s)
    first_ready: float
    join_callback: float  # the second worker's callback when it joins
    kept_callback: float  # the first worker's callback at the join (it keeps half)
    join_ready: float  # from starting the second until both are ready
    kept_rebuilt: int  # indexes the first built again after the join


def run_once(base: Settings, tree: Path, tmp: Path, label: str) -> Run:
    def worker(k: int) -> Worker:
        settings = Settings(
            **{
                **{f: getattr(base, f) for f in ("bootstrap_servers", "topic_prefix", "app_id")},
                "partitions": base.partitions,
                "kafka": base.kafka,
                "store": "memory://",
                "data_dir": tmp / f"{label}-{k}",
                "web_port": free_port(),
                "tick_interval": timedelta(0),
                "report_reader": "none",
            }
        )
        return Worker(settings, tree, tmp / f"{label}-worker-{k}.log")

    first, second = worker(1), worker(2)
    try:
        started = first.start()
        wait("the first worker to be ready", first.ready, 600, [first])
        first_ready = time.monotonic() - started
        before_join = len(first.log_text())
        started = second.start()

        def split() -> bool:
            a, b = first.held(), second.held()
            return (
                bool(a and b)
                and not (a & b)
                and (a | b) == set(range(base.partitions))
                and first.ready()
                and second.ready()
            )

        wait("both workers ready on disjoint halves", split, 600, [first, second])
        join_ready = time.monotonic() - started
        first_log, second_log = first.log_text(), second.log_text()
    finally:
        second.stop()
        first.stop()
    first_calls = [float(m.group(2)) for m in _ASSIGNMENT.finditer(first_log)]
    second_calls = [float(m.group(2)) for m in _ASSIGNMENT.finditer(second_log)]
    return Run(
        first_callback=first_calls[0],
        first_ready=first_ready,
        join_callback=second_calls[-1],
        kept_callback=first_calls[-1],
        join_ready=join_ready,
        kept_rebuilt=len(_INDEXED.findall(first_log[before_join:])),
    )


def baseline_tree(ref: str, tmp: Path) -> Path:
    """The tree of git revision `ref`, extracted (no checkout, no worktree)."""
    archive = subprocess.run(  # noqa: S603
        ["git", "archive", "--format=tar", ref],  # noqa: S607
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    tree = tmp / f"baseline-{ref[:12]}"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def median(values: list[float]) -> float:
    return statistics.median(values)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", default="100000", help="device counts, comma separated")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", help="a git revision to measure alongside")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.devices.split(",")]
    print(f"command: {shlex.join(['python', '-m', 'bench.rebalance', *argv])}")
    print(f"machine: {machine()}")
    # The fill's producer retries while the new topics elect their leaders: not news.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-rebalance-") as scratch:
        tmp = Path(scratch)
        broker = Broker.start(tmp)
        try:
            trees = [("this tree", REPO)]
            if args.baseline:
                trees.insert(0, (f"baseline {args.baseline}", baseline_tree(args.baseline, tmp)))
            for n in counts:
                base = Settings(
                    bootstrap_servers=broker.bootstrap,
                    topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.",
                    app_id=f"bench-rebalance-{uuid.uuid4().hex[:8]}",
                    partitions=args.partitions,
                )
                asyncio.run(ensure_topics(base, internal=True))
                took = asyncio.run(fill_changelog(base, n))
                log(f"{n:,} device states written to the changelog in {took:.1f} s")
                results: dict[str, list[Run]] = {label: [] for label, _ in trees}
                for r in range(args.runs):
                    # Alternating which tree goes first, run by run.
                    order = trees if r % 2 == 0 else list(reversed(trees))
                    for label, tree in order:
                        name = f"{label.split()[0]}-{n}-run{r + 1}"
                        result = run_once(base, tree, tmp, name)
                        results[label].append(result)
                        log(f"  {label}, run {r + 1}: {result}")
                report(n, args.partitions, results)
        finally:
            broker.stop()
    return 0


def report(n: int, partitions: int, results: dict[str, list[Run]]) -> None:
    runs = len(next(iter(results.values())))
    print(f"\n{n:,} devices, {partitions} partitions, medians of {runs} runs:")
    print(
        "| worker | assignment callback at start (all partitions) | ready | "
        "callback of the joining worker (half) | callback of the first at the join | "
        "both ready after the join | kept indexes rebuilt |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, runs in results.items():
        print(
            f"| {label} | {median([r.first_callback for r in runs]):.3f} s "
            f"| {median([r.first_ready for r in runs]):.1f} s "
            f"| {median([r.join_callback for r in runs]):.3f} s "
            f"| {median([r.kept_callback for r in runs]):.3f} s "
            f"| {median([r.join_ready for r in runs]):.1f} s "
            f"| {median([float(r.kept_rebuilt) for r in runs]):.0f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
