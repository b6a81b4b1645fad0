"""A store or changelog written in an earlier state layout still decodes."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from streams import DeviceState, decode_state, encode_state
from streams.state import day_number
from streams.state_v1 import _DeviceStateV1, _HeartbeatReportV1
from tests.unit.factories import DAY, SECOND, T0, command, heartbeat, progress, run


def _in_old_layout(state):  # type: ignore[no-untyped-def]
    fields = {f: getattr(state, f) for f in _DeviceStateV1.__struct_fields__}
    hb = state.heartbeat
    fields["heartbeat"] = _HeartbeatReportV1(
        state.last_heartbeat, state.heartbeat_fp, *msgspec.structs.astuple(hb)
    )
    fields["recent"] = state.fingerprints
    # Before `reached`, each destination held its own last contact.
    fields["destinations"] = tuple(
        msgspec.structs.replace(d, own_last_connected=state.last_connected_to(d))
        for d in state.destinations
    )
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


# A state as the second layout wrote it (before `last_day_heartbeats` and
# `window_start`), from heartbeats at T0 - 1 day, T0 - 12 h and T0 - 8 h and a progress
# report at T0 - 12 h, decided at T0: its buckets hold every heartbeat.
_SECOND_LAYOUT = bytes.fromhex(
    "dc0019a56465762d31a6757365722d31a56f72672d31d6ff6ae5a00099aa6465762d312d686f7374a0a6"
    "31312e342e32a772756e6e696e67c264c091a5636c6f7564c0d6ff6ae68100ce946ccff2d6ff6ae68100"
    "9299a5636c6f7564d6ff6ae5a000d6ff6ae68100d6ff6ae648c0d6ff6ae648c0c09fd6ff6ae648c0ce50"
    "715b64cb404e000000000000a773656e64696e67cd03e8cf00000002540be40064ce3b9aca0000000000"
    "c2c2cd038493a26f6bc0c093a26f6bc0c099a36e6173d6ff6ae5a000d6ff6ae5a000c0c0c0c093a26f6b"
    "c0c093a26f6bc0c093a26f6bc0c0c2c0c0c2c0c09298cd511502cd1388000000000098cd511601000000"
    "00000000c0c410d27f1bc6384c296b645b7150f2cf6c94c09093ffffffa090"
)


def _second_layout_history() -> list[Any]:
    return [
        heartbeat(T0 - DAY, reachable_destinations=["cloud", "nas"]),
        heartbeat(T0 - DAY / 2, reachable_destinations=["cloud"]),
        progress(T0 - DAY / 2, percent=60.0, session_state="sending", bytes_sent=5000),
        heartbeat(T0 - DAY / 3, reachable_destinations=["cloud"]),
    ]


def test_a_state_in_the_second_layout_decodes_to_the_state_folded_today() -> None:
    state, _ = run(_second_layout_history(), now=T0)
    old = decode_state(_SECOND_LAYOUT)
    assert [(b.day, b.heartbeats, b.bytes_sent) for b in old.days] == [
        (20757, 2, 5000),
        (20758, 1, 0),
    ]
    assert old == state
    assert decode_state(encode_state(old)) == old


def test_a_state_in_the_second_layout_counts_on_where_it_stopped() -> None:
    later = [heartbeat(T0 - DAY / 4), heartbeat(T0 + DAY), heartbeat(T0 - DAY / 2 + SECOND)]
    from_old, _ = run(later, now=T0 + DAY, state=decode_state(_SECOND_LAYOUT))
    from_scratch, _ = run(_second_layout_history() + later, now=T0 + DAY)
    assert [(b.day, b.heartbeats) for b in from_old.days] == [
        (20757, 3),
        (20758, 2),
        (20759, 1),
    ]
    assert from_old == from_scratch


def _with_earlier_heartbeats_in_buckets(state: DeviceState) -> list[Any]:
    """The state's fields as written before `earlier_heartbeats` existed (it and the
    fields after it left out): a bucket for each day with activity, an earlier day's
    heartbeats in it (and the newest heartbeat's day's in `last_day_heartbeats`)."""
    assert state.last_heartbeat is not None
    newest = day_number(state.last_heartbeat)
    # The fields after `earlier_heartbeats` came later still, with their defaults.
    fields = list(msgspec.structs.astuple(state))
    fields = fields[: DeviceState.__struct_fields__.index("earlier_heartbeats") + 1]
    assert fields[-1] == state.earlier_heartbeats
    fields[DeviceState.__struct_fields__.index("day_buckets")] = tuple(
        msgspec.structs.replace(b, heartbeats=0) if b.day == newest else b for b in state.days
    )
    return fields[:-1]


def test_a_state_written_before_earlier_heartbeats_existed_decodes_to_the_same_state() -> None:
    history = [
        heartbeat(T0 - 3 * DAY, reachable_destinations=["cloud"]),
        heartbeat(T0 - 3 * DAY + SECOND, reachable_destinations=["cloud"]),
        progress(T0 - 2 * DAY, percent=60.0, session_state="sending", bytes_sent=5000),
        heartbeat(T0 - DAY, reachable_destinations=["cloud"]),
        heartbeat(T0 - DAY / 2, reachable_destinations=["cloud"]),
        heartbeat(T0 - DAY / 4, reachable_destinations=["cloud"]),
    ]
    state, _ = run(history, now=T0)
    assert len(state.earlier_heartbeats) == 4
    assert [b.bytes_sent for b in state.day_buckets] == [5000]
    old = decode_state(msgspec.msgpack.encode(_with_earlier_heartbeats_in_buckets(state)))
    assert old == state
    assert [(b.day, b.heartbeats, b.bytes_sent) for b in old.days] == [
        (b.day, b.heartbeats, b.bytes_sent) for b in state.days
    ]
    # It counts on where it stopped: a late heartbeat, another day.
    later = [heartbeat(T0 - 3 * DAY + 2 * SECOND), heartbeat(T0 + DAY)]
    assert run(later, now=T0 + DAY, state=old)[0] == run(history + later, now=T0 + DAY)[0]


def test_a_state_written_before_reached_existed_decodes_to_the_same_state() -> None:
    state, _ = run(
        [
            heartbeat(T0 - DAY, reachable_destinations=["cloud", "nas"]),
            progress(T0 - DAY / 2, destination="nas", percent=60.0, session_state="sending"),
            heartbeat(T0 - DAY / 4, reachable_destinations=["cloud"]),
        ],
        now=T0,
    )
    assert state.reached == ("cloud",)
    # That layout ended before `reached`, and each destination held its own last contact.
    fields = _with_earlier_heartbeats_in_buckets(state)
    assert fields[-1] == state.reached
    fields[DeviceState.__struct_fields__.index("destinations")] = tuple(
        msgspec.structs.replace(d, own_last_connected=state.last_connected_to(d))
        for d in state.destinations
    )
    old = msgspec.msgpack.encode(fields[:-1])
    assert decode_state(old) == state
