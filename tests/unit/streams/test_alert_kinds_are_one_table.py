"""The alert kinds are one table (`streams.kinds.KINDS`): the wire contract, the state,
the policy and every reader of a device's alerts follow it."""

from __future__ import annotations

from typing import get_args

import msgspec

from schemas.models import DestinationStatus, OrgPolicy
from schemas.types import AlertKind
from streams import DEFAULT_POLICY, Thresholds
from streams.kinds import KIND_NAMES, KINDS, LEVELS, kind_levels, open_slots, slots, worst
from streams.state import DeviceState, Slot
from tests.unit.factories import DAY, T0, heartbeat, progress, run

WARNING = Slot("warning", T0)
CRITICAL = Slot("critical", T0)


def test_the_wire_contract_names_every_kind_of_the_table() -> None:
    assert get_args(AlertKind) == KIND_NAMES


def test_each_kind_has_its_thresholds_and_their_policy_fields() -> None:
    for kind in KINDS:
        assert isinstance(DEFAULT_POLICY.thresholds(kind.name), Thresholds)
        assert {kind.warning_field, kind.critical_field} <= set(OrgPolicy.__struct_fields__)


def test_each_destination_kind_has_its_state_in_the_destination_status() -> None:
    for kind in KINDS:
        has_field = f"{kind.name}_state" in DestinationStatus.__struct_fields__
        assert has_field == kind.per_destination, kind.name


def test_the_levels_run_from_ok_to_critical_and_the_worst_wins() -> None:
    assert LEVELS == ("ok", "warning", "critical")
    assert worst([]) == "ok"
    assert worst(["warning", "ok"]) == "warning"
    assert worst(["ok", "critical", "warning"]) == "critical"


def two_destinations() -> DeviceState:
    state, _ = run(
        [
            heartbeat(T0, reachable_destinations=["cloud", "nas"]),
            progress(T0, destination="cloud"),
            progress(T0, destination="nas"),
        ]
    )
    return state


def with_levels(
    state: DeviceState, connection: Slot, cloud: tuple[Slot, Slot], nas: tuple[Slot, Slot]
) -> DeviceState:
    cloud_dest, nas_dest = state.destinations
    return msgspec.structs.replace(
        state,
        connection=connection,
        destinations=(
            msgspec.structs.replace(cloud_dest, backup=cloud[0], completion=cloud[1]),
            msgspec.structs.replace(nas_dest, backup=nas[0], completion=nas[1]),
        ),
    )


def test_the_slots_are_the_device_s_then_each_destination_s_in_table_order() -> None:
    state = two_destinations()

    assert [(s.kind.name, s.destination_id) for s in slots(state)] == [
        ("connection", None),
        ("backup", "cloud"),
        ("completion", "cloud"),
        ("backup", "nas"),
        ("completion", "nas"),
    ]


def test_the_open_slots_are_those_not_ok_and_a_kind_shows_its_worst_destination() -> None:
    ok = Slot()
    state = with_levels(two_destinations(), ok, (WARNING, ok), (CRITICAL, WARNING))

    assert [(s.kind.name, s.destination_id, s.slot.level) for s in open_slots(state)] == [
        ("backup", "cloud", "warning"),
        ("backup", "nas", "critical"),
        ("completion", "nas", "warning"),
    ]
    assert kind_levels(state) == ("ok", "critical", "warning")


def test_a_device_without_destinations_is_ok_for_every_destination_kind() -> None:
    state, _ = run([heartbeat(T0, reachable_destinations=[])])

    assert state.destinations == ()
    assert kind_levels(state) == ("ok", "ok", "ok")


def test_completion_is_not_judged_while_backup_is_in_trouble() -> None:
    # Data stopped flowing 20 days ago at 100 %: backup is critical; completion, gated
    # by it, is not decided and stays ok.
    state, transitions = run([heartbeat(T0), progress(T0)], now=T0)
    state, transitions = run([heartbeat(T0 + 20 * DAY)], now=T0 + 20 * DAY, state=state)

    (dest,) = state.destinations
    assert (dest.backup.level, dest.completion.level) == ("critical", "ok")
    assert {t.kind for t in transitions} == {"backup"}
