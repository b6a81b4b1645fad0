"""A hostile HTTP client: holds many connections open on a server, each with half a
request (a request line and one header, never the blank line that ends the headers), and
opens a new one a second after the server closes one, for a given time.

    python -m tests.flood HOST PORT CONNECTIONS SECONDS

Loopback only. Prints one JSON line when done: connections opened in all, the most held
at once, those held at the end, connection attempts refused or failed. One process holds
as many connections as its open-file limit allows (raised to the hard limit); a test
wanting more starts several.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["FloodReport", "flood_and_probe", "main", "open_file_limit"]

HALF_A_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: flood\r\nUser-Agent: flood\r\n"


class Flood:
    def __init__(self, host: str, port: int) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise SystemExit(f"flood: loopback addresses only, not {host}")
        self.host, self.port = host, port
        self.opened = 0
        self.held = 0
        self.most_held = 0
        self.failed = 0

    async def hold(self) -> None:
        """One connection slot: connect, send half a request, wait for the server to
        close it, again, until cancelled."""
        while True:
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                self.failed += 1
                # The server's queue is full: try again once it has been served.
                await asyncio.sleep(0.05)
                continue
            self.opened += 1
            self.held += 1
            self.most_held = max(self.most_held, self.held)
            try:
                writer.write(HALF_A_REQUEST)
                await reader.read()
            except OSError:
                pass
            finally:
                self.held -= 1
                writer.close()
            # Back a second later: the flood stays as large without spending this
            # machine's CPU on reconnecting (the tests run beside other work).
            await asyncio.sleep(1.0)


async def run(host: str, port: int, connections: int, seconds: float) -> dict[str, int]:
    flood = Flood(host, port)
    slots = []
    for n in range(connections):
        slots.append(asyncio.create_task(flood.hold()))
        if n % 100 == 99:
            # On loopback a connect does the server's side of the handshake in the
            # call itself: let the connections made so far be taken up meanwhile.
            await asyncio.sleep(0)
    await asyncio.sleep(seconds)  # the flood's length, once every slot has started
    for slot in slots:
        slot.cancel()
    await asyncio.gather(*slots, return_exceptions=True)
    return {
        "opened": flood.opened,
        "most_held": flood.most_held,
        "failed": flood.failed,
    }


# -- the tests' side: attack a server and probe it meanwhile ------------------------------

REPO = Path(__file__).resolve().parents[1]
# How long one probe may take before it counts as failed (Prometheus's usual scrape
# timeout), and how many failures in a row make a probed process "down" (a Kubernetes
# probe's failureThreshold).
PROBE_TIMEOUT = 10.0
FAILURES_IN_A_ROW = 3


@dataclass
class FloodReport:
    """What a flood against one server did, and how its probes fared."""

    attackers: list[dict[str, Any]]
    latencies: dict[str, list[float]]
    failures: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)
    # The server process's open files before and at most during the flood.
    open_files: tuple[int, int] = (0, 0)
    # The most TCP connections to the server's port established at once, as the kernel
    # counts them: on the clients' side (what the attack holds, accepted by the server or
    # not) and on the server's (accepted, or waiting to be).
    most_established: tuple[int, int] = (0, 0)
    log: list[str] = field(default_factory=list)
    # How long the flood went on, as the prober saw it.
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "attackers": self.attackers,
            "probes": {
                path: {
                    "answered": len(times),
                    "median_ms": round(1000 * statistics.median(times), 1) if times else None,
                    "max_ms": round(1000 * max(times), 1) if times else None,
                }
                for path, times in self.latencies.items()
            },
            "failed probes": len(self.failures),
            "first failures": self.failures[:5],
            "down": self.down,
            "open files (before, most)": self.open_files,
            "most established connections (clients' side, server's side)": (self.most_established),
            "log lines during the flood": len(self.log),
            "seconds": round(self.seconds, 1),
        }


async def flood_and_probe(
    base_url: str,
    pid: int,
    paths: tuple[str, ...],
    log_path: Path,
    *,
    attackers: int,
    connections_each: int,
    seconds: float,
) -> FloodReport:
    """Start `attackers` processes holding `connections_each` connections each on the
    server at `base_url` for `seconds`, and probe `paths` meanwhile, a new connection per
    probe, at a scraper's pace."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    log_before = log_path.stat().st_size
    processes = [
        subprocess.Popen(  # noqa: S603 - this module, loopback only
            [sys.executable, "-m", "tests.flood", host, port, str(connections_each), str(seconds)],
            cwd=REPO,
            stdout=subprocess.PIPE,
        )
        for _ in range(attackers)
    ]
    report = FloodReport([], {path: [] for path in paths})
    in_a_row = dict.fromkeys(paths, 0)
    flood_started = time.monotonic()
    before = most = _open_files(pid)
    clients = server = 0
    last_count = 0.0
    try:
        connector = aiohttp.TCPConnector(force_close=True)
        timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            # However slow a busy machine makes the attackers, the probing ends.
            deadline = time.monotonic() + seconds + 120
            while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
                for path in paths:
                    started = time.perf_counter()
                    try:
                        async with session.get(f"{base_url}{path}") as response:
                            await response.read()
                            status = response.status
                    except (aiohttp.ClientError, TimeoutError) as err:
                        status, failure = 0, f"{path}: {type(err).__name__} {err}"
                    else:
                        report.latencies[path].append(time.perf_counter() - started)
                        failure = f"{path}: HTTP {status}"
                    if status == 200:
                        in_a_row[path] = 0
                        continue
                    report.failures.append(failure)
                    in_a_row[path] += 1
                    if in_a_row[path] == FAILURES_IN_A_ROW:
                        report.down.append(f"{path} failed {FAILURES_IN_A_ROW} times in a row")
                most = max(most, _open_files(pid))
                if time.monotonic() - last_count >= 1.0:  # a large table to read
                    held, accepted = _established(int(port))
                    clients, server = max(clients, held), max(server, accepted)
                    last_count = time.monotonic()
                await asyncio.sleep(0.25)  # a scraper's pace, not the attackers'
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=60)
    report.attackers = [
        json.loads(p.stdout.read() or b'{"unfinished": true}') for p in processes if p.stdout
    ]
    report.seconds = time.monotonic() - flood_started
    report.open_files = (before, most)
    report.most_established = (clients, server)
    report.log = log_path.read_bytes()[log_before:].decode(errors="replace").splitlines()
    return report


def _established(port: int) -> tuple[int, int]:
    """TCP connections in state ESTABLISHED to `port` (the clients' ends) and from it
    (the server's ends), from the kernel's table."""
    to_port = from_port = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines, None)
            for line in lines:
                local, remote, state = line.split(None, 4)[1:4]
                if state != "01":
                    continue
                if int(remote.rsplit(":", 1)[1], 16) == port:
                    to_port += 1
                elif int(local.rsplit(":", 1)[1], 16) == port:
                    from_port += 1
    return to_port, from_port


@contextlib.contextmanager
def open_file_limit(soft: int) -> Iterator[None]:
    """This process's soft open-file limit at `soft` meanwhile: what a process started
    meanwhile inherits (a service manager's default is 1,024)."""
    before, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (before, hard))


def _open_files(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:  # the process is gone: the probes say so
        return 0


def main(argv: list[str]) -> int:
    host, port, connections, seconds = argv[0], int(argv[1]), int(argv[2]), float(argv[3])
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    started = time.monotonic()
    result: dict[str, Any] = dict(asyncio.run(run(host, port, connections, seconds)))
    result["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
