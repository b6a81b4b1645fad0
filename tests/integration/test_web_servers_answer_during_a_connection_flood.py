"""A real worker (and so its web server, built as the notifier's and the report reader's
are) keeps answering `/healthz`, `/readyz` and `/metrics` while a hostile client tries
to hold 20,000 connections open with half a request each, opening a new one whenever
the server closes one; and it writes no error flood to its log.

The attacking clients are processes of their own (`tests.flood`, loopback only): each
holds 10,000 connections, within the open-file limit a process may have here.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

import aiohttp
import pytest

from agents.process import REPO
from tests.worker_harness import Pipeline

pytestmark = pytest.mark.integration

ATTACKERS = 2
CONNECTIONS_EACH = 10_000
FLOOD_SECONDS = 30.0
PROBED = ("/healthz", "/readyz", "/metrics")
# How long one probe may take before it counts as failed (Prometheus's usual scrape
# timeout), and how many failures in a row make a probed process "down" (as a
# Kubernetes probe's failureThreshold).
PROBE_TIMEOUT = 10.0
FAILURES_IN_A_ROW = 3


async def test_health_and_metrics_answer_while_20000_connections_are_held(
    pipeline: Pipeline,
) -> None:
    worker = pipeline.worker()
    worker.start()
    worker.wait_ready()
    log_before = worker.log_path.stat().st_size
    host, port = worker.settings.web_host, worker.settings.web_port
    attackers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.flood", host, str(port)]
            + [str(CONNECTIONS_EACH), str(FLOOD_SECONDS)],
            cwd=REPO,
            stdout=subprocess.PIPE,
        )
        for _ in range(ATTACKERS)
    ]
    latencies: dict[str, list[float]] = {path: [] for path in PROBED}
    failures: list[str] = []
    in_a_row = dict.fromkeys(PROBED, 0)
    down: list[str] = []
    # The worker's open files (its connections among them), as the kernel counts them.
    open_files = [_open_files(worker.pid)]
    try:
        connector = aiohttp.TCPConnector(force_close=True)  # a new connection per probe
        timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            while any(a.poll() is None for a in attackers):
                for path in PROBED:
                    started = time.perf_counter()
                    try:
                        async with session.get(f"{worker.web}{path}") as response:
                            await response.read()
                            status = response.status
                    except (aiohttp.ClientError, TimeoutError) as err:
                        status, failure = 0, f"{path}: {type(err).__name__} {err}"
                    else:
                        latencies[path].append(time.perf_counter() - started)
                        failure = f"{path}: HTTP {status}"
                    if status == 200:
                        in_a_row[path] = 0
                        continue
                    failures.append(failure)
                    in_a_row[path] += 1
                    if in_a_row[path] >= FAILURES_IN_A_ROW:
                        down.append(f"{path} failed {in_a_row[path]} times in a row")
                open_files.append(_open_files(worker.pid))
                # Probes at a scraper's pace, not the attackers'.
                await asyncio.sleep(0.25)
    finally:
        for attacker in attackers:
            attacker.wait(timeout=FLOOD_SECONDS + 60)
    floods = [json.loads(a.stdout.read() or b"{}") for a in attackers if a.stdout]
    log = worker.log_path.read_bytes()[log_before:].decode(errors="replace").splitlines()

    report = {
        "connections tried at once": ATTACKERS * CONNECTIONS_EACH,
        "attackers": floods,
        "probes": {
            path: {
                "answered": len(times),
                "median_ms": round(1000 * statistics.median(times), 1) if times else None,
                "max_ms": round(1000 * max(times), 1) if times else None,
            }
            for path, times in latencies.items()
        },
        "failed probes": failures[:10],
        "failed probes in all": len(failures),
        "worker open files": {"before": open_files[0], "most": max(open_files)},
        "worker log lines during the flood": len(log),
    }
    print(json.dumps(report, indent=2))
    print("\n".join(log[:20]))

    assert all(a.returncode == 0 for a in attackers), floods
    # The attack was what it says: (nearly) every one of its connections was made.
    assert sum(f["opened"] for f in floods) >= 0.9 * ATTACKERS * CONNECTIONS_EACH, floods
    assert not down, (down, failures)
    assert all(len(times) >= 10 for times in latencies.values()), report
    assert not [line for line in log if "Too many open files" in line]
    assert not [line for line in log if "Traceback" in line], log[:40]
    # The bad requests are logged at most once per 10 s (plus the worker's own lines).
    assert len(log) < 50, log[:60]
    # The connection bound (1000 by default) held, with room for the rest to spare.
    assert max(open_files) < open_files[0] + worker.settings.web_max_connections + 200, report
    assert worker.running


def _open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
