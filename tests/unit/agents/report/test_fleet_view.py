"""The fleet view: the report rows every worker keeps from the device-state changelog.

Records are what the changelog holds: encoded device states keyed by device, tombstones,
and partition clocks under `~clock~` keys (`decided;tick0;tick1;tick2` in epoch ms).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import msgspec
import pytest

from agents.report.fleet import FleetView
from streams.pipeline import PartitionProcessor
from streams.policy import DEFAULT_POLICY, Policy
from streams.report import device_row
from streams.state import DeviceState, encode_state
from tests.unit.factories import DAY, T0, healthy, heartbeat, progress, run
from tests.unit.streams.test_partition_processor import PARTITIONS, Log, Worker, history

HOUR = timedelta(hours=1)


def policy_for(_org: str) -> Policy:
    return DEFAULT_POLICY


def millis(at: datetime) -> str:
    return str(int(at.timestamp() * 1000))


def clock_key(partition: int) -> bytes:
    """The key the processor stores `partition`'s clock under."""
    processor = PartitionProcessor(
        PARTITIONS,
        load=lambda _key, _partition: None,
        items_of=lambda _partition: [],
        partition_for=lambda key: sum(key) % PARTITIONS,
        policy_for=policy_for,
    )
    return processor.clock_key(partition).encode()


def clock_value(decided: datetime, ticks: tuple[datetime, ...] = ()) -> bytes:
    """A stored clock: the decided clock and each input topic's latest tick."""
    latest = [millis(t) for t in ticks] or [millis(decided)] * 3
    return ";".join([millis(decided), *latest]).encode()


def take_state(view: FleetView, state: DeviceState, partition: int = 0) -> None:
    view.take(state.device_id.encode(), encode_state(state), partition)


def silent(days: float, device: str = "dev-1") -> DeviceState:
    state, _ = run([], now=T0 + timedelta(days=days), state=healthy(device=device))
    return state


def moved(state: DeviceState, user_id: str, org_id: str) -> DeviceState:
    return msgspec.structs.replace(state, user_id=user_id, org_id=org_id)


def ids(rows: list[object]) -> list[str]:
    return sorted(r.device_id for r in rows)  # type: ignore[attr-defined]


# --- states ---------------------------------------------------------------------------


def test_a_state_becomes_a_row_judged_at_its_partitions_clock() -> None:
    view = FleetView(policy_for)
    now = T0 + 6 * DAY
    view.take(clock_key(2), clock_value(now), 2)
    state = silent(6)

    take_state(view, state, partition=2)

    cut = device_row(state, now, DEFAULT_POLICY, partition=2, encoded_state=encode_state(state))
    assert view.rows == {"dev-1": cut}
    assert view.rows["dev-1"].connection == "critical"
    assert view.rows["dev-1"].top_cause == "extended_leave_or_powered_off"
    assert view.state("dev-1") == state
    assert ids(view.of_org("org-1")) == ["dev-1"]
    assert ids(view.of_user("user-1")) == ["dev-1"]
    assert view.records_read == 2


def test_a_newer_state_replaces_the_row() -> None:
    view = FleetView(policy_for)
    take_state(view, healthy())
    assert view.rows["dev-1"].worst_state == "ok"

    take_state(view, silent(6))

    assert len(view.rows) == 1
    assert view.rows["dev-1"].worst_state == "critical"
    assert view.state("dev-1") == silent(6)
    assert ids(view.of_org("org-1")) == ["dev-1"]


def test_a_device_that_changes_user_and_org_moves_between_the_indexes() -> None:
    view = FleetView(policy_for)
    take_state(view, healthy(device="dev-1"))
    take_state(view, healthy(device="dev-2"))

    take_state(view, moved(healthy(device="dev-1"), "user-9", "org-9"))

    assert ids(view.of_user("user-1")) == ["dev-2"]
    assert ids(view.of_user("user-9")) == ["dev-1"]
    assert ids(view.of_org("org-1")) == ["dev-2"]
    assert ids(view.of_org("org-9")) == ["dev-1"]
    assert sorted(view.orgs()) == ["org-1", "org-9"]

    # The last device leaves org-1: the org is gone from the index, not listed empty.
    take_state(view, moved(healthy(device="dev-2"), "user-9", "org-9"))

    assert view.of_user("user-1") == []
    assert view.of_org("org-1") == []
    assert list(view.orgs()) == ["org-9"]
    assert ids(view.of_user("user-9")) == ["dev-1", "dev-2"]


