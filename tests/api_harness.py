"""A worker fed by the simulator with a fleet view caught up to the end, for the tests
of the status report API and the dashboard."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agents.settings import Settings
from agents.simulator.fleet import Fleet
from agents.simulator.producer import simulate
from schemas.models import Alert
from streams.kinds import worst
from tests.kafka_harness import fresh_name, log_tail
from tests.worker_harness import Pipeline, WorkerRun

START = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 10
TICK = timedelta(minutes=5)
END = START + timedelta(days=DAYS)
TOKEN = "s3cret-admin-token"  # noqa: S105 - the tests' own token
VIEWER = "s3cret-viewer-token"  # noqa: S105 - the tests' own token


def call(
    worker: WorkerRun,
    path: str,
    *,
    method: str = "GET",
    body: Any = None,
    token: str | None = VIEWER,
) -> tuple[int, Any, dict[str, str]]:
    """One request to the worker; with the viewer token unless `token` says otherwise
    (None: no Authorization header)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{worker.web}{path}", data=data, method=method)  # noqa: S310
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            raw, status, headers = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as err:
        raw, status, headers = err.read(), err.code, dict(err.headers)
    if headers.get("Content-Type", "").startswith("application/json"):
        return status, json.loads(raw), headers
    return status, raw.decode(), headers


def final_levels(alerts: Iterable[Alert]) -> dict[str, dict[str, str]]:
    """Per device and kind, the worst level over destinations after the last alert."""
    slots: dict[tuple[str, str, str | None], str] = {}
    for alert in sorted(alerts, key=lambda a: a.decided_at):
        if alert.transition != "reminder":
            slots[(alert.device_id, alert.kind, alert.destination_id)] = alert.to_state
    levels: dict[str, dict[str, str]] = {}
    for (device, kind, _dest), level in slots.items():
        kinds = levels.setdefault(device, {"connection": "ok", "backup": "ok", "completion": "ok"})
        kinds[kind] = worst([kinds[kind], level])  # type: ignore[list-item]
    return levels


class Fed:
    def __init__(
        self, pipeline: Pipeline, worker: WorkerRun, fleet: Fleet, viewer_tokens: Path
    ) -> None:
        self.pipeline = pipeline
        # The worker reads its viewer tokens from this file, and again when it changes.
        self.viewer_tokens = viewer_tokens
        self.worker = worker
        self.fleet = fleet
        self.alerts: list[Alert] = []

    def levels(self, device_id: str) -> dict[str, str]:
        return final_levels(self.alerts).get(
            device_id, {"connection": "ok", "backup": "ok", "completion": "ok"}
        )

    def all_rows(self, query: str = "", limit: int = 1000) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            path = f"/api/devices?limit={limit}{'&' + query if query else ''}"
            if cursor:
                path += f"&cursor={cursor}"
            status, body, _ = call(self.worker, path)
            assert status == 200, body
            rows.extend(body["devices"])
            cursor = body["next_cursor"]
            if cursor is None:
                return rows


async def until(check: Any, what: str, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await asyncio.to_thread(check)
        if last:
            return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


@asynccontextmanager
async def fed_worker(kafka_bootstrap: str, tmp: Path, devices: int = 60) -> AsyncIterator[Fed]:
    """A worker that has processed `DAYS` of a simulated fleet; its admin token is TOKEN,
    its viewer token VIEWER (from a file, `Fed.viewer_tokens`)."""
    prefix = fresh_name("bw-api-") + "."
    settings = Settings(
        bootstrap_servers=kafka_bootstrap,
        topic_prefix=prefix,
        app_id=prefix.rstrip(".") + "-app",
        partitions=4,
    )
    pipeline = Pipeline(settings, tmp)
    await pipeline.setup()
    viewer_tokens = tmp / "viewer-tokens"
    viewer_tokens.write_text(f"{VIEWER}\n")
    worker = pipeline.worker(
        api_token=TOKEN, viewer_tokens=(VIEWER,), viewer_tokens_file=viewer_tokens
    )
    try:
        worker.start()
        await asyncio.to_thread(worker.wait_ready)
        fleet = Fleet(devices=devices, seed=23, start=START, every_fault=True)
        await simulate(
            settings, fleet, start=START, days=DAYS, tick_every=TICK, record_timestamps="wall"
        )
        run = Fed(pipeline, worker, fleet, viewer_tokens)

        def caught_up() -> bool:
            status, body, _ = call(worker, "/api/summary")
            if status == 503:  # the worker's report reader is starting
                return False
            stream_time = body["view"]["stream_time"]
            return bool(
                body["view"]["caught_up"]
                and stream_time
                and datetime.fromisoformat(stream_time) >= END
                and body["totals"]["devices"] == len(fleet.devices)
            )

        await until(caught_up, "the fleet view to reach the end of the simulation")
        # A row is cut from the changelog at most once a second: on a busy machine some
        # may still be older than the last state written. Settled once the whole fleet
        # reads the same twice, more than a second apart.
        seen: dict[str, Any] = {}

        def settled() -> bool:
            rows = run.all_rows()
            now = time.monotonic()
            if rows != seen.get("rows"):
                seen.update(rows=rows, since=now)
                return False
            return bool(now - seen["since"] > 1.5)

        await until(settled, "the fleet view to settle")
        run.alerts = await pipeline.alerts()
        yield run
    finally:
        await pipeline.close()
        print(f"--- worker log (tail) ---\n{log_tail(worker.log_path, 40)}")
