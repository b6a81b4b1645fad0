"""A device's state stays small: < 1 KiB encoded with two destinations and full windows."""

from __future__ import annotations

from streams import decode_state, encode_state
from tests.unit.factories import DAY, T0, heartbeat, progress, run


def test_a_busy_device_with_two_destinations_encodes_under_one_kib() -> None:
    state = None
    for day in range(20):
        now = T0 + day * DAY
        events = [heartbeat(now, reachable_destinations=["cloud-eu", "nas-office"])]
        events += [
            progress(
                now,
                destination=dest,
                percent=99.5,
                session_state="sending",
                bytes_sent=123_456_789,
                errors={"locked": 3, "vanished": 7},
                todo_bytes=987_654_321,
                todo_files=12,
            )
            for dest in ("cloud-eu", "nas-office")
        ]
        state, _ = run(events, now=now, state=state)
    assert state is not None
    data = encode_state(state)
    assert len(state.days) == 14
    assert len(data) < 1024, len(data)
    assert decode_state(data) == state
