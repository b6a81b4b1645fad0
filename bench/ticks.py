"""Tick cost and resident memory per device at fleet scale, without a broker.

    python -m bench.ticks [--devices 1000000] [--partitions 8] [--runs 5] [--slice 10000]

Builds one worker's state for `--devices` devices the way the worker holds it — the
`PartitionProcessor` with its deadline indexes, and the encoded states in a dict of
bytes per partition (what the `memory://` table keeps) — by feeding one heartbeat per
device after a tick on every input partition. A share of the devices (0 %, 1 %, 10 %)
last reached a destination just over three days before the tick, so their connection
warning is due.

Then, for each share, a tick on every input topic of every partition (one batch, as the
worker reads it) is timed: `process` of the 24 tick records, which pops the due devices
from the deadline index, decides them and encodes their new states. The median of
`--runs` ticks is reported per share (each run on a fresh copy of nothing: the due
devices of a run are decided, so a later tick finds them no longer due; each run
uses its own set of due devices).

Resident bytes per device: (RSS after building − RSS before) / devices, after a full
garbage collection, i.e. the encoded state, its dict entry and key, and the index
entries.
"""

from __future__ import annotations

import argparse
import gc
import shlex
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import orjson
from aiokafka.partitioner import murmur2

from bench.core import machine
from bench.harness import memory_kb
from streams.pipeline import Envelope, PartitionProcessor
from streams.policy import Policy

__all__ = ["main"]

T0 = datetime(2026, 11, 20, tzinfo=UTC)
TOPICS = 3