def test_a_user_with_many_devices_lists_each_once_as_they_come_and_go() -> None:
    view = FleetView(policy_for)
    devices = [f"dev-{n:02}" for n in range(12)]  # past the index's tuple, into a set
    for device in devices:
        take_state(view, healthy(device=device))
    take_state(view, healthy(device="dev-03"))  # written again: still listed once

    assert ids(view.of_user("user-1")) == devices
    # Decoding gave each row its own user id string; the view keeps one for the user.
    assert len({id(row.user_id) for row in view.rows.values()}) == 1

    for device in devices[:11]:
        view.take(device.encode(), None, 0)

    assert ids(view.of_user("user-1")) == ["dev-11"]
    assert ids(view.of_org("org-1")) == ["dev-11"]
    view.take(b"dev-11", None, 0)
    assert view.of_user("user-1") == []
    assert list(view.orgs()) == []


def test_a_user_with_two_devices_keeps_the_other_when_one_leaves() -> None:
    view = FleetView(policy_for)
    for device in ("dev-1", "dev-2", "dev-3"):
        take_state(view, healthy(device=device))

    take_state(view, moved(healthy(device="dev-2"), "user-9", "org-1"))
    view.take(b"dev-3", None, 0)

    assert ids(view.of_user("user-1")) == ["dev-1"]
    assert ids(view.of_user("user-9")) == ["dev-2"]
    assert view.state("dev-2") == moved(healthy(device="dev-2"), "user-9", "org-1")


def test_a_tombstone_removes_the_device() -> None:
    view = FleetView(policy_for)
    take_state(view, healthy(device="dev-1"))
    take_state(view, healthy(device="dev-2"))

    view.take(b"dev-1", None, 0)

    assert list(view.rows) == ["dev-2"]
    assert view.state("dev-1") is None
    assert ids(view.of_org("org-1")) == ["dev-2"]
    assert ids(view.of_user("user-1")) == ["dev-2"]

    view.take(b"dev-2", None, 0)
    view.take(b"never-seen", None, 0)  # a tombstone of a device the view never had

    assert view.rows == {}
    assert list(view.orgs()) == []
    assert view.of_user("user-1") == []


def test_an_undecodable_state_is_skipped_and_the_view_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    view = FleetView(policy_for)
    take_state(view, healthy(device="dev-1"))
    # Rows are made when the view is read; this one is read before the bad records.
    assert sorted(view.rows) == ["dev-1"]

    with caplog.at_level(logging.WARNING, logger="agents.report.fleet"):
        view.take(b"dev-1", b"\xff not a state", 0)
        view.take(b"dev-2", b"", 0)
        view.take(b"dev-3", encode_state(healthy(device="dev-3"))[:-3], 0)
    take_state(view, healthy(device="dev-4"))

    # What the view had stays; what it could not read is not invented.
    assert sorted(view.rows) == ["dev-1", "dev-4"]
    assert view.state("dev-1") == healthy(device="dev-1")
    assert "dev-1" in caplog.text and "dev-3" in caplog.text
    assert view.records_read == 5


def test_a_record_without_a_key_is_ignored() -> None:
    view = FleetView(policy_for)

    view.take(None, encode_state(healthy()), 0)

    assert view.rows == {}
    assert view.records_read == 0


# --- clocks ---------------------------------------------------------------------------


def test_clock_records_set_each_partitions_clock() -> None:
    view = FleetView(policy_for)
    first, later = T0 + HOUR, T0 + 2 * HOUR

    view.take(clock_key(0), clock_value(first), 0)
    view.take(clock_key(1), clock_value(later, (later, later + HOUR, later)), 1)
    view.take(clock_key(0), clock_value(later), 0)

    assert view.clocks == {0: later, 1: later}
    assert view.rows == {}
    assert view.stream_time() == later


def test_a_clock_that_decided_nothing_yet_sets_no_clock() -> None:
    view = FleetView(policy_for)

    view.take(clock_key(0), f";{millis(T0)};;".encode(), 0)
    view.take(clock_key(1), b"", 1)

    assert view.clocks == {}


def test_each_device_is_judged_at_its_partitions_clock_or_the_latest_one() -> None:
    view = FleetView(policy_for)
    take_state(view, healthy(device="dev-0"), partition=0)
    take_state(view, healthy(device="dev-1"), partition=1)
    take_state(view, healthy(device="dev-3"), partition=3)
    view.take(clock_key(0), clock_value(T0 + DAY), 0)
    view.take(clock_key(1), clock_value(T0 + 2 * DAY), 1)

    now_of = view.context().now_of

    assert now_of(view.rows["dev-0"]) == T0 + DAY
    assert now_of(view.rows["dev-1"]) == T0 + 2 * DAY
    # Partition 3 decided nothing yet: the latest clock of the fleet stands in.
    assert now_of(view.rows["dev-3"]) == T0 + 2 * DAY
    assert view.now_of_partition(0) == T0 + DAY
    assert view.now_of_partition(3) == T0 + 2 * DAY


