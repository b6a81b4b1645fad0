"""The bodies of the report API's answers, and of the requests it takes, as types.

Every answer the API sends is one of these, encoded by msgspec; the OpenAPI document
(`agents.report.openapi`) is generated from them, so what the document promises is what
the handlers build. Times the API works out itself are written as `datetime.isoformat`
gives them (`+00:00`); those copied from a record (a device's status, a policy, a user's
periods) as the record's own encoding gives them (`Z`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, cast

import msgspec
from msgspec import UNSET, Meta, UnsetType

from schemas.models import Cause, DeviceCommand, DeviceStatus, OrgPolicy, UserPeriod
from schemas.types import AlertKind, Level
from streams.kinds import KIND_NAMES
from streams.policy import Policy
from streams.report import (
    DeviceRow,
    FleetRollup,
    Hold,
    HoldSource,
    HoldState,
    OrgRollup,
    ReportContext,
    Timestamp,
    UserRollup,
    days_inactive,
    hold_of,
    is_online,
    is_snoozed,
    moment,
)
from streams.state import DeviceState, UserHold

__all__ = [
    "Accepted",
    "CauseCatalogue",
    "CauseEntry",
    "CommandAccepted",
    "CommandBody",
    "DeviceDetail",
    "DeviceEntry",
    "DeviceHold",
    "DevicePage",
    "Error",
    "FleetCounts",
    "FleetSummary",
    "KnownDevice",
    "LeaveBody",
    "OpenAlert",
    "OrgCounts",
    "OrgSummary",
    "PolicyAccepted",
    "SnoozeBody",
    "ThresholdDays",
    "TransitionEntry",
    "UserActionAccepted",
    "UserFactsNow",
    "UserHoldNow",
    "UserSummary",
    "View",
    "device_entry",
    "device_hold",
    "fleet_summary",
    "known_device",
    "org_summary",
    "thresholds",
    "transition_entries",
    "user_facts_now",
    "user_summary",
]

# A time the API writes itself, as `datetime.isoformat` gives it.
Time = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


def _iso(value: Timestamp | None) -> str | None:
    return moment(value).isoformat() if value is not None else None


class Error(msgspec.Struct, kw_only=True):
    """A request refused: what is wrong, and the parameter or field it is about."""

    error: str
    parameter: str | UnsetType = UNSET


class View(msgspec.Struct, kw_only=True):
    """How complete this worker's view of the fleet is."""

    caught_up: bool
    devices: int
    stream_time: Time | None


class DeviceHold(msgspec.Struct, kw_only=True):
    """What keeps the device's alerts quiet at its stream time, and who said so: the
    device (its own deactivation or snooze) or its user (on leave, deactivated)."""

    state: HoldState
    source: HoldSource
    since: Time | None
    until: Time | None
    reason: str
    text: Annotated[str, Meta(description="e.g. `on leave until 2027-03-01, by user`")]


_HOLD_WORDS = {"deactivated": "deactivated", "on_leave": "on leave", "snoozed": "snoozed"}


def device_hold(hold: Hold | None) -> DeviceHold | None:
    if hold is None:
        return None
    text = _HOLD_WORDS[hold.state]
    if hold.since is not None and hold.until is None:
        text += f" since {moment(hold.since).date().isoformat()}"
    if hold.until is not None:
        text += f" until {moment(hold.until).date().isoformat()}"
    return DeviceHold(
        state=hold.state,
        source=hold.source,
        since=_iso(hold.since),
        until=_iso(hold.until),
        reason=hold.reason,
        text=f"{text}, by {hold.source}",
    )


class DeviceEntry(msgspec.Struct, kw_only=True):
    """A device as the device list shows it, with what depends on the time of asking."""

    device_id: str
    org_id: str
    user_id: str
    hostname: str
    os: str
    app_version: str
    app_version_outdated: bool
    destinations: list[str]
    alert_states: dict[AlertKind, Level]
    worst_state: Level
    online: bool
    percent_complete: Annotated[float, Meta(ge=0, le=100)]
    first_seen: Time | None
    last_heartbeat: Time | None
    last_connected: Time | None
    last_activity: Time | None
    last_completed_backup: Time | None
    days_inactive: Annotated[float, Meta(ge=0)]
    selected_bytes: Annotated[int, Meta(ge=0)]
    todo_bytes: Annotated[int, Meta(ge=0)]
    snoozed: bool
    snoozed_until: Time | None
    deactivated: bool
    backup_paused: bool
    top_cause: str | None
    hold: DeviceHold | None
    stream_time: Time


