"""What the end-to-end benchmarks share: a broker of their own, the measures of a
process (CPU, memory), a run's figures, and waiting for a consumer group to reach the
end of its inputs.

`bench.pipeline` runs every runner; the runners (`bench.naive_faust`, `bench.quix`,
`bench.secured`) and the other benchmarks take these from here, so that none of them
imports the module that runs them.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.partitioner import murmur2

from agents.kafka.connection import KafkaConnection
from streams.pipeline import PartitionProcessor
from streams.policy import Policy

__all__ = [
    "REPO",
    "Broker",
    "RawConfig",
    "Result",
    "committed_to_end",
    "keyed_processor",
    "cpu_seconds",
    "cpu_split",
    "free_port",
    "kafka_version",
    "log",
    "memory_kb",
    "mib",
]

REPO = Path(__file__).resolve().parents[1]
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kafka_version() -> str:
    version = os.environ.get("KAFKA_VERSION", "")
    if not version:
        for line in (REPO / ".env").read_text().splitlines():
            if line.strip().startswith("KAFKA_VERSION="):
                version = line.split("=", 1)[1].strip().strip("\"'")
    return version or "?"


# -- /proc -------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and of its child processes (a worker's report reader
    is one: its CPU is part of what the worker costs), in seconds."""
    own, children = cpu_split(pid)
    return own + children


def cpu_split(pid: int) -> tuple[float, float]:
    """(the process's own CPU seconds, its running child processes' — a worker's report
    reader)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # Fields after the command name start at field 3 (state): utime is 14, stime 15,
    # and the children already waited for, cutime 16 and cstime 17.
    own = sum(int(fields[n]) for n in (11, 12, 13, 14))
    children = 0
    for child in _children(pid):
        try:
            with open(f"/proc/{child}/stat") as f:
                child_fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children += int(child_fields[11]) + int(child_fields[12])
    tick = os.sysconf("SC_CLK_TCK")
    return own / tick, children / tick


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


def memory_kb(pid: int | str, name: str) -> int:
    """A `/proc/<pid>/status` field in kB: VmRSS (now) or VmHWM (peak)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


# -- the broker --------------------------------------------------------------------


@dataclass
class Broker:
    bootstrap: str
    state_dir: Path | None  # None: an existing broker, not ours to stop

    @classmethod
    def start(cls, tmp: Path, secured: bool = False) -> Broker:
        existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        if existing and not secured:
            log(f"using the broker at {existing} (KAFKA_BOOTSTRAP_SERVERS)")
            return cls(existing, None)
        state = tmp / "kafka"
        env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_PORT", "BACKUPWATCH_STATE")}
        log(f"starting a local Kafka {kafka_version()} in {state}")
        done = subprocess.run(
            ["bash", str(KAFKA_SH), "start", "--state-dir", str(state)]
            + ["--owner-pid", str(os.getpid())]
            + (["--secured"] if secured else []),
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"kafka.sh start failed ({done.returncode}):\n{done.stderr}")
        log(f"broker at {lines[-1].strip()}")
        return cls(lines[-1].strip(), state)

    def stop(self) -> None:
        if self.state_dir is None:
            return
        log("stopping the broker")
        subprocess.run(
            ["bash", str(KAFKA_SH), "stop", "--state-dir", str(self.state_dir)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
            check=False,
        )


@dataclass
class RawConfig:
    bootstrap: str
    prefix: str
    partitions: int
    group: str
    changelog: str
    total: int
    # Records per `getmany` and per `process` call, as the worker's default batch size.
    # Larger batches were slower here (1M records: 10,000 → 23k events/s, 5,000 → 24k,
    # 2,000 → 27k, 1,000 → 27k) and raise the peak RSS (407 MiB at 10,000, 237 MiB at
    # 2,000): a tick that decides a whole partition then lands in a bigger batch.
    max_records: int = 2_000
    # Where the naive Faust and Quix runners keep their local state.
    state_dir: str = ""
    store: str = "memory://"


async def committed_to_end(
    connection: KafkaConnection,
    group: str,
    topics: Sequence[str],
    partitions: int,
    commit: Any = None,
    timeout: float = 120.0,
    progress: Any = None,
) -> None:
    """Return once `group` has committed the end offset of every partition of `topics`
    (calling `commit()` before each look, when given; `progress()` every 5 s). One admin
    request a look, from this process: the workers are not asked anything meanwhile (a
    /metrics answer costs a worker milliseconds of CPU)."""
    from aiokafka import TopicPartition

    consumer = connection.consumer(enable_auto_commit=False)
    admin = connection.admin()
    await consumer.start()
    await admin.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        reported = time.monotonic()
        while True:
            if commit is not None:
                await commit()
            offsets = await admin.list_consumer_group_offsets(group, partitions=tps)
            behind = [
                tp
                for tp in tps
                if ends[tp] and (offsets.get(tp) is None or offsets[tp].offset < ends[tp])
            ]
            if not behind:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{group}: offsets not committed to the end: {behind}")
            if progress is not None and time.monotonic() - reported >= 5:
                reported = time.monotonic()
                progress()
            await asyncio.sleep(0.05)
    finally:
        await admin.close()
        await consumer.stop()


@dataclass
class Result:
    runner: str
    events: int
    seconds: float
    cpu: float
    hwm_kb: int
    alerts: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def cpu_per_1k(self) -> float:
        return self.cpu / self.events * 1000


def mib(kb: float) -> str:
    return f"{kb / 1024:,.0f} MiB"


def keyed_processor(
    partitions: int, load: Callable[[str, int], bytes | None], policy: Policy
) -> PartitionProcessor:
    """The core as a framework runner drives it: every device under `policy`, its state
    loaded from the framework's own store by `load`, its home partition the one Kafka's
    default partitioner gives its key, no index of devices kept across records."""

    def partition_for(key: bytes) -> int:
        return int(murmur2(key) & 0x7FFFFFFF) % partitions

    return PartitionProcessor(
        partitions,
        load=load,
        items_of=lambda partition: (),
        partition_for=partition_for,
        policy_for=lambda org_id: policy,
    )
