"""Events come in time order, each on the topic of its record type, keyed by device."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.kafka.topics import BACKUP_PROGRESS, DEVICE_COMMANDS, HEARTBEATS, INPUTS
from agents.simulator import Fleet, tick_times
from schemas import BackupProgress, DeviceCommand, Heartbeat

START = datetime(2026, 11, 2, tzinfo=UTC)
TOPIC_OF = {Heartbeat: HEARTBEATS, BackupProgress: BACKUP_PROGRESS, DeviceCommand: DEVICE_COMMANDS}


def _fleet() -> Fleet:
    return Fleet(40, seed=11, start=START, every_fault=True, fault_days=(0.5, 3.0))


def test_events_never_go_back_in_time() -> None:
    events = list(_fleet().events_between(START, START + timedelta(days=8)))
    assert all(a.at <= b.at for a, b in zip(events, events[1:], strict=False))


def test_each_record_is_on_its_topic_keyed_by_its_device_at_its_own_time() -> None:
    for event in _fleet().events_between(START, START + timedelta(days=8)):
        record = event.record
        assert event.topic in INPUTS
        assert event.topic == TOPIC_OF[type(record)]
        assert event.key == record.device_id
        when = record.issued_at if isinstance(record, DeviceCommand) else record.event_time
        assert when == event.at


def test_every_topic_gets_records() -> None:
    topics = {e.topic for e in _fleet().events_between(START, START + timedelta(days=8))}
    assert topics == set(INPUTS)


def test_a_healthy_device_heartbeats_on_cadence_and_completes_every_day() -> None:
    fleet = Fleet(20, seed=1, start=START, fault_share=0.0)
    device = fleet.devices[0]
    events = [
        e
        for e in fleet.events_between(START, START + timedelta(days=3))
        if e.key == device.device_id
    ]
    beats = [e.at for e in events if e.topic == HEARTBEATS]
    assert all(b - a == timedelta(hours=1) for a, b in zip(beats, beats[1:], strict=False))
    assert len(beats) >= 71
    for destination in device.destinations:
        days = {
            e.at.date()
            for e in events
            if isinstance(e.record, BackupProgress)
            and e.record.destination_id == destination
            and e.record.percent_complete == 100
        }
        assert len(days) == 3


def test_tick_times_run_from_start_to_end_by_the_step() -> None:
    end = START + timedelta(hours=1, minutes=12)
    times = tick_times(START, end, timedelta(minutes=30))
    assert times == [
        START,
        START + timedelta(minutes=30),
        START + timedelta(minutes=60),
        end,
    ]
    assert tick_times(START, START + timedelta(hours=1), timedelta(minutes=30))[-1] == (
        START + timedelta(hours=1)
    )
