"""Where a process's CPU went, from py-spy's collapsed stacks, in parts that compare
across runners.

    python -m bench.profiles PROFILE.txt [PROFILE.txt ...] [--events N]
                             [--cpu-ms MS,MS,...] [--top N]

Each file is what `bench.pipeline --profile DIR` writes (`py-spy record --format raw`,
CPU samples only). Every sample is put in the first part below one of whose frames it
holds, so a sample in the core's state decoding counts as "core: decode stored states"
whatever called it; the parts are ordered from the most specific to the most general.
With `--events` (the events each run processed), the figures are CPU milliseconds per
1,000 events (the samples are 1/200 s each, `--rate 200`); otherwise shares of the run.
On a loaded machine a thread waiting for a core is sampled as if it ran, so the samples
overstate CPU time, by as much as the load: then give `--cpu-ms`, each run's CPU
milliseconds per 1,000 events as /proc counted them (`bench.pipeline` prints them), and
each profile's shares are spread over that. Time in `select` is listed apart: a thread
waiting for the network, sampled as running when the machine is loaded.
Files side by side: the same parts for each, so the difference between two runners
reads line by line. `--top N` also lists each file's N heaviest functions by their own
(leaf) samples.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

__all__ = ["LAYERS", "PARTS", "breakdown", "main"]

RATE_HZ = 200  # bench.pipeline.profiler's --rate

# (part, frames that put a sample in it): the first part any frame of a stack matches.
PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("start-up (imports)", ("_find_and_load ",)),
    (
        "web: /metrics and /readyz answered (the bench's polls)",
        ("aiohttp/", "agents/serving.py", "_accept_connection"),
    ),
    ("core: decode input records", ("decode (schemas/codec.py",)),
    ("core: decode stored states", ("decode_state (streams/state.py",)),
    ("core: encode states", ("encode_state (streams/state.py",)),
    ("core: statuses and alerts", ("device_status (streams/", "to_alert (streams/")),
    ("core: deadlines", ("next_deadline (streams/", "DeadlineIndex.")),
    ("core: state machine", ("apply (streams/machine.py", "advance (streams/machine.py")),
    ("core: user facts and policies looked up", ("facts_for (", "policy_for (")),
    ("core: the rest (batch, journal, isolation)", ("PartitionProcessor.",)),
    ("records made envelopes", ("envelopes (",)),
    ("metrics (counters, gauges)", ("Backupwatch._count", "update_gauges", "prometheus_client/")),
    ("state writes: store and changelog", ("Backupwatch._write", "StateCache.")),
    (
        "producer: records appended",
        ("AIOKafkaProducer.send", "_send_records", "BatchBuilder.", "create_batch"),
    ),
    (
        "producer: requests and acks",
        ("aiokafka/producer/", "Sender.", "SendProduceReqHandler"),
    ),
    (
        "Faust: per-record bookkeeping (track, ack, sensors)",
        (
            "Consumer.track_message",
            "Consumer.ack",
            "on_message_in",
            "records_iterator",
            "TopicBuffer",
            "Consumer.getmany (faust/",
            "_to_message",
            "_add_gap",
        ),
    ),
    ("Faust: commits", ("commit (faust/", "Consumer._commit", "force_commit")),
    ("consumer: fetch and parse (aiokafka)", ("aiokafka/consumer/", "_fetch_records")),
]
# What the parts above leave: by the library nearest the sample (from the innermost frame
# out), since every frame of the main thread lies under the event loop and Faust's worker.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("Faust: consumer thread hand-off", ("mode/threads.py", "mode/utils/futures.py")),
    ("Faust/mode: services, timers, other", ("faust/", "mode/")),
    ("aiokafka: client, connections", ("aiokafka/",)),
    ("asyncio: event loop, sockets", ("asyncio/",)),
]
OTHER = "other"


def breakdown(path: Path) -> tuple[Counter[str], Counter[str], int]:
    """(samples per part, samples per leaf function, total samples) of one profile."""
    parts: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")[1:]  # the first is the thread
        leaves[frames[-1].rsplit(":", 1)[0] + ")" if frames else OTHER] += n
        parts[_part(frames)] += n
    return parts, leaves, total


SELECT = "event loop: in select (waiting, mostly)"


def _part(frames: list[str]) -> str:
    if frames and "selectors.py" in frames[-1]:
        return SELECT
    for part, patterns in PARTS:
        for frame in frames:
            if any(pattern in frame for pattern in patterns):
                return part
    for frame in reversed(frames):
        for part, patterns in LAYERS:
            if any(pattern in frame for pattern in patterns):
                return part
    return OTHER


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="py-spy profiles broken down by part")
    parser.add_argument("profiles", nargs="+", type=Path)
    parser.add_argument("--events", type=int, help="events each run processed")
    parser.add_argument(
        "--cpu-ms",
        help="each profile's measured CPU ms per 1,000 events, comma-separated: the shares "
        "(select left out) are spread over it",
    )
    parser.add_argument("--top", type=int, default=0, help="also the N heaviest leaf functions")
    args = parser.parse_args(argv)
    measured = [float(x) for x in args.cpu_ms.split(",")] if args.cpu_ms else None
    if measured is not None and len(measured) != len(args.profiles):
        print("backupwatch: --cpu-ms needs one figure per profile", file=sys.stderr)
        return 2
    results = []
    for path in args.profiles:
        if not path.is_file():
            print(f"backupwatch: no profile at {path}", file=sys.stderr)
            return 2
        results.append(breakdown(path))

    def figure(n: int, total: int, column: int = 0) -> str:
        if measured is not None:
            return f"{n / max(total, 1) * measured[column]:10.2f}"
        if args.events:
            return f"{n / RATE_HZ / args.events * 1e6:10.2f}"
        return f"{100 * n / max(total, 1):9.1f}%"

    if measured is not None:
        # The select samples are left out of the total the measured CPU is spread over.
        results = [(parts, leaves, total - parts[SELECT]) for parts, leaves, total in results]
        unit = "CPU ms per 1k events (measured, by share)"
    else:
        unit = "CPU ms per 1k events" if args.events else "share of the samples"
    names = [path.stem[:10] for path in args.profiles]
    print(f"{unit:<56}" + "".join(f"{name:>11}" for name in names))
    order = [part for part, _ in PARTS + LAYERS] + [OTHER, SELECT]
    for part in order:
        if part == SELECT and measured is not None:
            continue
        if any(parts[part] for parts, _, _ in results):
            cells = [figure(p[part], t, n) for n, (p, _, t) in enumerate(results)]
            print(f"{part:<56}" + "".join(f" {cell}" for cell in cells))
    cells = [figure(t, t, n) for n, (_, _, t) in enumerate(results)]
    print(f"{'total':<56}" + "".join(f" {cell}" for cell in cells))
    for n, (path, (_, leaves, total)) in enumerate(zip(args.profiles, results, strict=True)):
        if args.top:
            print(f"\n{path}: heaviest functions by their own samples")
            for leaf, count in leaves.most_common(args.top):
                print(f"  {figure(count, total, n)}  {leaf}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
