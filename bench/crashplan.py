"""What one poll of a large CrashPlan console costs the bridge.

    python -m bench.crashplan --devices 100000 --runs 3

One invocation starts a local broker (or uses `KAFKA_BOOTSTRAP_SERVERS`) and the local
stand-in console of the tests (`tests/crashplan_console.py`) serving `--devices`
devices, a fifth of them with two destinations, 1,000 a page (the console's limit). Each
run, in a fresh process and on fresh topics:

* baseline: `pycpg` alone reads every page (`devices.get_page`, what any script
  reading the console pays: HTTP, JSON);
* the bridge: `Bridge.start`, then a first poll (every device new: all its records
  published), then a second poll after 1 % of the devices connected and sent data
  again (only theirs published).

The two alternate, run after run; the figures are medians. Wall and CPU time are the
child process's (the console answers from this process, on the same 2 cores: its
serving is in the wall times, not in the CPU times). Peak memory is the child's
high-water mark (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import Broker, log, memory_kb

REPO = Path(__file__).resolve().parents[1]
PAGE = 1000


def fleet(devices: int, now: datetime, seed: int = 7) -> list[dict[str, Any]]:
    from tests.crashplan_console import computer

    rng = random.Random(seed)
    fleet = []
    for i in range(devices):
        contact = now - timedelta(seconds=rng.randrange(0, 10 * 86400))
        destinations = [
            {
                "guid": "cloud-us",
                "last_connected": contact,
                "last_backup": contact - timedelta(minutes=rng.randrange(0, 120)),
                "last_completed": contact - timedelta(hours=rng.randrange(0, 72)),
                "percent": rng.choice((100.0, 100.0, 100.0, 99.5, 87.0)),
            }
        ]
        if i % 5 == 0:
            destinations.append(
                {
                    "guid": "nas-office",
                    "last_connected": contact - timedelta(days=rng.randrange(0, 20)),
                    "last_completed": contact - timedelta(days=rng.randrange(0, 30)),
                }
            )
        fleet.append(
            computer(
                f"{900000000000000000 + i}",
                user=f"{800000000000000000 + i // 2}",
                org=f"{700000000000000000 + i % 40}",
                hostname=f"wks-{i:06d}",
                last_connected=contact,
                registered=now - timedelta(days=rng.randrange(30, 1500)),
                destinations=destinations,
            )
        )
    return fleet


def change_one_percent(devices: list[dict[str, Any]], now: datetime) -> int:
    from tests.crashplan_console import iso

    changed = 0
    for device in devices[::100]:
        device["lastConnected"] = iso(now)
        usage = device["backupUsage"][0]
        usage["lastConnected"] = iso(now)
        usage["lastBackup"] = iso(now)
        changed += 1
    return changed


# -- the measured processes ----------------------------------------------------------


def _usage() -> dict[str, float]:
    # The peak from /proc (VmHWM), not `ru_maxrss`, which a process started by another
    # keeps from its parent across fork and exec (here: the console's whole fleet).
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": r.ru_utime + r.ru_stime, "peak_mib": memory_kb(os.getpid(), "VmHWM") / 1024}


def child_baseline(url: str) -> None:
    import pycpg.sdk

    sdk = pycpg.sdk.from_api_client(url, "key-1", "secret-1")
    started, cpu = time.perf_counter(), time.process_time()
    devices, number = 0, 1
    while True:
        page = sdk.devices.get_page(
            number, include_backup_usage=True, include_counts=False, page_size=PAGE
        )["computers"]
        devices += len(page)
        if len(page) < PAGE:
            break
        number += 1
    wall = time.perf_counter() - started
    print(
        json.dumps(
            {
                "wall_s": wall,
                "poll_cpu_s": time.process_time() - cpu,
                "devices": devices,
                **_usage(),
            }
        ),
        flush=True,
    )


def child_bridge(url: str, bootstrap: str, prefix: str) -> None:
    from agents.bridge.crashplan.runner import Bridge
    from agents.bridge.crashplan.settings import BridgeSettings
    from agents.settings import Settings

    async def run() -> None:
        settings = BridgeSettings(
            url=url,
            kafka=Settings(bootstrap_servers=bootstrap, topic_prefix=prefix, app_id=prefix),
            api_client_id="key-1",
            api_client_secret="secret-1",  # noqa: S106 (the stand-in console's)
        )
        bridge = Bridge(settings)
        await bridge.start(serve_metrics=False)
        try:
            for poll in ("first", "second"):
                if poll == "second":
                    await asyncio.to_thread(sys.stdin.readline)
                started, cpu = time.perf_counter(), time.process_time()
                summary = await bridge.poll()
                print(
                    json.dumps(
                        {
                            "poll": poll,
                            "wall_s": time.perf_counter() - started,
                            "poll_cpu_s": time.process_time() - cpu,
                            "devices": summary.devices,
                            "records": summary.records,
                            "by_schema": summary.by_schema,
                            **_usage(),
                        }
                    ),
                    flush=True,
                )
        finally:
            await bridge.close()

    asyncio.run(run())


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "bench.crashplan", *args],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _line(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the measured process ended ({process.wait()}) without a result")
    result: dict[str, Any] = json.loads(line)
    return result


# -- the run --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=("baseline", "bridge"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "baseline":
        child_baseline(args.url)
        return 0
    if args.child == "bridge":
        child_bridge(args.url, args.bootstrap, args.prefix)
        return 0

    from tests.crashplan_console import running_console

    now = datetime.now(UTC).replace(microsecond=0)
    log(f"building a console of {args.devices:,} devices")
    devices = fleet(args.devices, now)
    results: dict[str, list[dict[str, Any]]] = {"baseline": [], "first": [], "second": []}
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker.start(Path(tmp))
        try:
            for run in range(args.runs):
                with running_console() as console:
                    console.devices = [dict(d) for d in devices]
                    baseline = _spawn("--child", "baseline", "--url", console.url)
                    results["baseline"].append(_line(baseline))
                    baseline.wait()
                    log(f"run {run + 1}: baseline {results['baseline'][-1]}")
                    prefix = f"bench{os.getpid()}r{run}."
                    bridge = _spawn(
                        "--child", "bridge", "--url", console.url,
                        "--bootstrap", broker.bootstrap, "--prefix", prefix,
                    )  # fmt: skip
                    results["first"].append(_line(bridge))
                    log(f"run {run + 1}: first poll {results['first'][-1]}")
                    console.devices = [_deep(d) for d in console.devices]
                    changed = change_one_percent(console.devices, now + timedelta(minutes=1))
                    assert bridge.stdin is not None
                    bridge.stdin.write("go\n")
                    bridge.stdin.flush()
                    results["second"].append(_line(bridge))
                    bridge.wait()
                    log(f"run {run + 1}: second poll ({changed} changed) {results['second'][-1]}")
        finally:
            broker.stop()
    report(args, results)
    return 0


def _deep(device: dict[str, Any]) -> dict[str, Any]:
    copy = dict(device)
    copy["backupUsage"] = [dict(u) for u in device["backupUsage"]]
    return copy


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(r[key]) for r in rows)


def report(args: argparse.Namespace, results: dict[str, list[dict[str, Any]]]) -> None:
    cpu = platform.processor() or platform.machine()
    print(
        f"\nmachine: {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{args.devices:,} devices, {args.runs} runs (medians)"
    )
    base_wall = _median(results["baseline"], "wall_s")
    base_cpu = _median(results["baseline"], "poll_cpu_s")
    print(f"{'':<28}{'wall s':>9}{'CPU s':>9}{'records':>10}{'peak MiB':>10}{'× wall':>8}")
    for name, label in (
        ("baseline", "pycpg reads every page"),
        ("first", "bridge, first poll"),
        ("second", "bridge, 1 % changed"),
    ):
        rows = results[name]
        wall, cpu_s = _median(rows, "wall_s"), _median(rows, "poll_cpu_s")
        records = int(_median(rows, "records")) if name != "baseline" else 0
        print(
            f"{label:<28}{wall:>9.1f}{cpu_s:>9.1f}{records:>10,}"
            f"{_median(rows, 'peak_mib'):>10.0f}{wall / base_wall:>8.2f}"
        )
    print(f"(baseline CPU {base_cpu:.1f} s)")
    for row in results["first"][:1]:
        print(f"first poll records by schema: {row['by_schema']}")
    for row in results["second"][:1]:
        print(f"second poll records by schema: {row['by_schema']}")


if __name__ == "__main__":
    sys.exit(main())
