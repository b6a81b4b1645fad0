"""Late, duplicated and replayed events never move "last seen" backwards."""

from __future__ import annotations

from streams import DEFAULT_POLICY, apply
from tests.unit.factories import DAY, T0, healthy, heartbeat, progress, run


def test_a_late_heartbeat_does_not_move_last_seen_backwards() -> None:
    now = T0 + 2 * DAY
    state, _ = run([heartbeat(now)], now=now, state=healthy())
    late, _ = run([heartbeat(T0 + DAY, hostname="old-name")], now=now, state=state)
    assert late.last_heartbeat == now
    assert late.last_connected == now
    # The figures come from the newest heartbeat, not the last one to arrive.
    assert late.hostname == "dev-1-host"


def test_a_late_progress_report_does_not_overwrite_newer_figures() -> None:
    now = T0 + DAY
    state, _ = run([progress(now, percent=80.0, session_state="sending")], now=now, state=healthy())
    state, _ = run(
        [progress(T0 + DAY / 2, percent=40.0, session_state="sending")], now=now, state=state
    )
    dest = state.destinations[0]
    assert dest.percent_complete == 80.0
    assert dest.last_activity == now


def test_a_duplicate_event_is_recognized_and_changes_nothing() -> None:
    state = healthy()
    event = progress(T0 + DAY, bytes_sent=5000)
    once, _ = apply(state, event, T0 + DAY, DEFAULT_POLICY)
    twice, _ = apply(once, event, T0 + DAY, DEFAULT_POLICY)
    assert twice is once
    assert once is not None
    assert sum(d.bytes_sent for d in once.days) == 1_000_000 + 5000


def test_reordering_a_batch_gives_the_same_state_and_alerts() -> None:
    events = [
        heartbeat(T0 - 9 * DAY, reachable_destinations=[]),
        progress(T0 - 8 * DAY, percent=50.0, session_state="sending"),
        heartbeat(T0 - DAY),
        progress(T0 - DAY / 2, percent=70.0, session_state="sending"),
    ]
    forward, alerts_forward = run(events, now=T0)
    backward, alerts_backward = run(list(reversed(events)), now=T0)
    assert forward.__copy__() is not None
    assert _without_arrival(forward) == _without_arrival(backward)
    assert {t.alert_id for t in alerts_forward} == {t.alert_id for t in alerts_backward}


def _without_arrival(state):  # type: ignore[no-untyped-def]
    from msgspec.structs import replace

    from streams.state import pack_fingerprints

    return replace(state, recent=pack_fingerprints(sorted(state.fingerprints)))
