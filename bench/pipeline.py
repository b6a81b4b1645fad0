"""End-to-end throughput against a real broker: the shipped worker next to a hand-written
aiokafka consumer doing the same job.

    python -m bench.pipeline [--records N] [--devices N] [--runs N] [--partitions 8]
                             [--runners raw,naive,quix,backupwatch,backupwatch-no-reader]
                             [--profile DIR]
                             [--scale-out [--workers 1,2,4] [--report-reader none|beside]
                              [--serve]]

One invocation starts a local broker in a temporary directory (or uses
`KAFKA_BOOTSTRAP_SERVERS`), fills the three input topics once with `fleet_records`
(80 % heartbeats, 20 % progress, keyed by device id) between a tick at the start and a
tick at the end of the data's simulated time on every input partition, and reads those
same topics with every runner, each under its own consumer group. With only those two
ticks every event is read against the start tick's clock, so events later than its
max skew (5 min) are clamped to it, and decisions are taken once, at the end tick;
`--tick-minutes M` adds a tick every M simulated minutes, as the simulator writes them
(then records read ahead of a partition's slowest topic are parked and applied later).


* **raw**: one aiokafka consumer (`getmany`, 2,000 records a call) and one producer
  (5 ms linger, 1 MiB batches) in a process of its own,
  feeding `streams.pipeline.PartitionProcessor` with states in a dict per partition,
  sending alerts (waiting for their acks, as the worker does), state writes to a
  compacted changelog-like topic, statuses; offsets committed once at the end. Timed
  from its first record to the last record processed, producer flushed, offsets
  committed.
* **naive Faust** (`bench/naive_faust.py`): the job as Faust's guide writes an agent —
  one record at a time, `faust.Record` values, one table write per changed state.
* **Quix Streams** (`bench/quix.py`): the job with Quix Streams' stateful API and its
  own RocksDB state and changelogs.
* **backupwatch**: the worker as shipped (`python -m agents.cli worker --no-ticker`,
  `memory://` store) with its report reader beside it; **backupwatch-no-reader**: the
  same with `BACKUPWATCH_REPORT_READER=none`. Timed from the start of its processing (the
  last `/metrics` poll before `backupwatch_events_total` moved) until the group's
  committed offsets reached the end of every input partition (read from the broker: the
  worker is not polled meanwhile, answering `/metrics` costs it CPU) and every input
  record is accounted for. Its CPU is its own and its report reader's (a child process),
  shown apart.

Every runner calls the same core (`streams.pipeline.PartitionProcessor`), so all take the
same decisions and emit the same alerts; the runs of one invocation alternate between
the runners, so a noisy neighbour hits them alike.

Then restart-to-ready: a worker holding the full table is stopped (SIGTERM) and a new
one with the same app id started, timed until `/readyz` answers 200 with the clocks of
all partitions; for `memory://` (state rebuilt from the changelog) and for `rocksdb://`
(its own fill run; the data directory is kept, so the local state is reused). Its RSS is
read then, and again once its fleet view (which reads the whole changelog beside the
table, for the API, in the worker's report reader process) has logged reading it, with
the reader's RSS.

`--scale-out` runs only the shipped worker: groups of `--workers` sizes (1, 2 and 4)
with the same app id (one consumer group), the order of the sizes reversed every other
run; the workers run with `--report-reader` (none by default, as a multi-worker
deployment runs them), and with `--serve` a `backupwatch serve` beside them. Each run has
input topics of its own, filled with the same generated records once every worker of the
run holds its share of the partitions (the workers are stopped with SIGSTOP during the
fill and continued together), so that no run starts with one worker reading alone until
the others' joins rebalance the group. Timed as above, from the first record any worker
processed; CPU summed over every process of the run; partitions held (from `/readyz`),
records, alerts and RSS per worker.

`--profile DIR` records each run with py-spy (`python -m bench.profiles` breaks the
profiles down). Figures are medians of `--runs` runs; CPU and memory are read from
`/proc/<pid>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from agents.kafka.topics import ALERTS, DEAD_LETTERS, DEVICE_STATUS, INPUTS, ensure_topics
from agents.process import WorkerProcess
from agents.settings import Settings
from agents.worker.ticks import encode_tick
from bench.core import machine
from bench.harness import (
    REPO,
    Broker,
    RawConfig,
    Result,
    committed_to_end,
    cpu_seconds,
    cpu_split,
    free_port,
    kafka_version,
    log,
    memory_kb,
    mib,
)
from bench.workload import fleet_records

__all__ = ["main"]

TABLE = "device-state"  # agents.worker.app.TABLE (not imported: that would load Faust here)
POLL_S = 0.2  # /metrics and /readyz polling interval


# -- filling the inputs ------------------------------------------------------------


@dataclass
class Fill:
    records: int  # telemetry records
    ticks: int  # tick records
    by_topic: Counter[str]
    devices: int
    start: datetime
    end: datetime
    seconds: float

    @property
    def total(self) -> int:
        return self.records + self.ticks


async def fill(
    settings: Settings, records: list[tuple[bytes, bytes]], tick_every: timedelta | None
) -> Fill:
    """Write the records between a start and an end tick (and one per `tick_every` of
    simulated time, when given) on every partition of every input topic."""
    heartbeats, progress = settings.topic(INPUTS[0]), settings.topic(INPUTS[1])
    inputs = [settings.topic(name) for name in INPUTS]
    producer = settings.kafka.producer(
        acks="all",
        linger_ms=20,
        max_batch_size=1024 * 1024,
    )
    await producer.start()
    started = time.perf_counter()
    by_topic: Counter[str] = Counter()
    devices: set[bytes] = set()
    pending: list[asyncio.Future[Any]] = []
    ticks = 0

    async def tick(at: datetime) -> None:
        nonlocal ticks
        value, headers = encode_tick(at)
        for topic in inputs:
            for partition in range(settings.partitions):
                pending.append(
                    await producer.send(topic, value, partition=partition, headers=headers)
                )
                ticks += 1

    try:
        first = datetime.fromisoformat(orjson.loads(records[0][1])["event_time"])
        last = datetime.fromisoformat(orjson.loads(records[-1][1])["event_time"])
        # The end tick at the next whole minute after the last event: every record is due.
        end = datetime.fromtimestamp(math.floor(last.timestamp() / 60 + 1) * 60, UTC)
        await tick(first)
        step = tick_every or timedelta(0)
        next_tick = first + step if tick_every else None
        for n, (key, value) in enumerate(records, 1):
            event = orjson.loads(value)
            if next_tick is not None:
                at = datetime.fromisoformat(event["event_time"])
                while next_tick is not None and at >= next_tick:
                    await tick(next_tick)
                    next_tick = next_tick + step if next_tick + step < end else None
            topic = heartbeats if event["schema"].startswith("heartbeat/") else progress
            by_topic[topic] += 1
            devices.add(key)
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
            if n % 100_000 == 0:
                rate = n / (time.perf_counter() - started)
                log(f"  filled {n:,}/{len(records):,} records ({rate:,.0f}/s)")
        await tick(end)
        await asyncio.gather(*pending)
        await producer.flush()
    finally:
        await producer.stop()
    return Fill(
        records=len(records),
        ticks=ticks,
        by_topic=by_topic,
        devices=len(devices),
        start=first,
        end=end,
        seconds=time.perf_counter() - started,
    )


async def create_compacted(settings: Settings, name: str) -> None:
    from aiokafka.admin import NewTopic

    admin = settings.kafka.admin()
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, settings.partitions, 1, topic_configs={"cleanup.policy": "compact"})]
        )
        deadline = time.monotonic() + 30
        while name not in set(await admin.list_topics()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"topic {name} not visible after 30 s")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def topic_records(settings: Settings, name: str) -> int:
    """How many records a topic holds (end minus beginning offsets)."""
    from aiokafka import TopicPartition

    consumer = settings.kafka.consumer()
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(name) or set()
        if not partitions:
            await consumer._client.force_metadata_update()  # noqa: SLF001
            partitions = consumer.partitions_for_topic(name) or set()
        tps = [TopicPartition(name, p) for p in partitions]
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        return sum(ends[tp] - begins[tp] for tp in tps)
    finally:
        await consumer.stop()


# -- runner: raw (runs in a process of its own) ---------------------------------------


async def run_raw(cfg: RawConfig) -> dict[str, Any]:
    """The worker's job by hand: consume, process, produce; no Faust."""
    from aiokafka.partitioner import murmur2
    from msgspec.structs import replace

    from agents.worker.ticks import is_tick
    from schemas.codec import encode
    from streams.pipeline import Envelope, PartitionProcessor
    from streams.policy import Policy

    settings = Settings(bootstrap_servers=cfg.bootstrap, topic_prefix=cfg.prefix)
    n = cfg.partitions
    homes: dict[bytes, int] = {}

    def partition_for(key: bytes) -> int:
        # murmur2 is pure Python in aiokafka; a device's partition never changes.
        home = homes.get(key)
        if home is None:
            home = homes[key] = int(murmur2(key) & 0x7FFFFFFF) % n
        return home

    states: list[dict[str, bytes]] = [{} for _ in range(n)]
    policy = Policy(max_skew=settings.max_skew)
    processor = PartitionProcessor(
        n,
        load=lambda key, partition: states[partition].get(key),
        items_of=lambda partition: list(states[partition].items()),
        partition_for=partition_for,
        policy_for=lambda org_id: policy,
    )
    topics = [settings.topic(name) for name in INPUTS]
    topic_index = {name: i for i, name in enumerate(topics)}
    alerts_topic, status_topic = settings.topic(ALERTS), settings.topic(DEVICE_STATUS)
    dead_topic = settings.topic(DEAD_LETTERS)
    consumer = settings.kafka.consumer(
        *topics,
        group_id=cfg.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = settings.kafka.producer(acks="all", linger_ms=5, max_batch_size=1024 * 1024)
    await producer.start()
    await consumer.start()

    def records_to_envelopes(batches: dict[Any, list[Any]]) -> Iterator[Envelope]:
        # A function of its own, as the worker's `envelopes`: profiles compare them.
        for tp, records in batches.items():
            topic = topic_index[tp.topic]
            for r in records:
                yield Envelope(
                    topic=topic,
                    partition=tp.partition,
                    offset=r.offset,
                    key=r.key,
                    value=r.value if r.value is not None else b"",
                    timestamp=datetime.fromtimestamp((r.timestamp or 0) / 1000, UTC),
                    tick=is_tick(r.headers),
                )

    seen = 0
    outcomes: Counter[str] = Counter()
    alerts = writes = statuses = 0
    first: float | None = None
    cpu_first = 0.0
    last_report = time.monotonic()
    try:
        while seen < cfg.total:
            batches = await consumer.getmany(timeout_ms=200, max_records=cfg.max_records)
            if not batches:
                continue
            if first is None:
                first = time.perf_counter()
                usage = resource.getrusage(resource.RUSAGE_SELF)
                cpu_first = usage.ru_utime + usage.ru_stime
            envelopes = list(records_to_envelopes(batches))
            seen += len(envelopes)
            result = processor.process(envelopes)
            if result.alerts:
                # As the worker: states recording these decisions only after the ack.
                now = datetime.now(UTC)
                acks = [
                    await producer.send(
                        alerts_topic,
                        encode(replace(a, emitted_at=now)),
                        key=a.device_id.encode(),
                    )
                    for a in result.alerts
                ]
                await asyncio.gather(*acks)
                alerts += len(acks)
            for key, value in result.writes.items():
                raw_key = key.encode()
                partition = partition_for(raw_key)
                states[partition][key] = value
                await producer.send(cfg.changelog, value, key=raw_key, partition=partition)
            writes += len(result.writes)
            for status in result.statuses:
                await producer.send(status_topic, encode(status), key=status.device_id.encode())
            statuses += len(result.statuses)
            for letter in result.dead_letters:
                await producer.send(dead_topic, letter.envelope.value, key=letter.envelope.key)
            for reroute in result.reroutes:
                env = reroute.envelope
                await producer.send(
                    topics[env.topic], env.value, key=env.key, partition=reroute.partition
                )
            for (_topic, outcome), count in result.outcomes.items():
                outcomes[outcome] += count
            if time.monotonic() - last_report >= 5:
                last_report = time.monotonic()
                rate = seen / (time.perf_counter() - first)
                rss = memory_kb("self", "VmRSS") / 1024
                print(
                    f"    raw: {seen:,}/{cfg.total:,} ({rate:,.0f}/s, RSS {rss:,.0f} MiB)",
                    file=sys.stderr,
                )
        await producer.flush()
        await consumer.commit()
        assert first is not None
        elapsed = time.perf_counter() - first
        usage = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        await consumer.stop()
        await producer.stop()
    return {
        "records": seen,
        "seconds": elapsed,
        "cpu": usage.ru_utime + usage.ru_stime - cpu_first,
        "hwm_kb": memory_kb("self", "VmHWM"),
        "rss_kb": memory_kb("self", "VmRSS"),
        "alerts": alerts,
        "writes": writes,
        "statuses": statuses,
        "outcomes": dict(outcomes),
    }


CHILDREN = {"raw": "raw", "naive": "naive Faust", "quix": "Quix Streams"}
# The shipped worker, with its report reader beside it (as `make run` runs it) and
# without (BACKUPWATCH_REPORT_READER=none, as a deployment with `backupwatch serve` runs it).
WORKER_KINDS = {"backupwatch": "beside", "backupwatch-no-reader": "none"}
LABELS = {
    "naive": "naive Faust (memory://)",
    "quix": "Quix Streams (RocksDB)",
    "backupwatch": "backupwatch worker (memory://)",
    "backupwatch-no-reader": "backupwatch worker, no reader (memory://)",
}


def raw_run(cfg: RawConfig, kind: str = "raw", profile: Path | None = None) -> Result:
    """Run one of the runners that live in a process of their own (raw, naive, quix);
    with `profile`, py-spy records it meanwhile into that file."""
    child = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "bench.pipeline", "--child", kind, json.dumps(cfg.__dict__)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    spy = profiler(child.pid, profile) if profile is not None else None
    try:
        stdout, _ = child.communicate(timeout=3600)
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
    if child.returncode != 0:
        raise RuntimeError(f"the {kind} runner failed (exit {child.returncode})")
    # The figures are the last line that is a JSON object (libraries may print too).
    lines = [line[line.index("{") :] for line in stdout.splitlines() if "{" in line]
    if not lines:
        raise RuntimeError(f"the {kind} runner printed no figures:\n{stdout[-2000:]}")
    report = json.loads(lines[-1])
    return Result(
        CHILDREN[kind],
        report["records"],
        report["seconds"],
        report["cpu"],
        report["hwm_kb"],
        report["alerts"],
        report,
    )


# -- runner: the shipped worker ------------------------------------------------------


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


class Worker(WorkerProcess):
    """A benchmarked worker (`agents.process.WorkerProcess`) with its counters."""

    def counters(self) -> dict[str, float]:
        """Input records accounted for, records parked (held for the clock), alerts."""
        status, body = self.get("/metrics")
        if status != 200:
            return {}
        counts: dict[str, float] = {"events": 0.0, "parked": 0.0, "alerts": 0.0, "writes": 0.0}
        for line in body.decode().splitlines():
            name = line.split("{", 1)[0].split(" ", 1)[0]
            key = {
                "backupwatch_events_total": "events",
                "backupwatch_records_parked_total": "parked",
                "backupwatch_alerts_total": "alerts",
                "backupwatch_state_writes_total": "writes",
            }.get(name)
            if key is not None:
                counts[key] += float(line.rsplit(" ", 1)[1])
        return counts

    def wait(self, what: str, check: Any, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            got = check()
            if got:
                return got
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not after {timeout:g} s; log:\n{tail(self.log_path)}")
            time.sleep(POLL_S / 2)


class Workers:
    """Every worker started, so that all are stopped whatever happens."""

    def __init__(self, base: Settings, tmp: Path) -> None:
        self.base = base
        self.tmp = tmp
        self.started: list[Worker] = []
        self.servers: list[subprocess.Popen[bytes]] = []

    def new(
        self,
        app_id: str,
        store: str = "memory://",
        topic_prefix: str | None = None,
        data_dir: Path | None = None,
        name: str | None = None,
        report_reader: str = "beside",
    ) -> Worker:
        # `name` tells apart workers of one app id (one consumer group): their own
        # data directory and log.
        name = name or app_id
        settings = Settings(
            bootstrap_servers=self.base.bootstrap_servers,
            kafka=self.base.kafka,
            topic_prefix=topic_prefix or self.base.topic_prefix,
            app_id=app_id,
            partitions=self.base.partitions,
            store=store,
            data_dir=data_dir or self.tmp / name,
            web_port=free_port(),
            tick_interval=timedelta(0),
            report_reader=report_reader,
        )
        worker = Worker(settings, self.tmp / f"{name}.log")
        self.started.append(worker)
        worker.start()
        return worker

    def serve(self, settings: Settings, name: str) -> subprocess.Popen[bytes]:
        """`backupwatch serve` with a worker's settings (its own web port): the read side
        of a group whose workers run no reader. Stopped by the caller."""
        env = {**os.environ, **replace(settings, web_port=free_port()).as_env()}
        with (self.tmp / f"{name}.log").open("ab") as out:
            server = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "agents.cli", "serve"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.servers.append(server)
        return server

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()
        for server in self.servers:
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=60)


def profiler(pid: int, out: Path, idle: bool = False) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` (every thread; with `idle`, time spent waiting too) into
    collapsed stacks at `out`, until it is sent SIGINT. Without `idle` the samples are
    where the process spent CPU: `python -m bench.profiles` breaks them down."""
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(pid), "--format", "raw", "--threads"]
        + (["--idle"] if idle else [])
        + ["--rate", "200", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def worker_run(
    workers: Workers,
    app_id: str,
    total: int,
    store: str = "memory://",
    profile: Path | None = None,
    report_reader: str = "beside",
) -> tuple[Worker, Result]:
    """Start a worker on the filled inputs and time it until it has accounted for
    `total` records; the worker is left running (the caller stops or restarts it).
    With `profile`, py-spy records the worker meanwhile into that file."""
    worker = workers.new(app_id, store, report_reader=report_reader)
    worker.wait("/readyz 200", worker.readyz, timeout=180)
    spy = profiler(worker.pid, profile) if profile is not None else None
    ready = time.monotonic()
    try:
        timed = time_group([worker], worker.settings, total)
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
    counts = timed.counts[0]
    result = Result(
        f"backupwatch ({store})" + (", no reader" if report_reader == "none" else ""),
        total,
        timed.seconds,
        timed.cpu + timed.reader_cpu,
        memory_kb(worker.pid, "VmHWM"),
        int(counts.get("alerts", 0)),
        {
            "startup_s": ready - worker.started,
            "rss_kb": memory_kb(worker.pid, "VmRSS"),
            "parked": counts.get("parked", 0),
            "writes": int(counts.get("writes", 0)),
            "reader_cpu": timed.reader_cpu,
        },
    )
    return worker, result


@dataclass
class Timed:
    """A group's run on the inputs: seconds from its first record to the offsets of
    every record committed; CPU seconds over the workers, without and with their report
    readers' (child processes'); each worker's counters at the end."""

    seconds: float
    cpu: float
    reader_cpu: float
    counts: list[dict[str, float]]


def time_group(
    group: Sequence[Worker], settings: Settings, total: int, readers: Sequence[int] = ()
) -> Timed:
    """Time `group` (workers of one app id, ready, the inputs filled or being filled)
    until they have processed `total` input records and committed their offsets.

    The workers' /metrics are polled until one of them has counted a record: the last
    poll before that is the start, within one poll. From there on only the broker is
    asked (the group's committed offsets, 20 times a second), not the workers: answering
    /metrics five times a second cost a worker 5 % of its CPU, which the raw runner,
    timing itself, does not pay. The run ends when the offsets of every input partition
    are committed to its end (Faust flushes the producer, changelog included, before).
    `readers` are other processes whose CPU counts with the report readers' (a
    `backupwatch serve`)."""
    pids = [w.pid for w in group]

    def cpu_now() -> list[tuple[float, float]]:
        return [cpu_split(pid) for pid in pids] + [(0.0, sum(cpu_split(r))) for r in readers]

    started = time.monotonic()
    deadline = started + max(600.0, total / 1000)
    t_zero, cpu_zero = started, cpu_now()
    while True:
        now, cpu = time.monotonic(), cpu_now()
        counts = [w.counters() for w in group]
        if now > deadline:
            logs = "\n".join(tail(w.log_path) for w in group)
            raise RuntimeError(f"no worker processed a record in {now - started:.0f} s:\n{logs}")
        if all(counts):  # every /metrics answered
            if any(c.get("events", 0.0) for c in counts):
                break
            t_zero, cpu_zero = now, cpu
        time.sleep(POLL_S)

    def progress() -> None:
        events = sum(w.counters().get("events", 0.0) for w in group)
        rss = " + ".join(f"{memory_kb(w.pid, 'VmRSS') / 1024:,.0f}" for w in group)
        rate = events / (time.monotonic() - t_zero)
        log(f"    {len(group)} worker(s): {events:,.0f}/{total:,} ({rate:,.0f}/s, RSS {rss} MiB)")

    asyncio.run(
        committed_to_end(
            settings.kafka,
            settings.app_id,
            [settings.topic(name) for name in INPUTS],
            settings.partitions,
            timeout=max(1.0, deadline - time.monotonic()),
            progress=progress,
        )
    )
    now, cpu = time.monotonic(), cpu_now()
    counts = [w.counters() for w in group]
    events = sum(c.get("events", 0.0) for c in counts)
    if events < total:
        raise RuntimeError(f"offsets committed, but {events:,.0f} of {total:,} records counted")
    own = sum(c[0] - z[0] for c, z in zip(cpu, cpu_zero, strict=True))
    readers = sum(c[1] - z[1] for c, z in zip(cpu, cpu_zero, strict=True))
    return Timed(now - t_zero, own, readers, counts)


def held(worker: Worker) -> set[int]:
    """The partitions a worker holds: the clocks in its /readyz document (answered with
    503 too, while it recovers or rebalances)."""
    _status, body = worker.get("/readyz")
    if not body:
        return set()
    return {int(p) for p in json.loads(body).get("clocks", {})}


def group_run(
    workers: Workers,
    run_prefix: str,
    records: list[tuple[bytes, bytes]],
    tick_every: timedelta | None,
    size: int,
    profile: Path | None = None,
    report_reader: str = "none",
    serve: bool = False,
) -> Result:
    """`size` workers with one app id (one consumer group) on inputs of their own, filled
    with `records` only once every worker holds its share of the partitions: otherwise
    the first worker to join reads alone until the second's join rebalances the group.
    The workers are stopped (SIGSTOP) while the inputs are filled, so that the fill does
    not compete with them, and continued together. Timed from the first record any of
    them processed until the group's committed offsets reach the end of every input
    partition; CPU is the sum over the processes; each one's peak RSS is in `extra`.
    `report_reader` is the workers' BACKUPWATCH_REPORT_READER; with `serve`, a
    `backupwatch serve` runs beside them and its CPU is counted too. With `profile`,
    py-spy records each worker into PROFILE-1.txt, PROFILE-2.txt, ...
    Every worker is stopped afterwards."""
    base = workers.base
    settings = Settings(
        bootstrap_servers=base.bootstrap_servers,
        topic_prefix=run_prefix,
        partitions=base.partitions,
    )
    asyncio.run(ensure_topics(settings))
    app_id = run_prefix.rstrip(".")
    group = [
        workers.new(
            app_id, topic_prefix=run_prefix, name=f"{app_id}-{n}", report_reader=report_reader
        )
        for n in range(1, size + 1)
    ]
    server = workers.serve(group[0].settings, f"{app_id}-serve") if serve else None
    share = base.partitions // size

    def settled() -> bool:
        # Every worker ready (partitions assigned, nothing to recover) holding its own
        # share of the partitions (/readyz has a clock per partition held).
        if not all(w.readyz() for w in group):
            return False
        holds = [held(w) for w in group]
        return all(len(h) == share for h in holds) and len(set().union(*holds)) == (base.partitions)

    try:
        group[0].wait(f"{size} workers with {share} partitions each", settled, timeout=180)
        for worker in group:
            os.kill(worker.pid, signal.SIGSTOP)
        try:
            filled = asyncio.run(fill(settings, records, tick_every))
        finally:
            for worker in group:
                os.kill(worker.pid, signal.SIGCONT)
        spies = (
            [
                profiler(w.pid, profile.with_name(f"{profile.stem}-{n}.txt"))
                for n, w in enumerate(group, 1)
            ]
            if profile is not None
            else []
        )
        try:
            timed = time_group(
                group,
                group[0].settings,
                filled.total,
                [server.pid] if server is not None else [],
            )
        finally:
            for spy in spies:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
        counts = timed.counts
        return Result(
            f"backupwatch x{size} (memory://)",
            filled.total,
            timed.seconds,
            timed.cpu + timed.reader_cpu,
            max(memory_kb(w.pid, "VmHWM") for w in group),
            int(sum(c.get("alerts", 0) for c in counts)),
            {
                "hwm_each_kb": [memory_kb(w.pid, "VmHWM") for w in group],
                "rss_each_kb": [memory_kb(w.pid, "VmRSS") for w in group],
                "reader_rss_each_kb": [
                    sum(memory_kb(child, "VmRSS") for child in children(w.pid)) for w in group
                ],
                "events_each": [int(c.get("events", 0.0)) for c in counts],
                "alerts_each": [int(c.get("alerts", 0.0)) for c in counts],
                "writes": int(sum(c.get("writes", 0.0) for c in counts)),
                "held_each": [sorted(held(w)) for w in group],
                "reader_cpu": timed.reader_cpu,
                "serve_rss_kb": memory_kb(server.pid, "VmRSS") if server is not None else 0,
            },
        )
    finally:
        for worker in group:
            worker.stop()
        if server is not None:
            server.terminate()
            server.wait(timeout=60)


def scale_out(
    args: argparse.Namespace,
    workers: Workers,
    prefix: str,
    records: list[tuple[bytes, bytes]],
    tick_every: timedelta | None,
) -> None:
    """`--scale-out`: groups of `--workers` sizes (1, 2 and 4 by default) in one consumer
    group each, the order of the sizes reversed every other run, each run on the same
    records in inputs of its own; the medians, and each size against one worker."""
    sizes = [int(n) for n in args.workers.split(",")]
    if any(size < 1 or args.partitions % size for size in sizes) or 1 not in sizes:
        raise SystemExit(
            f"backupwatch: --workers must include 1 and divide the {args.partitions} partitions"
        )
    by_size: dict[int, list[Result]] = {size: [] for size in sizes}
    for run in range(1, args.runs + 1):
        for size in sizes if run % 2 else list(reversed(sizes)):
            log(f"run {run}/{args.runs}: {size} worker(s), one group")
            profile = Path(args.profile) / f"x{size}-run{run}.txt" if args.profile else None
            r = group_run(
                workers,
                f"{prefix}x{size}r{run}.",
                records,
                tick_every,
                size,
                profile=profile,
                report_reader=args.report_reader,
                serve=args.serve,
            )
            by_size[size].append(r)
            log(
                f"  {r.runner}: {r.seconds:.1f} s, {r.rate:,.0f} events/s, "
                f"{r.cpu_per_1k:.3f} CPU s/1k, {r.alerts:,} alerts, {r.extra['writes']:,} state "
                f"writes; partitions held {r.extra['held_each']}, events {r.extra['events_each']}, "
                f"alerts {r.extra['alerts_each']}, peak RSS "
                f"{' + '.join(mib(kb) for kb in r.extra['hwm_each_kb'])}"
            )

    def median(size: int, figure: Any) -> float:
        return float(statistics.median(figure(r) for r in by_size[size]))

    rates = {size: median(size, lambda r: r.rate) for size in sizes}
    cpus = {size: median(size, lambda r: r.cpu_per_1k) for size in sizes}
    rss = {
        size: median(size, lambda r: statistics.median(r.extra["rss_each_kb"])) for size in sizes
    }
    hwm = {
        size: median(size, lambda r: statistics.median(r.extra["hwm_each_kb"])) for size in sizes
    }
    print()
    readers = {"beside": "each with its report reader", "none": "no report reader"}
    print(
        f"workers: {readers[args.report_reader]}"
        + ("; a `backupwatch serve` beside them, its CPU counted" if args.serve else "")
    )
    print(
        f"{'':<12} {'events/s':>10} {'CPU s/1k':>9} {'vs 1':>6} {'(readers)':>10} "
        f"{'RSS/worker':>11} {'vs 1':>6} {'peak RSS':>9} {'state writes':>13} {'alerts':>7}"
    )
    for size in sizes:
        readers_cpu = median(size, lambda r: r.extra["reader_cpu"] / r.events * 1000)
        print(
            f"{f'{size} worker(s)':<12} {rates[size]:>10,.0f} {cpus[size]:>9.3f} "
            f"{cpus[size] / cpus[1]:>5.2f}x {readers_cpu:>10.3f} {mib(rss[size]):>11} "
            f"{rss[size] / rss[1]:>5.0%} {mib(hwm[size]):>9} "
            f"{median(size, lambda r: r.extra['writes']):>13,.0f} "
            f"{median(size, lambda r: r.alerts):>7,.0f}"
        )
    print(
        "(CPU s/1k: CPU seconds per 1,000 events summed over every process of the run, of "
        "which (readers) the report readers' or serve's; RSS/worker: median over the workers "
        "of their main process's RSS at the end, peak RSS its peak; medians of "
        f"{args.runs} runs)"
    )
    print()
    print("each run (s, events/s, CPU s; partitions held, events, alerts, peak RSS per worker):")
    for size in sizes:
        for r in by_size[size]:
            print(
                f"  {r.runner:<22} {r.seconds:6.1f} s {r.rate:>9,.0f}/s {r.cpu:6.1f}  "
                f"{r.extra['held_each']} {r.extra['events_each']} {r.extra['alerts_each']} "
                f"{' + '.join(mib(kb) for kb in r.extra['hwm_each_kb'])}"
            )


@dataclass
class Restart:
    store: str
    ready_s: float  # start -> /readyz 200
    clocks_s: float  # start -> /readyz 200 with every partition's clock
    rss_kb: int  # right after, the table loaded
    cpu: float
    changelog_records: int
    # Once the worker's fleet view (which reads the whole changelog beside the table)
    # has read it too: seconds from the start, and VmRSS then.
    view_s: float = 0.0
    view_rss_kb: int = 0
    # The worker's report reader process (agents.report.reader), which holds the fleet view.
    reader_rss_kb: int = 0

    def describe(self) -> str:
        return (
            f"{self.store}: /readyz 200 after {self.ready_s:.1f} s, every clock after "
            f"{self.clocks_s:.1f} s ({self.changelog_records:,} changelog records)"
        )


def restart(
    workers: Workers, old: Worker, changelog_records: int, profile: Path | None = None
) -> Restart:
    """Restart `old` and time the new worker to ready; with `profile`, py-spy records
    the new worker meanwhile into that file."""
    old.stop()
    s = old.settings
    new = workers.new(s.app_id, s.store, data_dir=s.data_dir)
    spy = profiler(new.pid, profile, idle=True) if profile is not None else None
    ready_at: float | None = None
    deadline = new.started + 900
    partitions = s.partitions
    while True:
        body = new.readyz()
        now = time.monotonic()
        if body is not None:
            ready_at = ready_at or now
            clocks = body.get("clocks", {})
            if len(clocks) >= partitions and all(clocks.values()):
                break
        if now > deadline:
            raise RuntimeError(f"restarted worker not ready; log:\n{tail(new.log_path)}")
        time.sleep(POLL_S / 2)
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    report = Restart(
        s.store,
        ready_at - new.started,
        now - new.started,
        memory_kb(new.pid, "VmRSS"),
        cpu_seconds(new.pid),
        changelog_records,
    )
    try:
        new.wait("the fleet view to read the changelog", lambda: fleet_view_read(new), 600)
    except RuntimeError as err:  # the restart figures stand without it
        log(f"  {str(err).splitlines()[0]}")
    else:
        report.view_s = time.monotonic() - new.started
        time.sleep(1.0)
        report.view_rss_kb = memory_kb(new.pid, "VmRSS")
        report.reader_rss_kb = sum(memory_kb(child, "VmRSS") for child in children(new.pid))
    new.stop()
    return report


def children(pid: int) -> list[int]:
    """The child processes of `pid` (the worker's report reader)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def fleet_view_read(worker: Worker) -> bool:
    """Whether the worker's fleet view has logged reading the changelog (since the last
    start; workers of one app id share a log)."""
    text = worker.log_path.read_text(errors="replace")
    return "fleet view: read" in text.rsplit("===== start #", 1)[-1]


def idle_rss(workers: Workers, prefix: str) -> int:
    """VmRSS of a ready worker with nothing to read (its own, empty topics)."""
    worker = workers.new(prefix + "idle", topic_prefix=prefix + "idle.")
    worker.wait("/readyz 200", worker.readyz, timeout=180)
    time.sleep(6)  # past the first gauges timer, as a working worker is
    rss = memory_kb(worker.pid, "VmRSS")
    worker.stop()
    return rss


# -- the report ----------------------------------------------------------------------


def median_row(label: str, results: Sequence[Result], raw_rate: float) -> str:
    rate = statistics.median(r.rate for r in results)
    cpu = statistics.median(r.cpu_per_1k for r in results)
    reader = statistics.median(r.extra.get("reader_cpu", 0.0) / r.events * 1000 for r in results)
    hwm = statistics.median(r.hwm_kb for r in results)
    alerts = statistics.median(r.alerts for r in results)
    return (
        f"{label:<40} {rate:>10,.0f} {rate / raw_rate:>7.2f}x {cpu:>10.3f} {reader:>9.3f} "
        f"{mib(hwm):>10} {alerts:>8,.0f} {len(results):>5}"
    )


def report(
    args: argparse.Namespace,
    command: str,
    filled: Fill,
    raws: list[Result],
    others: dict[str, list[Result]],
    rocks: Result | None,
    restarts: list[Restart],
    idle_kb: int,
) -> None:
    raw_rate = statistics.median(r.rate for r in raws)
    workers_memory = others.get("backupwatch", []) or others.get("backupwatch-no-reader", [])
    print()
    print(f"command:  {command}")
    print(f"machine:  {machine()}, Kafka {kafka_version()} (local, single node)")
    print(
        f"workload: {filled.records:,} records "
        f"({', '.join(f'{n:,} {t}' for t, n in sorted(filled.by_topic.items()))}) "
        f"+ {filled.ticks:,} ticks = {filled.total:,} events; {filled.devices:,} devices; "
        f"{args.partitions} partitions; simulated time {filled.start:%Y-%m-%d %H:%M} .. "
        f"{filled.end:%Y-%m-%d %H:%M}"
        + (f", a tick every {args.tick_minutes:g} min" if args.tick_minutes else "")
    )
    print()
    header = (
        f"{'runner':<40} {'events/s':>10} {'vs raw':>8} {'CPU s/1k':>10} {'(reader)':>9} "
        f"{'peak RSS':>10} {'alerts':>8} {'runs':>5}"
    )
    print(header)
    print("-" * len(header))
    print(median_row("raw (aiokafka + PartitionProcessor)", raws, raw_rate))
    for kind, results in others.items():
        print(median_row(LABELS[kind], results, raw_rate))
    if rocks is not None:
        print(median_row("backupwatch worker (rocksdb://)", [rocks], raw_rate))
    print("(CPU s/1k: CPU seconds per 1,000 events summed over the runner's processes, of")
    print(" which (reader) the worker's report reader; peak RSS of the main process)")
    for ours_kind in ("backupwatch", "backupwatch-no-reader"):
        if not others.get(ours_kind):
            continue
        ours = others[ours_kind]
        rate = statistics.median(r.rate for r in ours)
        cpu = statistics.median(r.cpu_per_1k for r in ours)
        for kind in ("naive", "quix"):
            if others.get(kind):
                theirs = others[kind]
                their_rate = statistics.median(r.rate for r in theirs)
                their_cpu = statistics.median(r.cpu_per_1k for r in theirs)
                print(
                    f"{LABELS[ours_kind]} / {LABELS[kind]}: {rate / their_rate:.2f}x events/s, "
                    f"{their_cpu / cpu:.2f}x less CPU per event"
                )
    print()
    print("each run (s, events/s, CPU s, peak RSS):")
    everything = [r for results in others.values() for r in results]
    for r in [*raws, *everything, *([rocks] if rocks else [])]:
        notes = []
        if "startup_s" in r.extra:
            notes.append(f"start to ready {r.extra['startup_s']:.1f} s")
        parked = r.extra.get("parked") or r.extra.get("outcomes", {}).get("parked", 0)
        if parked:
            notes.append(f"{parked:,.0f} parked")
        if "statuses" in r.extra:
            notes.append(f"{r.extra['statuses']:,} statuses, {r.extra['writes']:,} state writes")
        extra = f"  ({'; '.join(notes)})" if notes else ""
        print(
            f"  {r.runner:<26} {r.seconds:7.1f} s {r.rate:>10,.0f}/s {r.cpu:7.1f} "
            f"{mib(r.hwm_kb):>10}{extra}"
        )
    if restarts:
        print()
        print(f"restart to ready with {filled.devices:,} devices in the table:")
        print(
            f"  {'store':<12} {'/readyz 200':>12} {'all clocks':>11} {'RSS then':>10} "
            f"{'CPU s':>7} {'changelog records':>18} {'fleet view read':>16} {'RSS then':>10} "
            f"{'reader RSS':>11}"
        )
        for again in restarts:
            print(
                f"  {again.store:<12} {again.ready_s:>10.1f} s {again.clocks_s:>9.1f} s "
                f"{mib(again.rss_kb):>10} {again.cpu:>7.1f} {again.changelog_records:>18,} "
                f"{again.view_s:>14.1f} s {mib(again.view_rss_kb):>10} "
                f"{mib(again.reader_rss_kb):>11}"
            )
    print()
    if not workers_memory:
        return
    hwm = statistics.median(r.hwm_kb for r in workers_memory)
    print(f"idle worker (ready, empty topics): {mib(idle_kb)} RSS")
    print(
        "memory per device (memory://): "
        f"(peak RSS - idle RSS) / devices = {(hwm - idle_kb) * 1024 / filled.devices:,.0f} B"
        + "".join(
            f"; after a restart (table only) {(r.rss_kb - idle_kb) * 1024 / filled.devices:,.0f} B"
            f", once the fleet view has read the changelog too "
            f"{(r.view_rss_kb - idle_kb) * 1024 / filled.devices:,.0f} B"
            for r in restarts
            if r.store == "memory://"
        )
    )


# -- main ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description="end-to-end worker throughput benchmark")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument(
        "--tick-minutes",
        type=float,
        default=0,
        help="also a tick every N minutes of simulated time (default: only start and end)",
    )
    parser.add_argument("--no-restart", action="store_true", help="skip restart-to-ready")
    parser.add_argument(
        "--latency-steps",
        type=int,
        default=6,
        help="ticks appended after the runs to time alerts (0: skip)",
    )
    parser.add_argument(
        "--runners",
        default="raw,naive,quix,backupwatch,backupwatch-no-reader",
        help="which runners, in this order each run (default: all; backupwatch-no-reader is "
        "the worker with BACKUPWATCH_REPORT_READER=none)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="py-spy records the CPU of each run into DIR/RUNNER-runN.txt (worker-runN.txt for "
        "backupwatch) and each restart, waits included, into DIR/restart-STORE.txt (collapsed "
        "stacks; `python -m bench.profiles` breaks them down; it slows the runners down: not "
        "for figures)",
    )
    parser.add_argument(
        "--scale-out",
        action="store_true",
        help="only the shipped worker: groups of --workers sizes in one consumer group each, "
        "the order reversed every other run (no other runner, restart or latency)",
    )
    parser.add_argument(
        "--workers",
        default="1,2,4",
        help="--scale-out: the group sizes, each dividing --partitions (default: 1,2,4)",
    )
    parser.add_argument(
        "--report-reader",
        choices=("beside", "none"),
        default="none",
        help="--scale-out: the workers' BACKUPWATCH_REPORT_READER (default: none)",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="--scale-out: a `backupwatch serve` beside each group, its CPU counted",
    )
    parser.add_argument(
        "--secured",
        action="store_true",
        help="only the shipped worker: over SASL_SSL (SCRAM-SHA-512) against plaintext, on "
        "one secured broker, alternating which goes first (bench/secured.py)",
    )
    parser.add_argument("--child", nargs=2, metavar=("KIND", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, config = args.child
        cfg = RawConfig(**json.loads(config))
        if kind == "raw":
            print(json.dumps(asyncio.run(run_raw(cfg))))
        elif kind == "naive":
            from bench.naive_faust import run_naive_faust

            run_naive_faust(cfg)
        else:
            from bench.quix import run_quix

            run_quix(cfg)
        return 0
    runners = [name.strip() for name in args.runners.split(",") if name.strip()]
    unknown = set(runners) - {*CHILDREN, *WORKER_KINDS}
    if unknown or "raw" not in runners:
        parser.error(
            f"--runners: raw and any of naive, quix, {', '.join(WORKER_KINDS)} (not {unknown})"
        )
    command = shlex.join(["python", "-m", "bench.pipeline", *argv])
    log(f"{command}\n  machine: {machine()}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    broker: Broker | None = None
    workers: Workers | None = None
    try:
        broker = Broker.start(tmp, secured=args.secured)
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        settings = Settings(
            bootstrap_servers=broker.bootstrap, topic_prefix=prefix, partitions=args.partitions
        )
        workers = Workers(settings, tmp)
        asyncio.run(ensure_topics(settings))
        log(f"generating {args.records:,} records for {args.devices:,} devices")
        records = fleet_records(args.records, args.devices)
        tick_every = timedelta(minutes=args.tick_minutes) if args.tick_minutes else None
        if args.secured:
            from bench.secured import compare, scram_admin

            assert broker.state_dir is not None
            admin = scram_admin(broker.state_dir)
            secured = Workers(
                replace(settings, bootstrap_servers=admin.bootstrap_servers, kafka=admin), tmp
            )
            doors = {"plaintext": workers, "SASL_SSL": secured}
            filled = asyncio.run(fill(settings, records, tick_every))
            del records
            print(f"command:  {command}")
            print(f"machine:  {machine()}, Kafka {kafka_version()} (local, single node)")
            print(f"inputs:   {filled.total:,} events of {args.devices:,} devices")

            def run_over(door: str, run: int) -> Result:
                worker, r = worker_run(doors[door], f"{prefix}{door.lower()}{run}", filled.total)
                worker.stop()
                return r

            compare(args.runs, run_over)
            return 0
        if args.scale_out:
            print(f"command:  {command}")
            print(f"machine:  {machine()}, Kafka {kafka_version()} (local, single node)")
            scale_out(args, workers, prefix, records, tick_every)
            return 0
        log(f"filling the inputs ({prefix}*)")
        filled = asyncio.run(fill(settings, records, tick_every))
        del records
        log(
            f"filled {filled.total:,} events ({filled.ticks:,} ticks) in {filled.seconds:.1f} s "
            f"({filled.total / filled.seconds:,.0f}/s)"
        )
        idle_kb = idle_rss(workers, prefix)
        log(f"idle worker RSS {mib(idle_kb)}")
        raws: list[Result] = []
        others: dict[str, list[Result]] = {kind: [] for kind in runners if kind != "raw"}
        last: Worker | None = None
        for run in range(1, args.runs + 1):
            for kind in runners:
                if last is not None:
                    last.stop()  # one thing at a time: no idle worker beside another run
                    last = None
                if kind in WORKER_KINDS:
                    log(f"run {run}/{args.runs}: {LABELS[kind]}")
                    name = "worker" if kind == "backupwatch" else "worker-no-reader"
                    profile = Path(args.profile) / f"{name}-run{run}.txt" if args.profile else None
                    app_id = f"{prefix}bw{run}" + ("" if kind == "backupwatch" else "n")
                    last, r = worker_run(
                        workers,
                        app_id,
                        filled.total,
                        profile=profile,
                        report_reader=WORKER_KINDS[kind],
                    )
                    others[kind].append(r)
                    if kind != "backupwatch":
                        last.stop()  # the restart below needs a worker with its reader
                        last = None
                else:
                    group = f"{prefix}{kind}{run}"
                    changelog = f"{group}-{TABLE}-changelog"
                    if kind == "raw":
                        asyncio.run(create_compacted(settings, changelog))
                    log(f"run {run}/{args.runs}: {CHILDREN[kind]}")
                    cfg = RawConfig(
                        broker.bootstrap,
                        prefix,
                        args.partitions,
                        group,
                        changelog,
                        filled.total,
                        state_dir=str(tmp / group),
                    )
                    profile = Path(args.profile) / f"{kind}-run{run}.txt" if args.profile else None
                    r = raw_run(cfg, kind, profile)
                    (raws if kind == "raw" else others[kind]).append(r)
                log(
                    f"  {r.runner}: {r.seconds:.1f} s, {r.rate:,.0f} events/s, "
                    f"{r.cpu_per_1k:.3f} CPU s/1k, peak RSS {mib(r.hwm_kb)}, "
                    f"{r.alerts:,} alerts"
                )
        latency = None

        def measure_latency() -> None:
            # Last of all on a worker that has read everything: the ticks it appends
            # extend the inputs, which no later fill run may see.
            nonlocal latency
            from bench.latency import run as alert_latency

            log(f"alert latency: {args.latency_steps} ticks after the data")
            # An hour of stream time per tick: the devices whose deadline falls in that
            # hour are due.
            latency = alert_latency(
                settings, filled.end + timedelta(hours=1), args.latency_steps, timedelta(hours=1)
            )
            log(f"  {latency.describe()}")

        restarts: list[Restart] = []
        rocks: Result | None = None
        if last is not None and not args.no_restart:
            log("restart to ready (memory://)")
            app_id = last.settings.app_id
            time.sleep(2)  # past the worker's 1 s offset commit
            records_in = asyncio.run(topic_records(settings, f"{app_id}-{TABLE}-changelog"))
            profile = Path(args.profile) / "restart-memory.txt" if args.profile else None
            restarts.append(restart(workers, last, records_in, profile))
            log(f"  {restarts[-1].describe()}")
            log("fill run (rocksdb://)")
            rocks_worker, rocks = worker_run(workers, f"{prefix}rocks", filled.total, "rocksdb://")
            log(f"  backupwatch rocksdb: {rocks.seconds:.1f} s, {rocks.rate:,.0f} events/s")
            time.sleep(2)
            records_in = asyncio.run(topic_records(settings, f"{prefix}rocks-{TABLE}-changelog"))
            if args.latency_steps:
                measure_latency()
            log("restart to ready (rocksdb://)")
            profile = Path(args.profile) / "restart-rocksdb.txt" if args.profile else None
            restarts.append(restart(workers, rocks_worker, records_in, profile))
            log(f"  {restarts[-1].describe()}")
        elif last is not None:
            if args.latency_steps:
                measure_latency()
            last.stop()
        report(args, command, filled, raws, others, rocks, restarts, idle_kb)
        if latency is not None:
            print(
                "alert latency (tick appended -> alert appended; ticks 1, 2, ... h of stream "
                f"time after the data): {latency.describe()}"
            )
        return 0
    finally:
        if workers is not None:
            workers.stop_all()
        if broker is not None:
            broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
