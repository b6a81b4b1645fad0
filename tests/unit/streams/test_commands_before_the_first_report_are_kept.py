"""A command for a device that has not reported yet is kept in a known-only state and
honoured when the device first reports, in order with the commands after it."""

from __future__ import annotations

import pytest

from streams import DEFAULT_POLICY, advance, apply, next_deadline
from streams.state import decode_state, encode_state
from tests.unit.factories import DAY, SECOND, T0, command, heartbeat, kinds, progress


def _known(*commands):  # type: ignore[no-untyped-def]
    state = None
    for cmd in commands:
        state, transitions = apply(state, cmd, cmd.issued_at, DEFAULT_POLICY)
        assert transitions == []
    assert state is not None
    return state


def test_a_command_for_a_device_never_seen_makes_a_known_device_that_decides_nothing() -> None:
    state = _known(command("deactivate", T0))
    assert not state.reporting and state.deactivated
    assert next_deadline(state, DEFAULT_POLICY) is None
    # It survives a restart: it is a state like any other.
    assert decode_state(encode_state(state)) == state
    later, transitions = advance(state, T0 + 30 * DAY, DEFAULT_POLICY)
    assert later is state and transitions == []


def test_a_deactivation_before_the_first_report_is_honoured_when_it_reports() -> None:
    state = _known(command("deactivate", T0))
    state, _ = apply(state, heartbeat(T0 + DAY), T0 + DAY, DEFAULT_POLICY)
    assert state is not None and state.reporting and state.deactivated
    assert state.user_id == "user-1" and state.org_id == "org-1"
    for day in (1, 4, 6, 10, 30):
        state, transitions = advance(state, T0 + day * DAY, DEFAULT_POLICY)
        assert transitions == [], day


def test_a_snooze_before_the_first_report_holds_until_it_ends_then_alerts_resume() -> None:
    until = T0 + 10 * DAY
    state = _known(command("snooze", T0, snooze_until=until))
    state, _ = apply(state, heartbeat(T0 + DAY), T0 + DAY, DEFAULT_POLICY)
    state, _ = apply(state, progress(T0 + DAY), T0 + DAY, DEFAULT_POLICY)
    assert state is not None and state.snoozed_until == until
    for day in (1, 4, 6, 9):
        state, transitions = advance(state, T0 + day * DAY, DEFAULT_POLICY)
        assert transitions == [], day
    assert next_deadline(state, DEFAULT_POLICY) == until
    state, transitions = advance(state, until, DEFAULT_POLICY)
    # Silent since day 1: 9 days at the snooze's end, past every connection threshold.
    assert ("connection", "ok", "critical") in kinds(transitions)
    assert {t.reason for t in transitions} == {"snooze_ended"}


def test_commands_before_the_first_report_end_in_their_issue_order() -> None:
    # Reactivated after it was deactivated, whichever arrived first.
    for order in ((0, 1), (1, 0)):
        cmds = [command("deactivate", T0), command("reactivate", T0 + SECOND)]
        state = _known(*(cmds[i] for i in order))
        assert not state.deactivated, order


@pytest.mark.parametrize("first", ["heartbeat", "progress"])
def test_the_first_report_of_either_kind_takes_the_known_state(first: str) -> None:
    state = _known(command("deactivate", T0), command("replaced", T0, replaced_by="dev-2"))
    event = heartbeat(T0 + DAY) if first == "heartbeat" else progress(T0 + DAY)
    state, _ = apply(state, event, T0 + DAY, DEFAULT_POLICY)
    assert state is not None and state.reporting
    assert state.deactivated and state.replaced_by == "dev-2"
    assert state.first_seen == T0 + DAY


def test_a_command_replayed_after_the_first_report_changes_nothing() -> None:
    cmd = command("deactivate", T0)
    state = _known(cmd)
    state, _ = apply(state, heartbeat(T0 + DAY), T0 + DAY, DEFAULT_POLICY)
    again, transitions = apply(state, cmd, T0 + DAY, DEFAULT_POLICY)
    assert again is state and transitions == []