def test_before_any_clock_the_newest_event_is_the_stream_time() -> None:
    view = FleetView(policy_for)
    state, _ = run([], now=T0 + 3 * HOUR, state=healthy(T0 + 3 * HOUR, device="dev-2"))
    take_state(view, healthy(device="dev-1"))
    take_state(view, state)

    assert view.stream_time() == T0 + 3 * HOUR
    assert view.context().now_of(view.rows["dev-1"]) == T0 + 3 * HOUR
    assert view.now_of_partition(5) == T0 + 3 * HOUR


# --- following what the processor writes ------------------------------------------------


def test_the_view_follows_what_the_processor_writes() -> None:
    """Six days of a fleet through the real processor: every write it makes, in order, is
    a changelog record; the view ends with the processor's clocks and a row per device."""
    worker, log = Worker(), Log()
    view = FleetView(policy_for)

    for result in worker.run(history(log, T0 + 6 * DAY, step=HOUR), batch_size=200):
        for key, value in result.writes.items():
            view.take(key.encode(), value, result.homes[key])

    clocks = worker.processor.clocks()
    assert view.clocks == clocks
    states = worker.states()
    assert sorted(view.rows) == sorted(states)
    for device_id, state in states.items():
        partition = view.rows[device_id].partition
        assert state == worker.state(device_id)
        now = clocks[partition]
        assert now is not None
        held = view.rows[device_id]
        assert held == device_row(state, now, DEFAULT_POLICY, partition, held.encoded_state)
        assert view.state(device_id) == state
    # dev-1 went silent after T0: critical after five days without a connection.
    assert view.rows["dev-1"].connection == "critical"
    assert view.rows["dev-0"].worst_state == "ok"


def test_a_device_written_many_times_between_reads_is_decoded_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import agents.report.fleet

    decoded: list[bytes] = []
    real = agents.report.fleet.decode_state

    def counting(value: bytes) -> DeviceState:
        decoded.append(value)
        return real(value)

    monkeypatch.setattr(agents.report.fleet, "decode_state", counting)
    view = FleetView(policy_for)
    for _ in range(5):
        take_state(view, healthy(device="dev-1"))
    assert decoded == []  # nothing is decoded until someone reads

    assert list(view.rows) == ["dev-1"]
    assert len(decoded) == 1


async def test_refreshing_in_chunks_makes_every_row() -> None:
    view = FleetView(policy_for)
    for n in range(25):
        take_state(view, healthy(device=f"dev-{n}"))

    await view.refresh(chunk=4)

    assert len(view._pending) == 0
    assert sorted(view.rows) == sorted(f"dev-{n}" for n in range(25))


def test_a_troubled_device_s_row_names_the_newer_device_that_appears_after_it() -> None:
    now = T0 + 6 * DAY
    old, _ = run(
        [heartbeat(T0 - DAY, "dev-old"), heartbeat(T0, "dev-old"), progress(T0, "dev-old")],
        now=now,
    )
    view = FleetView(policy_for)
    view.take(b"dev-old", encode_state(old), 0)
    assert view.rows["dev-old"].top_cause == "extended_leave_or_powered_off"

    new, _ = run(
        [heartbeat(T0 + DAY, "dev-new"), heartbeat(now, "dev-new"), progress(now, "dev-new")],
        now=now,
    )
    view.take(b"dev-new", encode_state(new), 0)
    assert view.rows["dev-old"].top_cause == "replaced_by_newer_device"
    cut = view.rows["dev-old"]

    # The newer device's later states do not cut the old device's row again.
    later, _ = run([heartbeat(now + HOUR, "dev-new")], now=now + HOUR, state=new)
    view.take(b"dev-new", encode_state(later), 0)
    assert view.rows["dev-old"] is cut


def test_a_second_device_the_user_had_all_along_is_no_replacement_in_the_row() -> None:
    now = T0 + 6 * DAY
    # dev-b appeared a day after dev-a, nine days before dev-a went quiet.
    both = [heartbeat(T0 - 10 * DAY, "dev-a"), heartbeat(T0 - 9 * DAY, "dev-b")]
    old, _ = run([*both[:1], heartbeat(T0, "dev-a"), progress(T0, "dev-a")], now=now)
    other, _ = run([*both[1:], heartbeat(now, "dev-b"), progress(now, "dev-b")], now=now)
    view = FleetView(policy_for)
    view.take(b"dev-a", encode_state(old), 0)
    view.take(b"dev-b", encode_state(other), 0)

    assert view.rows["dev-a"].top_cause == "extended_leave_or_powered_off"
