"""The user's other devices tell whether a newer one has replaced a silent device.

`newer_device_hint` names a device of the same user that appeared around when this one
went quiet (first seen after it, and at most the connection warning before it was last
heard from), heard from since, and in use now (within the connection warning); the
device detail passes it to the diagnosis, whose "replaced by a newer device" then
comes first. A second device the user had all along is no replacement.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from streams import DEFAULT_POLICY, DeviceState, Hints, diagnose
from streams.diagnosis import Sibling, newer_device_hint
from tests.unit.factories import DAY, SECOND, T0, heartbeat, progress, run

NOW = T0 + 6 * DAY
# The old device: first seen ten days before T0, last heard at T0, silent since.
OLD_FIRST_SEEN = T0 - 10 * DAY


def old_device() -> DeviceState:
    events = [
        heartbeat(OLD_FIRST_SEEN, "dev-old"),
        heartbeat(T0, "dev-old"),
        progress(T0, "dev-old"),
    ]
    state, _ = run(events, now=NOW)
    assert (state.first_seen, state.last_heartbeat) == (OLD_FIRST_SEEN, T0)
    return state


def new(
    first_seen: datetime = T0 + DAY,
    heard: datetime | None = NOW - DAY,
    deactivated: bool = False,
    device: str = "dev-new",
) -> Sibling:
    return Sibling(device, first_seen, heard, deactivated)


@pytest.mark.parametrize(
    ("sibling", "named"),
    [
        pytest.param(new(), True, id="newer, in use"),
        pytest.param(new(first_seen=OLD_FIRST_SEEN), False, id="first seen with it"),
        pytest.param(new(first_seen=T0 - 11 * DAY), False, id="older"),
        pytest.param(new(first_seen=T0 - 9 * DAY), False, id="a second device all along"),
        pytest.param(new(first_seen=T0 - 3 * DAY), True, id="appeared as it went quiet"),
        pytest.param(new(first_seen=T0 - 3 * DAY - SECOND), False, id="appeared a second earlier"),
        pytest.param(new(deactivated=True), False, id="deactivated"),
        pytest.param(new(heard=None), False, id="never heard from"),
        pytest.param(new(heard=T0), False, id="not heard since the old one was"),
        pytest.param(new(heard=NOW - 3 * DAY), False, id="silent for the connection warning"),
        pytest.param(new(heard=NOW - 3 * DAY + SECOND), True, id="heard a second less ago"),
    ],
)
def test_a_newer_device_in_use_is_named(sibling: Sibling, named: bool) -> None:
    state = old_device()

    hint = newer_device_hint(state, [sibling], NOW, DEFAULT_POLICY)

    expected = Hints("dev-new", sibling.last_heartbeat) if named else Hints()
    assert hint == expected


def test_the_most_recently_heard_newer_device_is_named_and_the_device_itself_is_not() -> None:
    state = old_device()
    siblings = [
        new(device="dev-a", heard=NOW - 2 * DAY),
        new(device="dev-b", heard=NOW - DAY),
        Sibling("dev-old", T0 + 2 * DAY, NOW),  # the device itself, whatever it says
    ]

    hint = newer_device_hint(state, siblings, NOW)

    assert hint == Hints("dev-b", NOW - DAY)


def test_with_the_hint_the_connection_alert_names_the_replacement_first() -> None:
    state = old_device()
    hint = newer_device_hint(state, [new()], NOW)

    causes = diagnose(state, "connection", NOW, hints=hint)

    assert (causes[0].code, causes[0].evidence["newer_device_id"]) == (
        "replaced_by_newer_device",
        "dev-new",
    )
