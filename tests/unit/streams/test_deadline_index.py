"""The deadline index pops exactly the devices due, in deadline order, whatever the
reschedules, removals and compactions before."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta

import pytest

from streams.deadlines import DeadlineIndex
from tests.unit.factories import T0

HOUR = timedelta(hours=1)


def index_of(deadlines: Mapping[str, datetime | None]) -> DeadlineIndex:
    index = DeadlineIndex()
    for device_id, deadline in deadlines.items():
        index.schedule(device_id, deadline)
    return index


# Inserted out of order on purpose; dev-b and dev-e share a deadline.
DEADLINES = {
    "dev-d": T0 + 4 * HOUR,
    "dev-a": T0 + 1 * HOUR,
    "dev-c": T0 + 3 * HOUR,
    "dev-e": T0 + 2 * HOUR,
    "dev-b": T0 + 2 * HOUR,
}


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (T0, []),
        (T0 + HOUR - timedelta(microseconds=1000), []),
        (T0 + HOUR, ["dev-a"]),
        (T0 + 2 * HOUR, ["dev-a", "dev-b", "dev-e"]),
        (T0 + 3 * HOUR + timedelta(minutes=59), ["dev-a", "dev-b", "dev-e", "dev-c"]),
        (T0 + 10 * HOUR, ["dev-a", "dev-b", "dev-e", "dev-c", "dev-d"]),
    ],
)
def test_pop_due_yields_exactly_the_devices_due_by_now_in_deadline_order(
    now: datetime, due: list[str]
) -> None:
    index = index_of(DEADLINES)
    assert list(index.pop_due(now)) == due
    assert sorted(index.scheduled) == sorted(set(DEADLINES) - set(due))
    assert len(index) == len(DEADLINES) - len(due)
    assert list(index.pop_due(now)) == []


@pytest.mark.parametrize(
    ("now", "before", "at"),
    [
        (T0 + HOUR, [], ["dev-a"]),
        (T0 + 2 * HOUR, ["dev-a"], ["dev-b", "dev-e"]),
        (T0 + 2 * HOUR + timedelta(microseconds=1000), ["dev-a", "dev-b", "dev-e"], []),
    ],
)
def test_pop_before_leaves_the_devices_due_exactly_at_now(
    now: datetime, before: list[str], at: list[str]
) -> None:
    index = index_of(DEADLINES)
    assert list(index.pop_before(now)) == before
    assert sorted(index.scheduled) == sorted(set(DEADLINES) - set(before))
    assert list(index.pop_due(now)) == at


@pytest.mark.parametrize(
    ("first", "second"),
    [(T0 + HOUR, T0 + 3 * HOUR), (T0 + 3 * HOUR, T0 + HOUR)],
    ids=["later", "earlier"],
)
def test_rescheduling_replaces_the_old_deadline(first: datetime, second: datetime) -> None:
    index = index_of({"dev-1": first, "dev-2": T0 + 2 * HOUR})
    index.schedule("dev-1", second)
    popped = [
        (at, d) for at in (T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR) for d in index.pop_due(at)
    ]
    assert popped == sorted([(second, "dev-1"), (T0 + 2 * HOUR, "dev-2")])
    assert len(index) == 0


def test_a_device_popped_and_scheduled_again_at_the_same_deadline_is_due_again() -> None:
    index = index_of({"dev-1": T0})
    assert list(index.pop_due(T0)) == ["dev-1"]
    index.schedule("dev-1", T0)
    assert list(index.pop_due(T0)) == ["dev-1"]


def test_scheduling_none_removes_the_device() -> None:
    index = index_of({"dev-1": T0 + HOUR, "dev-2": T0 + 2 * HOUR})
    index.schedule("dev-1", None)
    index.schedule("dev-never-scheduled", None)
    assert "dev-1" not in index
    assert len(index) == 1
    assert list(index.pop_due(T0 + 10 * HOUR)) == ["dev-2"]
    assert index.next_due() is None


def test_next_due_is_the_earliest_live_deadline() -> None:
    index = DeadlineIndex()
    assert index.next_due() is None
    index.schedule("dev-1", T0 + HOUR)
    index.schedule("dev-2", T0 + 2 * HOUR)
    assert index.next_due() == (T0 + HOUR).timestamp()
    # The stale entry of dev-1 is skipped, not reported.
    index.schedule("dev-1", T0 + 3 * HOUR)
    assert index.next_due() == (T0 + 2 * HOUR).timestamp()
    index.schedule("dev-2", None)
    assert index.next_due() == (T0 + 3 * HOUR).timestamp()
    list(index.pop_due(T0 + 3 * HOUR))
    assert index.next_due() is None


@pytest.mark.parametrize("seed", range(5))
def test_many_reschedules_and_compactions_keep_the_index_equal_to_its_model(seed: int) -> None:
    # Far more reschedules than devices, so the heap is compacted many times over.
    rng = random.Random(seed)
    devices = [f"dev-{n}" for n in range(50)]
    index = DeadlineIndex()
    model: dict[str, datetime] = {}
    now = T0
    for step in range(20_000):
        device = rng.choice(devices)
        deadline = (
            None if rng.random() < 0.05 else now + rng.randrange(1, 600) * timedelta(minutes=1)
        )
        index.schedule(device, deadline)
        if deadline is None:
            model.pop(device, None)
        else:
            model[device] = deadline
        if step % 500 == 499:
            now += timedelta(hours=2)
            due = sorted((at, d) for d, at in model.items() if at <= now)
            popped = list(index.pop_due(now))
            assert sorted(popped) == sorted(d for _, d in due)
            assert [model[d] for d in popped] == [at for at, _ in due]
            for device_id in popped:
                del model[device_id]
        assert len(index) == len(model)
    assert index.next_due() == (min(model.values()).timestamp() if model else None)
    assert set(index.scheduled) == set(model)
    # The heap stays proportional to the live devices, not to the reschedules.
    assert len(index._heap) <= 2 * len(model) + 1025


def test_devices_rescheduled_while_being_popped_are_popped_once() -> None:
    # As on a tick: each due device is decided and rescheduled (or dropped) during the pass.
    index = index_of({f"dev-{n}": T0 + n * timedelta(seconds=1) for n in range(3000)})
    # Stale entries, so that the removals during the pass trigger a compaction midway.
    for n in range(4000):
        index.schedule("dev-churn", T0 + (2000 + n) * HOUR)
    seen = []
    for device_id in index.pop_due(T0 + timedelta(seconds=2999)):
        seen.append(device_id)
        number = int(device_id.split("-")[1])
        index.schedule(device_id, None if number % 3 == 0 else T0 + 1000 * HOUR)
    assert seen == [f"dev-{n}" for n in range(3000)]
    assert len(index) == 2000 + 1
    assert list(index.pop_due(T0 + 1000 * HOUR)) == sorted(f"dev-{n}" for n in range(3000) if n % 3)
