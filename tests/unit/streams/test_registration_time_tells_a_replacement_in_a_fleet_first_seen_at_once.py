"""A fleet first seen all at once (a console bridged in) has one first-seen time for
every device; the registration time a heartbeat carries (`registered_at`, the console's
creation date) is what tells a replacement from a second device the user had all along.

`DeviceState.appeared_at` is the registration time where known, else the first-seen
time; `newer_device_hint` and the report's siblings compare those.
"""

from __future__ import annotations

from datetime import datetime

from streams import DEFAULT_POLICY, DeviceState
from streams.diagnosis import Hints, newer_device_hint
from streams.report import device_row, sibling
from tests.unit.factories import DAY, T0, heartbeat, run

# The bridge's first poll: both devices first seen now, at once.
POLL = T0
NOW = T0 + DAY


def bridged(device: str, registered: datetime | None, last_connected: datetime) -> DeviceState:
    fields = {} if registered is None else {"registered_at": registered}
    state, _ = run([heartbeat(last_connected, device, **fields)], now=NOW)
    return state


def hint_for(quiet: DeviceState, other: DeviceState) -> Hints:
    row = device_row(other, NOW, DEFAULT_POLICY, 0, b"", None)
    return newer_device_hint(quiet, [sibling(row)], NOW, DEFAULT_POLICY)


def test_a_heartbeat_s_registration_time_is_kept_in_the_state() -> None:
    state = bridged("dev-a", T0 - 400 * DAY, T0 - 20 * DAY)

    assert state.registered_at == T0 - 400 * DAY
    assert state.appeared_at == T0 - 400 * DAY


def test_without_a_registration_time_the_device_appeared_when_first_seen() -> None:
    state = bridged("dev-a", None, T0 - 20 * DAY)

    assert state.registered_at is None
    assert state.appeared_at == state.first_seen == T0 - 20 * DAY


def test_a_later_heartbeat_without_one_keeps_the_registration_time() -> None:
    events = [
        heartbeat(T0 - DAY, "dev-a", registered_at=T0 - 400 * DAY),
        heartbeat(T0, "dev-a"),
    ]
    state, _ = run(events, now=NOW)

    assert state.registered_at == T0 - 400 * DAY


def test_a_second_device_registered_long_before_the_first_went_quiet_is_no_replacement() -> None:
    quiet = bridged("dev-old", T0 - 700 * DAY, T0 - 20 * DAY)
    # Registered a year ago, so its first report (20 days after the old one's last)
    # alone would read as "appeared as it went quiet".
    healthy = bridged("dev-laptop", T0 - 365 * DAY, T0 - DAY / 2)

    assert hint_for(quiet, healthy) == Hints()


def test_a_device_registered_as_the_old_one_went_quiet_replaced_it() -> None:
    quiet = bridged("dev-old", T0 - 700 * DAY, T0 - 20 * DAY)
    replacement = bridged("dev-new", T0 - 19 * DAY, T0 - DAY / 2)

    assert hint_for(quiet, replacement) == Hints("dev-new", T0 - DAY / 2)


def test_first_seen_times_alone_still_decide_where_no_registration_time_is_known() -> None:
    quiet = bridged("dev-old", None, T0 - 20 * DAY)
    other = bridged("dev-laptop", None, T0 - DAY / 2)

    # Without registration times the healthy device appears to have come as the old one
    # went quiet: the inference that registration times correct.
    assert hint_for(quiet, other) == Hints("dev-laptop", T0 - DAY / 2)
