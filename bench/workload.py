"""A realistic telemetry mix for the benchmarks: 80 % heartbeats, 20 % progress reports."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson

__all__ = ["START", "fleet_records"]

START = datetime(2026, 11, 1, tzinfo=UTC)


def fleet_records(
    count: int, devices: int, seed: int = 7, start: datetime = START
) -> list[tuple[bytes, bytes]]:
    """(key, value) records as an endpoint fleet sends them, in time order."""
    rng = random.Random(seed)  # noqa: S311 - workload shape, not security
    records: list[tuple[bytes, bytes]] = []
    step = timedelta(days=1) / max(1, count // 3)
    for n in range(count):
        device = rng.randrange(devices)
        device_id = f"dev-{device:07d}"
        at = start + n * step
        common = {
            "device_id": device_id,
            "user_id": f"user-{device // 2:07d}",
            "org_id": f"org-{device % 20:02d}",
            "event_time": at.isoformat(),
        }
        if rng.random() < 0.8:
            value = {
                "schema": "heartbeat/1",
                **common,
                "app_version": "11.4.2",
                "os": "windows",
                "hostname": f"laptop-{device}",
                "service_state": "running",
                "backup_paused": False,
                "cpu_limit_percent": 80,
                "reachable_destinations": ["cloud-eu"] if device % 10 else [],
            }
        else:
            percent = rng.choice([35.5, 80.0, 99.9, 100.0])
            value = {
                "schema": "backup_progress/1",
                **common,
                "destination_id": "cloud-eu" if device % 3 else "nas-office",
                "session_state": "completed" if percent == 100 else "sending",
                "percent_complete": percent,
                "selected_files": 120_000,
                "selected_bytes": 84_000_000_000,
                "todo_files": 0 if percent == 100 else 1500,
                "todo_bytes": 0 if percent == 100 else 10_500_000_000,
                "bytes_sent": rng.randrange(0, 250_000_000),
                "file_errors": {"locked": rng.randrange(3), "vanished": 0},
                "backup_interval_s": 900,
            }
        # A copy: `orjson.dumps` returns its 4 KiB write buffer as the bytes object, so
        # the records would lie a page apart and each read would cost a TLB and a cache
        # miss that a worker, reading a fetched batch, does not pay.
        records.append((device_id.encode(), bytes(memoryview(orjson.dumps(value)))))
    return records
