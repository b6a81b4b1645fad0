"""The alert kinds, as data: what each measures, where its slot lives, which policy
fields set its thresholds, and which kind holds another back; and the one walk over a
device's alert slots that every reader of them uses.

A kind's level is the time elapsed since its *reference* (the last contact, the last
new data, the last 100 %) against its thresholds. A kind is either the device's (one
slot in `DeviceState`) or a destination's (one slot in each `DestinationState`); the
slot is the state's field named after the kind. A kind `gated_by` another is decided
only while that one is ok on the same destination, and holds its level otherwise.

Adding a kind: a row in `KINDS` and its reference here; its slot field at the end of
`DeviceState` or `DestinationState` (`streams.state`); its default thresholds in
`streams.policy.Policy`; its column in `streams.report.DeviceRow`; its name in
`schemas.types.AlertKind` with its policy fields in `schemas.models.OrgPolicy` (and
`<kind>_state` in `DestinationStatus` for a destination's kind), then the JSON Schema
documents and examples written again (`python -m schemas.generate`, `python -m
tests.unit.schemas.test_examples_validate`); its line in docs/decisions.md. Its causes
in `streams.diagnosis` are optional (without them its alerts say `undetermined`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple, get_args

from schemas.types import AlertKind, Level
from streams.state import DestinationState, DeviceState, Slot

__all__ = [
    "DESTINATION_KINDS",
    "DEVICE_KINDS",
    "KINDS",
    "KIND_NAMES",
    "KIND_OF",
    "LEVELS",
    "RANK",
    "AlertSlot",
    "Kind",
    "any_open",
    "backup_reference",
    "completion_reference",
    "connection_reference",
    "kind_levels",
    "open_slots",
    "slots",
    "worst",
]

# Every level, from the least to the most severe: the order of the wire contract's
# `Level`, the one place it is written.
LEVELS: tuple[Level, ...] = get_args(Level)
RANK: dict[str, int] = {level: rank for rank, level in enumerate(LEVELS)}


def worst(levels: Iterable[Level]) -> Level:
    """The worst of several levels (ok when there are none)."""
    result: Level = "ok"
    for level in levels:
        if RANK[level] > RANK[result]:
            result = level
            if result == "critical":
                break
    return result


def connection_reference(state: DeviceState) -> datetime:
    return state.last_connected or state.first_seen


def backup_reference(dest: DestinationState) -> datetime:
    """Freshness is measured from new data, or from a report that the destination is
    complete: a device whose files did not change has nothing new to send."""
    reference = dest.last_new_data
    if dest.last_completed is not None and (reference is None or dest.last_completed > reference):
        reference = dest.last_completed
    return reference or dest.first_seen


def completion_reference(dest: DestinationState) -> datetime:
    return dest.last_completed or dest.first_seen


# A kind's reference: from the device's state, or from one destination's.
Reference = Callable[[Any], datetime]


@dataclass(frozen=True, slots=True)
class Kind:
    name: AlertKind
    # What the elapsed time is measured since (docs/decisions.md), in words.
    measures: str
    # True: one slot per destination (`DestinationState.<name>`); False: one per device
    # (`DeviceState.<name>`).
    per_destination: bool
    # The time the condition is measured from, of the slot's holder (the device's state
    # for a device's kind, the destination's for a destination's kind).
    reference: Reference
    # The fields of `schemas.models.OrgPolicy` that override its thresholds.
    warning_field: str
    critical_field: str
    # A kind of the same holder, earlier in `KINDS`, whose trouble speaks for this one:
    # while it is not ok this kind is not decided and keeps its level.
    gated_by: AlertKind | None = None
    # For people: the column title; what the trouble and the recovery are as predicates
    # of the device (`{to}` is " to <destination>" for a destination's kind); and the
    # trouble as a short phrase for a log line (`{on}` is " on <destination>").
    title: str = ""
    trouble: str = ""
    recovery: str = ""
    headline: str = ""


KINDS: tuple[Kind, ...] = (
    Kind(
        "connection",
        "since the device last reached any destination",
        per_destination=False,
        reference=connection_reference,
        warning_field="connection_warning_days",
        critical_field="connection_critical_days",
        title="Connection",
        trouble="has not connected to a backup destination",
        recovery="is connecting to its backup destinations again",
        headline="no connection to any destination",
    ),
    Kind(
        "backup",
        "since the destination last received new data, or reported it was complete",
        per_destination=True,
        reference=backup_reference,
        warning_field="backup_warning_days",
        critical_field="backup_critical_days",
        title="Backup",
        trouble="has not backed up{to}",
        recovery="is backing up{to} again",
        headline="no new backup data{on}",
    ),
    Kind(
        "completion",
        "since the destination last reached 100 % while data still flows",
        per_destination=True,
        reference=completion_reference,
        warning_field="completion_warning_days",
        critical_field="completion_critical_days",
        # Completion is about data that flows but never reaches 100 %; while no data
        # flows the backup alert speaks for the destination and completion holds.
        gated_by="backup",
        title="Completion",
        trouble="has not completed a backup{to}",
        recovery="completed its backup{to} again",
        headline="backup not completed{on}",
    ),
)
KIND_NAMES: tuple[AlertKind, ...] = tuple(kind.name for kind in KINDS)
KIND_OF: dict[str, Kind] = {kind.name: kind for kind in KINDS}
DEVICE_KINDS: tuple[Kind, ...] = tuple(k for k in KINDS if not k.per_destination)
DESTINATION_KINDS: tuple[Kind, ...] = tuple(k for k in KINDS if k.per_destination)


def _check(kinds: tuple[Kind, ...]) -> None:
    if kinds != (*DEVICE_KINDS, *DESTINATION_KINDS):
        # `kind_levels` reads the device's kinds, then its destinations'.
        raise ValueError("the device's kinds come first in KINDS")
    for index, kind in enumerate(kinds):
        gate = KIND_OF.get(kind.gated_by) if kind.gated_by is not None else None
        if kind.gated_by is not None and (
            gate is None
            or gate.per_destination != kind.per_destination
            or kinds.index(gate) >= index
        ):
            raise ValueError(f"{kind.name} is gated by {kind.gated_by}: not an earlier kind")
        holder = DestinationState if kind.per_destination else DeviceState
        if getattr(holder, "__struct_fields__", ()).count(kind.name) != 1:
            raise ValueError(f"{holder.__name__} has no slot field {kind.name!r}")


_check(KINDS)


class AlertSlot(NamedTuple):
    """One alert slot of a device: its kind, its destination (None for a device's kind)
    and its current state."""

    kind: Kind
    destination: DestinationState | None
    slot: Slot

    @property
    def destination_id(self) -> str | None:
        return self.destination.destination_id if self.destination is not None else None

    def reference(self, state: DeviceState) -> datetime:
        """The time the slot's condition is measured from."""
        return self.kind.reference(state if self.destination is None else self.destination)


def slots(state: DeviceState) -> Iterator[AlertSlot]:
    """Every alert slot of the device: its own kinds, then each destination's, in the
    order of `KINDS` (the order the device detail lists them)."""
    for kind in DEVICE_KINDS:
        yield AlertSlot(kind, None, getattr(state, kind.name))
    for dest in state.destinations:
        for kind in DESTINATION_KINDS:
            yield AlertSlot(kind, dest, getattr(dest, kind.name))


def open_slots(state: DeviceState) -> Iterator[AlertSlot]:
    """The slots of the device that are not ok."""
    return (s for s in slots(state) if s.slot.level != "ok")


def any_open(state: DeviceState) -> bool:
    for kind in DEVICE_KINDS:
        if getattr(state, kind.name).level != "ok":
            return True
    for dest in state.destinations:
        for kind in DESTINATION_KINDS:
            if getattr(dest, kind.name).level != "ok":
                return True
    return False


def _levels_of(kinds: tuple[Kind, ...]) -> Callable[[Any], tuple[Level, ...]]:
    """A reader of the levels of `kinds` of one holder, as a tuple: one C-level
    `attrgetter` call (see `streams.fastpath`: this runs for every changed device)."""
    if not kinds:
        none: tuple[Level, ...] = ()
        return lambda _holder: none
    read: Callable[[Any], Any] = attrgetter(*(f"{kind.name}.level" for kind in kinds))
    if len(kinds) == 1:
        return lambda holder: (read(holder),)
    return read


_device_levels = _levels_of(DEVICE_KINDS)
_destination_levels = _levels_of(DESTINATION_KINDS)
_ALL_OK: tuple[Level, ...] = tuple("ok" for _ in DESTINATION_KINDS)


def kind_levels(state: DeviceState) -> tuple[Level, ...]:
    """The device's level of each kind, in the order of `KINDS`: a destination's kind
    shows its worst destination (ok without destinations)."""
    destinations = state.destinations
    if len(destinations) == 1:
        return _device_levels(state) + _destination_levels(destinations[0])
    if not destinations:
        return _device_levels(state) + _ALL_OK
    columns = zip(*map(_destination_levels, destinations), strict=True)
    return _device_levels(state) + tuple(map(worst, columns))
