"""A store or changelog written in the previous state layout still decodes."""

from __future__ import annotations

import msgspec
import pytest

from streams import decode_state, encode_state
from streams.state_v1 import _DeviceStateV1, _HeartbeatReportV1
from tests.unit.factories import DAY, T0, command, heartbeat, progress, run


def _in_old_layout(state):  # type: ignore[no-untyped-def]
    fields = {f: getattr(state, f) for f in _DeviceStateV1.__struct_fields__}
    hb = state.heartbeat
    fields["heartbeat"] = _HeartbeatReportV1(
        state.last_heartbeat, state.heartbeat_fp, *msgspec.structs.astuple(hb)
    )
    fields["recent"] = state.fingerprints
    return msgspec.msgpack.encode(_DeviceStateV1(**fields))


def test_a_state_in_the_old_layout_decodes_to_the_same_state() -> None:
    state, _ = run(
        [
            heartbeat(T0 - DAY, reachable_destinations=["cloud", "nas"]),
            progress(T0 - DAY / 2, percent=60.0, session_state="sending"),
            command("snooze", T0 - DAY / 4, snooze_until=T0 + DAY),
        ],
        now=T0,
    )
    old = _in_old_layout(state)
    assert old != encode_state(state)
    assert decode_state(old) == state


def test_bytes_of_neither_layout_still_fail() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_state(msgspec.msgpack.encode(["dev-1", "user-1"]))
