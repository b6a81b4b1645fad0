"""The report is answered by a process beside each worker: the worker passes requests
through, starts the reader again when it dies, and leaves none behind when it ends."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.kafka_harness import eventually
from tests.scenarios import steady_fleet
from tests.unit.factories import T0
from tests.worker_harness import Pipeline, WorkerRun

pytestmark = pytest.mark.integration

DEVICES = {f"dev-{n}" for n in range(6)}


def _readers_of(worker_pid: int) -> list[int]:
    """The report reader processes whose parent is `worker_pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # The command may hold spaces; the fields after its closing ")" do not.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == worker_pid and b"agents.report.reader" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _socket_of(pid: int) -> Path:
    args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return Path(args[args.index("--socket") + 1])


def _nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _listed(worker: WorkerRun) -> set[str] | None:
    try:
        status, body = worker.get("/api/devices?limit=1000", timeout=5)
    except OSError:
        return None
    if status != 200:
        return None
    return {row["device_id"] for row in json.loads(body)["devices"]}


async def test_the_worker_restarts_its_report_reader_and_takes_it_down_when_it_ends(
    pipeline: Pipeline,
) -> None:
    scenario = steady_fleet(T0, hours=6, devices=len(DEVICES))
    worker = pipeline.worker()
    worker.start()
    worker.wait_ready()
    await pipeline.play(scenario.steps)
    await eventually(lambda: _listed(worker) == DEVICES, what="the API to list the fleet")

    (reader,) = await eventually(
        lambda: _readers_of(worker.pid), what="one report reader process beside the worker"
    )
    assert reader != worker.pid
    # Alerts before reports: the reader yields the CPU to its worker (default nice 10).
    assert _nice(reader) == _nice(worker.pid) + 10
    assert (worker.readyz() or {}).get("report_reader") == "running"

    os.kill(reader, signal.SIGKILL)

    def answering_again() -> list[int] | None:
        again = _readers_of(worker.pid)
        if again and again != [reader] and _listed(worker) == DEVICES:
            return again
        return None

    (restarted,) = await eventually(
        answering_again, what="a new report reader listing the fleet", timeout=60
    )

    socket = _socket_of(restarted)
    assert socket.exists()
    worker.kill()  # SIGKILL: the worker cannot take its reader down itself
    await eventually(
        lambda: not _alive(restarted), what="the reader to end after its worker", timeout=15
    )
    # ... nor remove the reader's socket: the reader does, with its directory.
    assert not socket.parent.exists()


async def test_a_worker_stopped_with_sigterm_ends_its_report_reader(pipeline: Pipeline) -> None:
    worker = pipeline.worker()
    worker.start()
    worker.wait_ready()
    (reader,) = await eventually(
        lambda: _readers_of(worker.pid), what="one report reader process beside the worker"
    )
    socket = _socket_of(reader)
    worker.stop()
    await eventually(lambda: not _alive(reader), what="the reader to end with its worker")
    await eventually(
        lambda: not socket.parent.exists(), what="the reader's socket directory to be removed"
    )
