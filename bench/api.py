"""The status report API under measurement.

    python -m bench.api [latency|load|all] [--devices N] [--requests N]
                        [--records N] [--load-devices N] [--rate R] [--runs N]

* **latency**: a server process with the API over a fleet view of `--devices` devices
  (states made by the core from the benchmark workload, then decided at staggered
  times so that every state occurs) answers sequential requests over one keep-alive
  connection: `/api/devices?state=critical` (one page), the whole-fleet CSV, the default
  listing (every device sorted by state), one device, one org summary. Each request
  finds the view changed (as under a live pipeline), so each answer is computed; the
  critical page is also asked with the view unchanged, answered from the last answer.
  The baseline, in the same server and run, is a handler returning the same bytes as
  the critical page prebuilt: what HTTP and transfer cost alone. p50/p99 of each.
* **load**: a real broker and the shipped worker; the worker processes `--records`
  input records twice per run, once with no HTTP requests and once while a client asks
  `--rate` requests a second (critical page, org summary, one device, in turn). Runs
  alternate the order. Reported: events/s with and without the load, their ratio, and
  the latency of the requests served meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from agents.settings import Settings
from bench.core import machine
from bench.workload import fleet_records

__all__ = ["main"]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# -- latency: the server ----------------------------------------------------------


def build_view(devices: int) -> tuple[Any, float]:
    """A fleet view of `devices` devices, their states made by the core, and the bytes
    the view holds per device (traced while it takes the states)."""
    import tracemalloc

    from agents.report.fleet import FleetView
    from schemas.codec import decode
    from streams.machine import advance, apply
    from streams.pipeline import CLOCK_KEY_PREFIX
    from streams.policy import DEFAULT_POLICY
    from streams.state import encode_state

    records = fleet_records(3 * devices, devices)
    states: dict[str, Any] = {}
    for _key, value in records:
        event = decode(value)
        now = event.event_time  # type: ignore[union-attr]
        new, _ = apply(states.get(event.device_id), event, now, DEFAULT_POLICY)
        if new is not None:
            states[event.device_id] = new
    end = max(s.last_heartbeat or s.first_seen for s in states.values())
    partitions = 8
    records = []
    for n, (device_id, state) in enumerate(states.items()):
        # Decided 0–8 days after the data ends: ok, warning and critical devices.
        decided, _ = advance(state, end + timedelta(days=n % 9), DEFAULT_POLICY)
        records.append((device_id.encode(), encode_state(decided), n % partitions))
    del states
    tracemalloc.start()
    view = FleetView(lambda _org: DEFAULT_POLICY)
    for key, value, partition in records:
        # A copy: the view's bytes, as a consumer's record would give them, are its own.
        view.take(key, bytes(bytearray(value)), partition)
    view.rows  # noqa: B018 - cut every row: what the view holds once read
    held, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    clock = (end + timedelta(days=8)).timestamp() * 1000
    for p in range(partitions):
        view.take(f"{CLOCK_KEY_PREFIX}{p}".encode(), f"{clock:.0f};;;".encode(), p)
    view.caught_up.set()
    return view, held / len(view.rows)


async def serve(devices: int, port: int) -> None:
    from aiohttp import web

    from agents.books.policies import PolicyBook
    from agents.report.api import attach_routes

    started = time.perf_counter()
    view, per_device = build_view(devices)
    settings = Settings(web_port=port)

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        raise RuntimeError("the latency benchmark makes no admin writes")

    @web.middleware
    async def view_changed(request: web.Request, handler: Any) -> web.StreamResponse:
        # As under a live pipeline, each request finds the view changed since the last
        # one, so that every answer is computed; the "given again" case asks without.
        if REMEMBERED not in request.headers:
            view.generation += 1
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(middlewares=[view_changed])
    attach_routes(app.router, settings, view, PolicyBook(settings), publish)
    baseline = http_body(view)

    async def prebuilt(_request: web.Request) -> web.Response:
        return web.Response(body=baseline, content_type="application/json")

    app.router.add_get("/bench/prebuilt", prebuilt)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(
        f"ready {len(view.rows)} {time.perf_counter() - started:.1f} {per_device:.0f}", flush=True
    )
    await asyncio.Event().wait()


def http_body(view: Any) -> bytes:
    """The bytes of the critical page, built once (the baseline's answer)."""
    import msgspec

    from agents.report.bodies import device_entry
    from agents.report.query import parse_query
    from streams.report import select

    ctx = view.context()
    page = select(list(view.rows.values()), parse_query({"state": "critical"}), ctx)
    return msgspec.json.encode(
        {"devices": [device_entry(r, ctx) for r in page.rows], "total": page.total}
    )


REMEMBERED = "X-Bench-View-Unchanged"


def timed_get(
    conn: http.client.HTTPConnection,
    path: str,
    ok: tuple[int, ...] = (200,),
    headers: dict[str, str] | None = None,
) -> tuple[float, int]:
    """(seconds, bytes of the body) of one GET; 503 answers give -1 bytes."""
    started = time.perf_counter()
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    took = time.perf_counter() - started
    if response.status not in ok:
        raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
    return took, -1 if response.status == 503 else len(body)


def latency(devices: int, requests: int) -> str:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.api",
            "_serve",
            "--devices",
            str(devices),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError("the API server did not start")
        log(f"server: {int(line[1]):,} devices in the view, built in {line[2]} s")
        held = f"The view holds {int(line[3]):,} B per device (tracemalloc, encoded state and row)."
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        some_device = "dev-0000001"
        cases: list[tuple[str, str, int]] = [
            ("baseline: prebuilt critical page", "/bench/prebuilt", requests),
            ("/api/devices?state=critical", "/api/devices?state=critical", requests),
            (
                "the same, given again (view unchanged)",
                "/api/devices?state=critical",
                requests,
            ),
            ("/api/devices (all, by state)", "/api/devices", requests),
            (f"/api/devices/{some_device}", f"/api/devices/{some_device}", requests),
            ("/api/orgs/org-01/summary", "/api/orgs/org-01/summary", max(10, requests // 4)),
            ("/api/devices.csv (whole fleet)", "/api/devices.csv", max(5, requests // 20)),
        ]
        rows = []
        floor = None
        for label, path, n in cases:
            headers = {REMEMBERED: "1"} if label.endswith("(view unchanged)") else None
            timed_get(conn, path, headers=headers)  # warm
            times, size = [], 0
            for _ in range(n):
                took, size = timed_get(conn, path, headers=headers)
                times.append(took * 1000)
            p50, p99 = statistics.median(times), percentile(times, 99)
            floor = floor or p50
            rows.append(
                f"| {label} | {n} | {size / 1024:,.0f} KiB | {p50:,.1f} | {p99:,.1f} | "
                f"{p50 / floor:,.1f}× |"
            )
            log(f"  {label}: p50 {p50:,.1f} ms, p99 {p99:,.1f} ms")
        return "\n".join(
            [
                f"API latency at {devices:,} devices ({machine()})",
                "",
                "| request | n | body | p50 ms | p99 ms | p50 / baseline |",
                "|---|---:|---:|---:|---:|---:|",
                *rows,
                "",
                held,
            ]
        )
    finally:
        server.kill()
        server.wait()


# -- load: the worker's throughput with and without requests ----------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Load(threading.Thread):
    """Requests at a steady rate against the worker started under `app_id`, from the
    moment it answers until stopped."""

    def __init__(self, workers: Any, app_id: str, rate: float, paths: list[str]) -> None:
        super().__init__(daemon=True)
        self.workers = workers
        self.app_id = app_id
        self.interval = 1 / rate
        self.paths = paths
        self.times: list[float] = []
        self.failures = 0
        self.unavailable = 0
        self.halt = threading.Event()

    def _worker(self) -> Any:
        while not self.halt.is_set():
            for worker in self.workers.started:
                if worker.settings.app_id == self.app_id and worker.readyz() is not None:
                    return worker
            self.halt.wait(0.1)
        return None

    def run(self) -> None:
        worker = self._worker()
        if worker is None:
            return
        host, port = worker.settings.web_host, worker.settings.web_port
        conn = http.client.HTTPConnection(host, port, timeout=30)
        n = 0
        next_at = time.monotonic()
        while not self.halt.is_set():
            path = self.paths[n % len(self.paths)]
            n += 1
            try:
                # A device is unknown (404) until the view has read its first state;
                # the worker answers 503 until its report reader has started.
                took, size = timed_get(conn, path, ok=(200, 404, 503))
                if size < 0:
                    self.unavailable += 1
                else:
                    self.times.append(took * 1000)
            except (OSError, RuntimeError, http.client.HTTPException):
                self.failures += 1
                conn = http.client.HTTPConnection(host, port, timeout=30)
            next_at += self.interval
            self.halt.wait(max(0.0, next_at - time.monotonic()))


def load(records: int, devices: int, runs: int, rate: float) -> str:
    from agents.kafka.topics import ensure_topics
    from bench.harness import Broker
    from bench.pipeline import Workers, fill, worker_run

    tmp = Path(tempfile.mkdtemp(prefix="bw-bench-api-"))
    broker = Broker.start(tmp)
    workers = None
    try:
        base = Settings(
            bootstrap_servers=broker.bootstrap,
            topic_prefix=f"bench-api-{uuid.uuid4().hex[:6]}.",
            partitions=8,
        )
        asyncio.run(ensure_topics(base))
        log(f"filling {records:,} records of {devices:,} devices")
        filled = asyncio.run(fill(base, fleet_records(records, devices), None))
        workers = Workers(base, tmp)
        paths = [
            "/api/devices?state=critical",
            "/api/orgs/org-01/summary",
            "/api/devices/dev-0000001",
            "/api/devices?sort=days_inactive&limit=100",
        ]
        rates: dict[str, list[float]] = {"quiet": [], "loaded": []}
        # The worker process's own CPU per 1,000 events (its report reader is another
        # process): what passing requests through costs it, apart from contention.
        cpu: dict[str, list[float]] = {"quiet": [], "loaded": []}
        latencies: list[float] = []
        failures = unavailable = 0
        for run in range(runs):
            # Alternate the order, so that a drift of the machine does not favour one.
            for mode in ("quiet", "loaded") if run % 2 == 0 else ("loaded", "quiet"):
                app_id = f"bench-api-{mode}-{run}-{uuid.uuid4().hex[:4]}"
                client = Load(workers, app_id, rate, paths) if mode == "loaded" else None
                if client is not None:
                    client.start()
                worker, result = worker_run(workers, app_id, filled.total)
                if client is not None:
                    client.halt.set()
                    client.join()
                    latencies.extend(client.times)
                    failures += client.failures
                    unavailable += client.unavailable
                    log(
                        f"    {len(client.times)} requests answered meanwhile"
                        f" ({client.unavailable} before the report reader was up)"
                    )
                worker.stop()
                rates[mode].append(result.rate)
                cpu[mode].append(result.cpu_per_1k)
                log(
                    f"  run {run + 1} {mode}: {result.rate:,.0f} events/s,"
                    f" worker CPU {result.cpu_per_1k:.4f} s / 1k events"
                )
        quiet, loaded = statistics.median(rates["quiet"]), statistics.median(rates["loaded"])

        def runs_of(mode: str) -> str:
            return ", ".join(f"{r:,.0f}" for r in rates[mode])

        return "\n".join(
            [
                f"Worker throughput under API load ({records:,} records, {devices:,} devices, "
                f"8 partitions, {rate:g} requests/s; {machine()})",
                "",
                f"| | events/s (median of {runs}) | each run | worker CPU s / 1k events |",
                "|---|---:|---|---:|",
                f"| no requests | {quiet:,.0f} | {runs_of('quiet')} "
                f"| {statistics.median(cpu['quiet']):.4f} |",
                f"| {rate:g} requests/s | {loaded:,.0f} | {runs_of('loaded')} "
                f"| {statistics.median(cpu['loaded']):.4f} |",
                "",
                f"Under load: {loaded / quiet:.1%} of the quiet throughput. Requests served "
                f"meanwhile: {len(latencies)} (p50 {statistics.median(latencies):,.1f} ms, "
                f"p99 {percentile(latencies, 99):,.1f} ms), {failures} failed, {unavailable} "
                "answered 503 while the report reader started.",
            ]
        )
    finally:
        if workers is not None:
            workers.stop_all()
        broker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n")[0])
    parser.add_argument(
        "what", nargs="?", default="all", choices=["all", "latency", "load", "_serve"]
    )
    parser.add_argument("--devices", type=int, default=100_000, help="latency: devices in the view")
    parser.add_argument("--requests", type=int, default=200, help="latency: requests per case")
    parser.add_argument("--records", type=int, default=200_000, help="load: input records")
    parser.add_argument("--load-devices", type=int, default=20_000, help="load: devices")
    parser.add_argument("--rate", type=float, default=10.0, help="load: requests per second")
    parser.add_argument("--runs", type=int, default=3, help="load: runs of each mode")
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.what == "_serve":
        asyncio.run(serve(args.devices, args.port))
        return 0
    os.environ.setdefault("PYTHONHASHSEED", "0")
    reports = []
    if args.what in ("all", "latency"):
        reports.append(latency(args.devices, args.requests))
    if args.what in ("all", "load"):
        reports.append(load(args.records, args.load_devices, args.runs, args.rate))
    print("\n\n".join(reports))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
