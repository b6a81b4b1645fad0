"""An exception that is not a validation error, raised while decoding or applying one
record, sends that record to dead letters (`unexpected_error`, the exception in the
letter), is counted and logged once with its traceback, leaves its device's state as it
was, and the records after it go on. The same for a stored state or clock that does not
decode, and for a device whose decision fails at a clock step."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import msgspec
import pytest

import streams.pipeline
from streams.pipeline import UNEXPECTED_ERROR
from tests.unit.factories import DAY, T0, command, heartbeat, progress
from tests.unit.streams.test_partition_processor import Log, Worker, partition_of

MINUTE = timedelta(minutes=1)
P = partition_of(b"dev-1")


class Bug(Exception):
    pass


def failing_for(device: str, real: Any) -> Any:
    def call(state: Any, *args: Any, **kwargs: Any) -> Any:
        event = args[0] if args else None
        if getattr(event, "device_id", None) == device or getattr(state, "device_id", "") == device:
            raise Bug(f"a bug met on {device}")
        return real(state, *args, **kwargs)

    return call


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "event",
    [heartbeat(T0 + MINUTE), progress(T0 + MINUTE), command("deactivate", T0 + MINUTE)],
    ids=["heartbeat", "progress", "command"],
)
def test_a_record_whose_applying_raises_is_an_unexpected_error_dead_letter(
    event: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    worker, log = Worker(), Log()
    worker.process(log.ticks(T0) + [log.record(heartbeat(T0, "dev-1"))])
    stored = dict(worker.store[P])
    monkeypatch.setattr(streams.pipeline, "apply", failing_for("dev-1", streams.pipeline.apply))

    failing = log.record(event)
    after = [
        log.record(heartbeat(T0 + MINUTE, "dev-5")),
        log.record(heartbeat(T0 + MINUTE, "dev-9")),
    ]
    result = worker.process([failing, *after])

    [letter] = result.dead_letters
    assert (letter.envelope, letter.reason) == (failing, UNEXPECTED_ERROR)
    assert letter.exception == "Bug: a bug met on dev-1"
    assert "Bug: a bug met on dev-1" in letter.message
    assert result.invalid == {UNEXPECTED_ERROR: 1}
    assert result.failures == {"record": 1}
    assert result.outcomes == {(failing.topic, "invalid"): 1, (0, "accepted"): 2}
    assert sorted(result.writes) == ["dev-5", "dev-9"]
    assert worker.store[P]["dev-1"] == stored["dev-1"]
    [logged] = errors(caplog)
    assert logged.exc_info is not None and logged.exc_info[0] is Bug


def test_an_exception_after_the_state_changed_undoes_the_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The status is worked out after the new state: a failure there must not leave the
    # new state, its alerts or its counts behind.
    worker, log = Worker(), Log()
    worker.process(log.ticks(T0) + [log.record(heartbeat(T0, "dev-1"))])
    # Silent for 4 days: a connection warning is open, so a deactivation resolves it.
    assert worker.process(log.ticks(T0 + 4 * DAY)).alerts
    before = worker.store[P]["dev-1"]
    real = streams.pipeline.device_status
    monkeypatch.setattr(streams.pipeline, "device_status", failing_for("dev-1", real))
    deactivate = log.record(command("deactivate", T0 + 4 * DAY + MINUTE, "dev-1"))
    result = worker.process([deactivate, log.record(heartbeat(T0 + 4 * DAY, "dev-5"))])
    assert [d.envelope for d in result.dead_letters] == [deactivate]
    assert worker.store[P]["dev-1"] == before
    assert (result.alerts, result.statuses, result.transitions) == ([], [], {})
    assert result.outcomes == {(0, "accepted"): 1, (2, "invalid"): 1}


# Bytes no layout reads (as a producer with rights on the changelog may write), and a
# state in a layout this version does not write (no release shipped an earlier one:
# there is nothing to convert).
UNREADABLE = [b"[" * 5000, msgspec.msgpack.encode(["dev-1", "user-1", "org-1", 0, [1, 2]])]


@pytest.mark.parametrize("stored", UNREADABLE, ids=["not msgpack", "another layout"])
def test_a_stored_state_that_does_not_decode_dead_letters_its_devices_records_only(
    stored: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    worker, log = Worker(), Log()
    worker.process(log.ticks(T0) + [log.record(heartbeat(T0, d)) for d in ("dev-1", "dev-5")])
    worker.store[P]["dev-1"] = stored
    worker.restart()

    record = log.record(heartbeat(T0 + MINUTE, "dev-1"))
    other = log.record(heartbeat(T0 + MINUTE, "dev-5"))
    result = worker.process([record, other])

    # Indexing the partition met it once; the record that needed it is a dead letter.
    assert result.failures == {"stored_state": 1, "record": 1}
    assert [(d.envelope, d.reason) for d in result.dead_letters] == [(record, UNEXPECTED_ERROR)]
    assert list(result.writes) == ["dev-5"]
    assert worker.store[P]["dev-1"] == stored
    assert worker.processor.device_counts()[("connection", "ok")] == 1
    assert len(errors(caplog)) == 2


@pytest.mark.parametrize("clock", [b"not;a;clock", b"\xff", b"9" * 5000, b"-99999999999999999"])
def test_a_stored_clock_that_does_not_decode_leaves_the_partition_without_one(
    clock: bytes,
) -> None:
    worker, log = Worker(), Log()
    worker.process(log.ticks(T0) + [log.record(heartbeat(T0))])
    worker.store[P][worker.processor.clock_key(P)] = clock
    worker.restart()
    result = worker.process(log.ticks(T0 + DAY) + [log.record(heartbeat(T0 + DAY))])
    assert result.failures == {"stored_state": 1}
    assert worker.processor.clock(P) == T0 + DAY
    assert worker.state("dev-1").last_heartbeat == T0 + DAY


def test_a_device_whose_decision_raises_keeps_its_state_and_the_tick_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    worker, log = Worker(), Log()
    worker.process(log.ticks(T0) + [log.record(heartbeat(T0, d)) for d in ("dev-1", "dev-5")])
    before = worker.store[P]["dev-1"]
    real = streams.pipeline.advance
    monkeypatch.setattr(streams.pipeline, "advance", failing_for("dev-1", real))

    result = worker.process(log.ticks(T0 + 4 * DAY))

    assert result.failures == {"decision": 1}
    assert {a.device_id for a in result.alerts} == {"dev-5"}
    assert worker.store[P]["dev-1"] == before
    assert worker.processor.clock(P) == T0 + 4 * DAY
    assert len(errors(caplog)) == 1


def test_a_parked_record_whose_applying_raises_is_a_dead_letter_and_the_others_are_applied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker, log = Worker(), Log()
    worker.process(log.ticks(T0) + [log.record(heartbeat(T0))])
    # Heartbeats read ahead of the clock (their topic's tick is later) wait for it.
    ahead = log.tick(T0 + DAY, P, [0])
    parked = [log.record(heartbeat(T0 + DAY + MINUTE * n)) for n in (1, 2)]
    assert worker.process([*ahead, *parked]).parked == 2
    real = streams.pipeline.apply

    def fails_on_the_first(state: Any, event: Any, *args: Any) -> Any:
        if event.event_time == T0 + DAY + MINUTE:
            raise Bug("first parked record")
        return real(state, event, *args)

    monkeypatch.setattr(streams.pipeline, "apply", fails_on_the_first)
    result = worker.process(log.tick(T0 + DAY, P, [1, 2]))
    assert [(d.envelope.offset, d.reason) for d in result.dead_letters] == [
        (parked[0].offset, UNEXPECTED_ERROR)
    ]
    assert worker.state("dev-1").last_heartbeat == T0 + DAY + 2 * MINUTE
    assert worker.state("dev-1").parked == ()


def test_the_failure_is_logged_with_control_characters_escaped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    device = "dev-1\r\n[ERROR] forged line\x00\u202e"
    worker, log = Worker(), Log()
    monkeypatch.setattr(streams.pipeline, "apply", failing_for(device, streams.pipeline.apply))
    worker.process(log.ticks(T0))
    worker.process([log.record(heartbeat(T0 + MINUTE, device), partition=0)])
    [logged] = errors(caplog)
    line = logged.getMessage()
    assert "\n" not in line and "\r" not in line and "\x00" not in line and "\u202e" not in line
    assert "\\x0d\\x0a[ERROR] forged line\\x00\\u202e" in line
