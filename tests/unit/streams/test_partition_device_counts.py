"""`device_counts` gives the devices per kind and level over the assigned partitions, as
the decisions leave them, and survives a rebuild from the store."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from streams.pipeline import Envelope
from tests.unit.factories import DAY, T0, command, heartbeat, progress
from tests.unit.streams.test_partition_processor import PARTITIONS, Log, Worker, every

HOUR = timedelta(hours=1)


def fleet(log: Log, until: datetime) -> list[Envelope]:
    """dev-1 and dev-2 silent after T0; dev-5 silent after T0 + 2 days; ticks to `until`."""
    envelopes: list[Envelope] = []
    for device in ("dev-1", "dev-2", "dev-5"):
        envelopes += [log.record(heartbeat(T0, device)), log.record(progress(T0, device))]
    for at in every(T0, until, 6 * HOUR):
        envelopes += log.ticks(at)
        if at == T0 + 2 * DAY:
            envelopes += [
                log.record(heartbeat(at, "dev-5")),
                log.record(progress(at, "dev-5")),
            ]
    return envelopes


def counts(worker: Worker) -> dict[tuple[str, str], int]:
    return {key: n for key, n in worker.processor.device_counts().items() if n}


OK = {("connection", "ok"): 3, ("backup", "ok"): 3, ("completion", "ok"): 3}


@pytest.mark.parametrize(
    ("until", "expected"),
    [
        (T0 + DAY, OK),
        (
            T0 + 3 * DAY,
            {
                ("connection", "warning"): 2,
                ("connection", "ok"): 1,
                ("backup", "warning"): 2,
                ("backup", "ok"): 1,
                ("completion", "ok"): 3,
            },
        ),
        (
            T0 + 5 * DAY,
            {
                ("connection", "critical"): 2,
                ("connection", "warning"): 1,
                ("backup", "warning"): 3,
                ("completion", "ok"): 3,
            },
        ),
    ],
    ids=["all ok", "two silent for three days", "two silent for five days"],
)
def test_device_counts_follow_the_decisions(
    until: datetime, expected: dict[tuple[str, str], int]
) -> None:
    worker, log = Worker(), Log()
    worker.run(fleet(log, until), 40)
    assert counts(worker) == expected
    # The same counts from the stored states, after a rebalance.
    worker.processor.revoke_all()
    worker.process([e for p in range(PARTITIONS) for e in log.tick(T0, p, [0])])
    assert counts(worker) == expected


def test_a_deactivated_device_counts_as_ok() -> None:
    worker, log = Worker(), Log()
    worker.run(fleet(log, T0 + 3 * DAY), 40)
    worker.process([log.record(command("deactivate", T0 + 3 * DAY, "dev-1"))])
    assert counts(worker) == {
        ("connection", "warning"): 1,
        ("connection", "ok"): 2,
        ("backup", "warning"): 1,
        ("backup", "ok"): 2,
        ("completion", "ok"): 3,
    }


def test_revoked_partitions_are_not_counted() -> None:
    worker, log = Worker(), Log()
    worker.run(fleet(log, T0 + 3 * DAY), 40)
    worker.processor.revoke([1])  # dev-1 and dev-5
    assert counts(worker) == {
        ("connection", "warning"): 1,
        ("backup", "warning"): 1,
        ("completion", "ok"): 1,
    }