def tick_envelopes(partitions: int, at: datetime, offset: int) -> list[Envelope]:
    value = str(int(at.timestamp() * 1000)).encode()
    return [
        Envelope(topic, p, offset, None, value, at, tick=True)
        for p in range(partitions)
        for topic in range(TOPICS)
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description="tick cost and memory per device")
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after the build: the long-lived index is not scanned by the "
        "cyclic garbage collector any more",
    )
    parser.add_argument(
        "--slice",
        type=int,
        default=10_000,
        help="the most devices one result decides (the worker's decisions_per_result); "
        "0 = a whole tick in one result",
    )
    args = parser.parse_args(argv)
    n, parts = args.devices, args.partitions
    shares = (0.0, 0.01, 0.10)
    runs = args.runs
    print(f"command: {shlex.join(['python', '-m', 'bench.ticks', *argv])}")
    print(f"machine: {machine()}")

    homes: dict[bytes, int] = {}

    def partition_for(key: bytes) -> int:
        home = homes.get(key)
        if home is None:
            home = homes[key] = int(murmur2(key) & 0x7FFFFFFF) % parts
        return home

    gc.collect()
    rss_before = memory_kb("self", "VmRSS")
    states: list[dict[bytes, bytes]] = [{} for _ in range(parts)]

    def load(key: str, partition: int) -> bytes | None:
        return states[partition].get(key.encode())

    policy = Policy()
    processor = PartitionProcessor(
        parts,
        load=load,
        items_of=lambda partition: (),
        partition_for=partition_for,
        policy_for=lambda org_id: policy,
    )

    def carry_out(batch: list[Envelope]) -> int:
        # As the worker does: a tick deciding more than `--slice` devices is carried
        # out in several results, each written before the next is decided.
        alerts = 0
        while batch:
            result = processor.process(batch, args.slice or None)
            for key, value in result.writes.items():
                states[result.homes[key]][key.encode()] = value
            alerts += len(result.alerts)
            batch = result.rest
        return alerts

    # Each run r and share s gets its own slice of devices whose connection is due at
    # the run's tick: the devices with index % 1000 in that slice's range.
    clock = T0
    carry_out(tick_envelopes(parts, clock, 0))
    slices: list[tuple[float, int, range]] = []
    start = 0
    for run in range(runs):
        for share in shares:
            width = round(share * 1000)
            slices.append((share, run, range(start, start + width)))
            start += width
    if start > 1000:
        parser.error("too many runs for the due shares (at most 1000 per mille in all)")
    # Tick k stands for T0 + (k + 1) * 10 s. A device of slice k last reached a
    # destination 3 days before T0 + (k + 1) * 10 s - 5 s: its connection warning is
    # due at tick k and not before. Every other device was heard from 30 s before T0:
    # nothing of it is due during the ticks (its "online" flag lapses after 15 min).
    due_at: dict[int, int] = {}
    for k, (_share, _run, permille) in enumerate(slices):
        for m in permille:
            due_at[m] = k
    built = time.perf_counter()
    offsets = [0] * parts
    batch: list[Envelope] = []
    for d in range(n):
        device_id = f"dev-{d:07d}"
        key = device_id.encode()
        k = due_at.get(d % 1000)
        if k is None:
            seen = T0 - timedelta(seconds=30)
        else:
            seen = T0 - timedelta(days=3) + timedelta(seconds=(k + 1) * 10 - 5)
        value = orjson.dumps(
            {
                "schema": "heartbeat/1",
                "device_id": device_id,
                "user_id": f"user-{d // 2:07d}",
                "org_id": f"org-{d % 20:02d}",
                "event_time": seen.isoformat(),
                "app_version": "11.4.2",
                "os": "windows",
                "hostname": f"laptop-{d}",
                "reachable_destinations": ["cloud-eu"],
            }
        )
        p = partition_for(key)
        offsets[p] += 1
        batch.append(Envelope(0, p, offsets[p], key, value, seen))
        if len(batch) >= 5_000:
            carry_out(batch)
            batch = []
    carry_out(batch)
    del batch
    homes.clear()  # the worker keeps no such cache; partitions are hashed on demand
    gc.collect()
    rss_after = memory_kb("self", "VmRSS")
    stored = sum(len(k) + len(v) for part in states for k, v in part.items())
    print(
        f"built {n:,} devices in {time.perf_counter() - built:.1f} s; "
        f"{processor.devices_indexed():,} indexed"
    )
    print(
        f"resident per device: {(rss_after - rss_before) * 1024 / n:,.0f} B "
        f"(RSS {rss_before / 1024:,.0f} -> {rss_after / 1024:,.0f} MiB; "
        f"encoded key + state {stored / n:,.0f} B)"
    )
    # Every device that received a record is decided at the next tick (its facts
    # changed): this first tick decides them all; the measured ticks come after it.
    gc.collect()
    peak_before = memory_kb("self", "VmHWM")
    started = time.perf_counter()
    settled = carry_out(tick_envelopes(parts, T0 + timedelta(seconds=1), 1))
    print(
        f"the tick after the build (every device changed since the last tick): "
        f"{time.perf_counter() - started:.2f} s, {settled:,} alerts"
    )
    # One batch decides the whole fleet: its result holds every decided state, status
    # and write at once, which is what sets a worker's peak memory.
    peak_after = memory_kb("self", "VmHWM")
    print(
        f"  peak RSS {peak_before / 1024:,.0f} -> {peak_after / 1024:,.0f} MiB: "
        f"{(peak_after - peak_before) * 1024 / n:,.0f} B per device more while that tick"
        f" is decided (RSS after it {memory_kb('self', 'VmRSS') / 1024:,.0f} MiB)"
    )
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    print()
    timings: dict[float, list[float]] = {share: [] for share in shares}
    decided: dict[float, list[int]] = {share: [] for share in shares}
    # Tick k lands 10 s after tick k-1: slice k's devices (and only they) are due; the
    # slices of earlier ticks were decided then.
    if len(slices) * 10 >= 14 * 60:
        parser.error("too many runs: the ticks would reach the devices' online deadline")
    for k, (share, _run, _permille) in enumerate(slices):
        at = T0 + timedelta(seconds=(k + 1) * 10)
        ticks = tick_envelopes(parts, at, k + 2)
        if not args.gc_freeze:
            gc.collect()
        started = time.perf_counter()
        result = processor.process(ticks)
        for key, value in result.writes.items():
            states[result.homes[key]][key.encode()] = value
        timings[share].append(time.perf_counter() - started)
        decided[share].append(sum(t.devices_advanced for t in result.ticks))
        # Freed here, not in the next tick's timing (a 10 % tick's result holds
        # hundreds of thousands of objects).
        del result
    print(f"{'due':>6} {'devices decided':>16} {'tick ms (median)':>17} {'min':>8} {'max':>8}")
    for share in shares:
        ms = [t * 1000 for t in timings[share]]
        print(
            f"{share:>6.0%} {statistics.median(decided[share]):>16,.0f} "
            f"{statistics.median(ms):>17.2f} {min(ms):>8.2f} {max(ms):>8.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