def device_entry(row: DeviceRow, ctx: ReportContext) -> DeviceEntry:
    return DeviceEntry(
        device_id=row.device_id,
        org_id=row.org_id,
        user_id=row.user_id,
        hostname=row.hostname,
        os=row.os,
        app_version=row.app_version,
        app_version_outdated=ctx.policy_of(row.org_id).version_outdated(row.app_version),
        destinations=list(row.destinations),
        alert_states={kind: getattr(row, kind) for kind in KIND_NAMES},
        worst_state=row.worst_state,
        online=is_online(row, ctx),
        percent_complete=row.percent_complete,
        first_seen=_iso(row.first_seen),
        last_heartbeat=_iso(row.last_heartbeat),
        last_connected=_iso(row.last_connected),
        last_activity=_iso(row.last_activity),
        last_completed_backup=_iso(row.last_completed_backup),
        days_inactive=round(days_inactive(row, ctx), 2),
        selected_bytes=row.selected_bytes,
        todo_bytes=row.todo_bytes,
        snoozed=is_snoozed(row, ctx),
        snoozed_until=_iso(row.snoozed_until),
        deactivated=row.deactivated,
        backup_paused=row.backup_paused,
        top_cause=row.top_cause,
        hold=device_hold(hold_of(row, ctx)),
        stream_time=ctx.now_of(row).isoformat(),
    )


class DevicePage(msgspec.Struct, kw_only=True):
    devices: list[DeviceEntry]
    total: Annotated[int, Meta(description="Devices matching the filters.")]
    next_cursor: str | None
    view: View


# -- one device ---------------------------------------------------------------------------


class OpenAlert(msgspec.Struct, kw_only=True):
    kind: AlertKind
    destination_id: str | None
    state: Level
    episode_start: Time
    days_observed: float
    diagnosis: list[Cause]


class ThresholdDays(msgspec.Struct, kw_only=True):
    warning_days: float
    critical_days: float


def thresholds(policy: Policy, kinds: tuple[AlertKind, ...]) -> dict[AlertKind, ThresholdDays]:
    return {
        kind: ThresholdDays(
            warning_days=policy.thresholds(kind).warning / timedelta(days=1),
            critical_days=policy.thresholds(kind).critical / timedelta(days=1),
        )
        for kind in kinds
    }


class TransitionEntry(msgspec.Struct, kw_only=True):
    at: Time
    kind: AlertKind
    destination_id: str | None
    from_level: Level = msgspec.field(name="from")
    to_level: Level = msgspec.field(name="to")
    reason: str


def transition_entries(state: DeviceState) -> list[TransitionEntry]:
    """The device's recent transitions, newest first."""
    return [
        TransitionEntry(
            at=entry.at.isoformat(),
            kind=cast(AlertKind, entry.kind),
            destination_id=entry.destination_id,
            from_level=entry.from_level,
            to_level=entry.to_level,
            reason=entry.reason,
        )
        for entry in reversed(state.history)
    ]


class DeviceDetail(DeviceStatus, tag=False, frozen=True):
    """A device's status (`device_status/1` without its `schema`), with what the device
    page shows besides."""

    # The status's own alert list, described.
    open_alerts: list[OpenAlert]  # type: ignore[assignment]
    days_inactive: float
    hold: DeviceHold | None
    thresholds: dict[AlertKind, ThresholdDays]
    recent_transitions: list[TransitionEntry]
    view: View

    @classmethod
    def of(cls, status: DeviceStatus, **besides: Any) -> DeviceDetail:
        fields = {name: getattr(status, name) for name in DeviceStatus.__struct_fields__}
        return cls(**{**fields, **besides})


class KnownDevice(msgspec.Struct, kw_only=True):
    """A device known only from commands sent before its first report."""

    device_id: str
    reporting: Literal[False]
    status: str
    deactivated: bool
    snoozed_until: Time | None
    replaced_by: str | None
    first_seen: Time


def known_device(state: DeviceState) -> KnownDevice:
    return KnownDevice(
        device_id=state.device_id,
        reporting=False,
        status="known, not yet reporting",
        deactivated=state.deactivated,
        snoozed_until=state.snoozed_until.isoformat() if state.snoozed_until else None,
        replaced_by=state.replaced_by,
        first_seen=state.first_seen.isoformat(),
    )


# -- users --------------------------------------------------------------------------------


class UserHoldNow(msgspec.Struct, kw_only=True):
    """What holds for the user at the fleet's stream time."""

    state: Literal["on_leave", "deactivated"]
    since: Time
    until: Time | None
    reason: str
    by: str
    text: str


class UserFactsNow(msgspec.Struct, kw_only=True):
    """What administrators recorded about the user, and what holds now."""

    # What holds at the fleet's stream time (null: nothing).
    hold: UserHoldNow | None
    periods: Annotated[
        list[UserPeriod], Meta(description="Every leave and deactivation, oldest first.")
    ]
    updated_at: Time | None


