"""A backlog read in one batch decides exactly what it decides read in small batches:
the clock follows the ticks read, so heartbeats waiting in the backlog are never taken
for silence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.codec import encode
from schemas.models import Alert
from tests.unit.factories import DAY, T0
from tests.unit.streams.test_partition_processor import Log, Worker, alerts_of, history

STEP = timedelta(minutes=10)
UNTIL = T0 + 3 * DAY + 6 * STEP

Outcome = tuple[list[Alert], dict[int, dict[str, bytes]]]


@pytest.fixture(scope="module")
def one_batch() -> Outcome:
    """Alerts and stored states of three days and an hour read as one batch."""
    envelopes = history(Log(), UNTIL, STEP)
    worker = Worker()
    results = worker.run(envelopes, len(envelopes))
    assert len(results) == 1
    return alerts_of(results), worker.store


def test_a_backlog_in_one_batch_warns_only_about_the_devices_that_fell_silent(
    one_batch: Outcome,
) -> None:
    alerts, _ = one_batch
    assert sorted(a.device_id for a in alerts if a.kind == "connection") == ["dev-1", "dev-5"]
    assert {a.decided_at for a in alerts if a.kind == "connection"} == {T0 + 3 * DAY + STEP}
    # dev-0 and dev-4 heartbeat and back up all along.
    assert not {a.device_id for a in alerts} & {"dev-0", "dev-4"}


@pytest.mark.parametrize("batch_size", [1, 2, 7, 64, 500])
def test_a_backlog_decides_the_same_in_batches_of_any_size(
    one_batch: Outcome, batch_size: int
) -> None:
    alerts, store = one_batch
    worker = Worker()
    results = worker.run(history(Log(), UNTIL, STEP), batch_size)
    assert [encode(a) for a in alerts_of(results)] == [encode(a) for a in alerts]
    assert worker.store == store
