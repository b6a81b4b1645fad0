"""When each destination was last reached, kept mostly in the device (`DeviceState.reached`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import BackupProgress, Heartbeat
from streams import DEFAULT_POLICY, DeviceState, apply, decode_state, encode_state
from tests.unit.factories import DAY, T0, heartbeat, progress

HOUR = timedelta(hours=1)


def _fold(history: list[Any], now: datetime = T0) -> DeviceState:
    state = None
    for event in history:
        state, _ = apply(state, event, now, DEFAULT_POLICY)
    assert state is not None
    return state


def _contacts(state: DeviceState) -> dict[str, datetime | None]:
    return {d.destination_id: state.last_connected_to(d) for d in state.destinations}


def _expected_contacts(history: list[Any]) -> dict[str, datetime | None]:
    """Each destination's last contact, straight from the events."""
    contacts: dict[str, datetime | None] = {}
    for event in history:
        if isinstance(event, Heartbeat):
            reached = event.reachable_destinations
        else:
            assert isinstance(event, BackupProgress)
            contacts.setdefault(event.destination_id, None)
            sending = event.session_state in ("sending", "completed")
            reached = [event.destination_id] if event.bytes_sent > 0 or sending else []
        for destination_id in reached:
            before = contacts.get(destination_id)
            if before is None or event.event_time > before:
                contacts[destination_id] = event.event_time
    return contacts


def _expected_first_seen(history: list[Any]) -> dict[str, datetime]:
    """Each destination's first sighting: the earliest event that reached it or
    reported on it."""
    first: dict[str, datetime] = {}
    for event in history:
        if isinstance(event, Heartbeat):
            named = event.reachable_destinations
        else:
            named = [event.destination_id]
        for destination_id in named:
            if destination_id not in first or event.event_time < first[destination_id]:
                first[destination_id] = event.event_time
    return first


def test_a_destination_reached_again_later_moves_only_the_device_time() -> None:
    state = _fold([heartbeat(T0 - DAY)])
    later, _ = apply(state, heartbeat(T0 - HOUR), T0, DEFAULT_POLICY)
    assert later is not None
    assert later.destinations is state.destinations
    assert later.reached == ("cloud",)
    assert _contacts(later) == {"cloud": T0 - HOUR}


def test_each_destination_keeps_its_own_time_once_another_is_reached_later() -> None:
    state = _fold(
        [
            heartbeat(T0 - 3 * HOUR, reachable_destinations=["cloud", "nas"]),
            progress(T0 - 2 * HOUR, destination="nas", session_state="sending", percent=40.0),
            heartbeat(T0 - HOUR, reachable_destinations=["cloud"]),
        ]
    )
    assert state.reached == ("cloud",)
    assert _contacts(state) == {"cloud": T0 - HOUR, "nas": T0 - 2 * HOUR}
    assert state.last_connected == T0 - HOUR


def test_destinations_reached_at_the_same_instant_share_the_device_time() -> None:
    state = _fold(
        [
            heartbeat(T0 - HOUR, reachable_destinations=["cloud"]),
            progress(T0 - HOUR, destination="nas", session_state="sending", percent=40.0),
        ]
    )
    assert state.reached == ("cloud", "nas")
    assert _contacts(state) == {"cloud": T0 - HOUR, "nas": T0 - HOUR}


def test_a_late_contact_moves_only_its_own_destination() -> None:
    state = _fold(
        [
            heartbeat(T0 - HOUR, reachable_destinations=["cloud"]),
            heartbeat(T0 - DAY, reachable_destinations=["nas"]),
            heartbeat(T0 - 2 * DAY, reachable_destinations=["nas", "cloud"]),
        ]
    )
    assert state.reached == ("cloud",)
    assert _contacts(state) == {"cloud": T0 - HOUR, "nas": T0 - DAY}
    assert state.destination("nas").first_seen == T0 - 2 * DAY  # type: ignore[union-attr]


def test_a_destination_in_progress_reports_but_never_reached_has_no_contact() -> None:
    state = _fold(
        [
            heartbeat(T0 - HOUR, reachable_destinations=["cloud"]),
            progress(T0 - DAY, destination="nas", session_state="idle", bytes_sent=0, percent=5.0),
        ]
    )
    assert _contacts(state) == {"cloud": T0 - HOUR, "nas": None}


def test_a_destination_reached_before_its_first_report_was_first_seen_then() -> None:
    state = _fold(
        [
            heartbeat(T0 - 5 * HOUR, reachable_destinations=["cloud"]),
            progress(T0 - HOUR, destination="nas", session_state="idle", bytes_sent=0, percent=5.0),
            heartbeat(T0 - 3 * HOUR, reachable_destinations=["nas"]),
        ]
    )
    assert state.reached == ("nas",)
    assert _contacts(state) == {"cloud": T0 - 5 * HOUR, "nas": T0 - 3 * HOUR}
    assert state.destination("nas").first_seen == T0 - 3 * HOUR  # type: ignore[union-attr]


times = st.integers(min_value=-6, max_value=0).map(lambda h: T0 + h * HOUR)


@st.composite
def contacts(draw: Any) -> Any:
    if draw(st.booleans()):
        return heartbeat(
            draw(times),
            reachable_destinations=draw(
                st.lists(st.sampled_from(["cloud", "nas", "usb"]), max_size=3)
            ),
        )
    return progress(
        draw(times),
        destination=draw(st.sampled_from(["cloud", "nas", "usb"])),
        session_state=draw(st.sampled_from(["sending", "idle", "completed"])),
        bytes_sent=draw(st.sampled_from([0, 5_000])),
        percent=50.0,
    )


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(history=st.lists(contacts(), min_size=1, max_size=10))
def test_each_destination_reads_its_latest_contact_whatever_the_order(
    history: list[Any],
) -> None:
    state = _fold(history)
    assert _contacts(state) == _expected_contacts(history)
    reached_at = [t for t in _expected_contacts(history).values() if t is not None]
    assert state.last_connected == (max(reached_at) if reached_at else None)
    # The destinations of the newest contact are exactly the device's `reached`.
    newest = state.last_connected
    assert state.reached == tuple(
        sorted(i for i, t in _contacts(state).items() if newest is not None and t == newest)
    )
    assert {d.destination_id: d.first_seen for d in state.destinations} == (
        _expected_first_seen(history)
    )
    assert decode_state(encode_state(state)) == state
