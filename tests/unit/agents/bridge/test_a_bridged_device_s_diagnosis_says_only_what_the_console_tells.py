"""The console tells when data last arrived, not how much, nor which files failed or
whether the app was throttled: a bridged device's backup alert is "undetermined" where
that is the only evidence there would be, rather than a guess from the bridge's 1-byte
mark of new data. What the console does tell still gives its cause, registration times
included: on the first poll, which brings a user's devices all at once, only a device
registered as the other went quiet reads as its replacement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agents.bridge.crashplan import changes, read_device
from streams import DEFAULT_POLICY, diagnose
from streams.diagnosis import MEASURED_BYTES_PER_DAY, estimated_time_to_finish
from tests.crashplan_console import computer
from tests.unit.factories import progress, run

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def bridged(**facts: Any) -> Any:
    records, _ = changes(read_device(computer("dev-1", **facts)), None)
    state, _ = run(records, now=NOW)
    return state


def codes(state: Any, kind: str) -> list[str]:
    return [c.code for c in diagnose(state, kind, NOW, policy=DEFAULT_POLICY)]  # type: ignore[arg-type]


def test_a_destination_that_gets_data_slowly_is_undetermined_not_too_short_an_interval() -> None:
    # Connected today, data arriving but never finishing: 40 % done for 8 days.
    state = bridged(
        last_connected=NOW - timedelta(minutes=5),
        registered=NOW - 90 * DAY,
        destinations=[
            {
                "guid": "cloud",
                "last_connected": NOW - timedelta(minutes=5),
                "last_backup": NOW - 8 * DAY,
                "last_completed": None,
                "percent": 40.0,
                "todo_files": 600,
                "todo_bytes": 6_000_000,
            }
        ],
    )

    assert estimated_time_to_finish(state, state.destinations[0], NOW) is None
    assert codes(state, "backup") == ["undetermined"]


def test_a_device_silent_in_the_console_reads_as_powered_off() -> None:
    state = bridged(
        last_connected=NOW - 5 * DAY,
        registered=NOW - 90 * DAY,
        destinations=[
            {"guid": "cloud", "last_connected": NOW - 5 * DAY, "last_completed": NOW - 5 * DAY}
        ],
    )

    assert codes(state, "connection")[0] == "extended_leave_or_powered_off"


def test_a_device_online_to_the_console_but_not_its_destination_reads_as_blocked() -> None:
    state = bridged(
        last_connected=NOW - timedelta(minutes=5),
        registered=NOW - 90 * DAY,
        destinations=[
            {"guid": "cloud", "last_connected": NOW - 4 * DAY, "last_completed": NOW - 4 * DAY}
        ],
    )

    assert codes(state, "connection")[0] == "communication_blocked"


def test_a_measured_rate_is_still_estimated() -> None:
    day_bytes = MEASURED_BYTES_PER_DAY * 1000
    state, _ = run(
        [
            progress(NOW - DAY, percent=50.0, session_state="sending", bytes_sent=day_bytes),
        ],
        now=NOW,
    )

    assert estimated_time_to_finish(state, state.destinations[0], NOW) is not None


def test_the_bridge_s_marks_of_new_data_stay_below_a_measured_rate() -> None:
    from agents.bridge.crashplan.mapping import NEW_DATA_MARKER_BYTES
    from agents.bridge.crashplan.settings import _POLL_RANGE

    shortest, _ = _POLL_RANGE
    marks_a_day = DAY / shortest

    assert marks_a_day * NEW_DATA_MARKER_BYTES < MEASURED_BYTES_PER_DAY


def _user_device(guid: str, registered: datetime, contact: datetime) -> Any:
    return bridged_device(
        guid,
        user="user-9",
        last_connected=contact,
        registered=registered,
        destinations=[{"guid": "cloud", "last_connected": contact, "last_completed": contact}],
    )


def bridged_device(guid: str, **facts: Any) -> Any:
    records, _ = changes(read_device(computer(guid, **facts)), None)
    state, _ = run(records, now=NOW)
    return state


def _hint(quiet: Any, other: Any) -> Any:
    from streams.diagnosis import newer_device_hint
    from streams.report import device_row, sibling

    return newer_device_hint(quiet, [sibling(device_row(other, NOW))], NOW, DEFAULT_POLICY)


def test_on_the_first_poll_a_user_s_second_device_all_along_is_no_replacement() -> None:
    silent = _user_device("dev-desk", NOW - 700 * DAY, NOW - 20 * DAY)
    laptop = _user_device("dev-laptop", NOW - 365 * DAY, NOW - timedelta(minutes=5))

    assert _hint(silent, laptop).newer_device_id is None


def test_on_the_first_poll_a_device_registered_as_the_old_one_went_quiet_replaced_it() -> None:
    silent = _user_device("dev-desk", NOW - 700 * DAY, NOW - 20 * DAY)
    laptop = _user_device("dev-laptop", NOW - 19 * DAY, NOW - timedelta(minutes=5))

    assert _hint(silent, laptop).newer_device_id == "dev-laptop"