def user_facts_now(
    hold: UserHold | None, periods: list[UserPeriod], updated_at: datetime | None
) -> UserFactsNow:
    held = None
    if hold is not None:
        words = "on leave" if hold.kind == "leave" else "deactivated"
        held = UserHoldNow(
            state="on_leave" if hold.kind == "leave" else "deactivated",
            since=hold.start.isoformat(),
            until=hold.until.isoformat() if hold.until is not None else None,
            reason=hold.reason,
            by=hold.actor,
            text=(
                f"{words} until {hold.until.date().isoformat()}"
                if hold.until is not None
                else f"{words} since {hold.start.date().isoformat()}"
            ),
        )
    return UserFactsNow(
        hold=held,
        periods=periods,
        updated_at=updated_at.isoformat() if updated_at is not None else None,
    )


class UserSummary(msgspec.Struct, kw_only=True):
    user_id: str
    orgs: list[str]
    devices: int
    worst_state: Level
    alert_states: dict[AlertKind, Level]
    online: bool
    device_list: list[DeviceEntry]
    facts: UserFactsNow
    view: View


def user_summary(
    rollup: UserRollup, ctx: ReportContext, facts: UserFactsNow, view: View
) -> UserSummary:
    return UserSummary(
        user_id=rollup.user_id,
        orgs=rollup.orgs,
        devices=rollup.devices,
        worst_state=rollup.worst_state,
        alert_states=cast(dict[AlertKind, Level], rollup.alert_states),
        online=rollup.online,
        device_list=[device_entry(row, ctx) for row in rollup.device_list],
        facts=facts,
        view=view,
    )


# -- orgs and the fleet --------------------------------------------------------------------


class OrgSummary(msgspec.Struct, kw_only=True):
    org_id: str
    devices: int
    active: int
    online: int
    deactivated: int
    snoozed: int
    app_version_outdated: int
    by_state: dict[Level, int]
    by_kind: dict[AlertKind, dict[Level, int]]
    most_urgent: list[DeviceEntry]
    policy: OrgPolicy | None
    view: View


def org_summary(
    rollup: OrgRollup, ctx: ReportContext, policy: OrgPolicy | None, view: View
) -> OrgSummary:
    return OrgSummary(
        org_id=rollup.org_id,
        devices=rollup.devices,
        active=rollup.active,
        online=rollup.online,
        deactivated=rollup.deactivated,
        snoozed=rollup.snoozed,
        app_version_outdated=rollup.app_version_outdated,
        by_state=rollup.by_state,
        by_kind=cast(dict[AlertKind, dict[Level, int]], rollup.by_kind),
        most_urgent=[device_entry(row, ctx) for row in rollup.most_urgent],
        policy=policy,
        view=view,
    )


class FleetCounts(msgspec.Struct, kw_only=True):
    """Devices, deactivated ones, and active ones per state."""

    devices: int
    deactivated: int
    ok: int
    warning: int
    critical: int


class OrgCounts(FleetCounts, kw_only=True):
    org_id: str


class FleetSummary(msgspec.Struct, kw_only=True):
    totals: FleetCounts
    orgs: list[OrgCounts]
    view: View


def fleet_summary(rollup: FleetRollup, view: View) -> FleetSummary:
    return FleetSummary(
        totals=FleetCounts(**rollup.totals),
        orgs=[OrgCounts(org_id=org, **counts) for org, counts in rollup.orgs.items()],
        view=view,
    )


class CauseEntry(msgspec.Struct, kw_only=True):
    code: str
    summary: str
    action: str


class CauseCatalogue(msgspec.Struct, kw_only=True):
    causes: list[CauseEntry]


# -- admin writes ---------------------------------------------------------------------------


class Accepted(msgspec.Struct, kw_only=True):
    accepted: bool


class PolicyAccepted(Accepted, kw_only=True):
    policy: OrgPolicy


class CommandAccepted(Accepted, kw_only=True):
    command: DeviceCommand
    held: (
        Annotated[
            bool, Meta(description="The device has not reported yet: the command waits for it.")
        ]
        | UnsetType
    ) = UNSET
    message: str | UnsetType = UNSET


class UserActionAccepted(Accepted, kw_only=True):
    effective_at: Time
    facts: UserFactsNow


_Reason = Annotated[str, Meta(max_length=1024)]


class CommandBody(msgspec.Struct, kw_only=True):
    """A device command's or a user action's body; it may be left out."""

    reason: _Reason | UnsetType = UNSET


class SnoozeBody(msgspec.Struct, kw_only=True):
    """Either `until` or `hours` (from the device's stream time)."""

    until: Time | UnsetType = UNSET
    hours: Annotated[float, Meta(gt=0, le=8760)] | UnsetType = UNSET
    reason: _Reason | UnsetType = UNSET


class LeaveBody(msgspec.Struct, kw_only=True):
    until: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    reason: _Reason | UnsetType = UNSET
