"""From state to what readers get: the device status record, alerts, and rollups."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from schemas.models import Alert, DailyActivity, DestinationStatus, DeviceStatus
from schemas.types import AlertKind, Level
from streams.diagnosis import Hints, diagnose
from streams.kinds import DESTINATION_KINDS, KIND_NAMES, RANK, kind_levels, open_slots, worst
from streams.machine import window_as_of
from streams.policy import DEFAULT_POLICY, Policy
from streams.state import DeviceState
from streams.transitions import Transition

__all__ = ["device_figures", "device_status", "open_alerts", "to_alert"]


def _day_iso(day: int) -> str:
    return datetime.fromtimestamp(day * 86400, UTC).date().isoformat()


def _latest(times: Iterable[datetime | None]) -> datetime | None:
    present = [t for t in times if t is not None]
    return max(present) if present else None


def device_figures(state: DeviceState) -> dict[str, Any]:
    """The device-level figures folded from its destinations, as the console shows them."""
    destinations = state.destinations
    if len(destinations) == 1:
        # Most devices back up to one destination: its figures are the device's (the
        # fleet view cuts a row per changed device, so this path is hot).
        (only,) = destinations
        report = only.report
        return {
            "last_activity": only.last_activity,
            "last_completed_backup": only.last_completed,
            "percent_complete": report.percent_complete if report is not None else 0.0,
            "selected_bytes": report.selected_bytes if report is not None else 0,
            "todo_bytes": report.todo_bytes if report is not None else 0,
        }
    return {
        "last_activity": _latest(d.last_activity for d in destinations),
        "last_completed_backup": _latest(d.last_completed for d in destinations),
        # The console folds several destinations into one bar; the least complete one
        # is the one that needs attention.
        "percent_complete": min((d.percent_complete for d in destinations), default=0.0),
        "selected_bytes": sum(d.selected_bytes for d in destinations),
        "todo_bytes": sum(d.todo_bytes for d in destinations),
    }


def open_alerts(
    state: DeviceState, now: datetime, policy: Policy, hints: Hints | None = None
) -> list[dict[str, Any]]:
    """Every open alert of the device with its diagnosis."""
    alerts: list[dict[str, Any]] = []

    def add(
        kind: AlertKind,
        destination_id: str | None,
        level: Level,
        reference: datetime,
        episode: datetime | None,
    ) -> None:
        causes = diagnose(
            state,
            kind,
            now,
            destination_id=destination_id,
            policy=policy,
            hints=hints,
        )
        alerts.append(
            {
                "kind": kind,
                "destination_id": destination_id,
                "state": level,
                "episode_start": (episode or reference).isoformat(),
                "days_observed": round((now - reference).total_seconds() / 86400, 2),
                "diagnosis": [
                    {
                        "code": c.code,
                        "summary": c.summary,
                        "evidence": c.evidence,
                        "action": c.action,
                        "score": c.score,
                    }
                    for c in causes
                ],
            }
        )

    for open_slot in open_slots(state):
        add(
            open_slot.kind.name,
            open_slot.destination_id,
            open_slot.slot.level,
            open_slot.reference(state),
            open_slot.slot.episode_start,
        )
    alerts.sort(key=lambda a: (-RANK[a["state"]], KIND_NAMES.index(a["kind"])))
    return alerts


def device_status(
    state: DeviceState, now: datetime, policy: Policy = DEFAULT_POLICY, hints: Hints | None = None
) -> DeviceStatus:
    destinations = [
        DestinationStatus(
            destination_id=d.destination_id,
            **{f"{kind.name}_state": getattr(d, kind.name).level for kind in DESTINATION_KINDS},
            last_connected=state.last_connected_to(d),
            last_activity=d.last_activity,
            last_new_data=d.last_new_data,
            last_completed_backup=d.last_completed,
            percent_complete=d.percent_complete,
            session_state=d.session_state,
            selected_files=d.selected_files,
            selected_bytes=d.selected_bytes,
            todo_files=d.todo_files,
            todo_bytes=d.todo_bytes,
        )
        for d in state.destinations
    ]
    alert_states: dict[str, Level] = dict(zip(KIND_NAMES, kind_levels(state), strict=True))
    alerts = open_alerts(state, now, policy, hints)
    online = state.last_heartbeat is not None and now - state.last_heartbeat < policy.online_window
    return DeviceStatus(
        device_id=state.device_id,
        user_id=state.user_id,
        org_id=state.org_id,
        hostname=state.hostname,
        os=state.os,
        app_version=state.app_version,
        app_version_outdated=policy.version_outdated(state.app_version),
        online=online,
        service_state=state.service_state,
        backup_paused=state.backup_paused,
        deactivated=state.deactivated,
        snoozed_until=state.snoozed_until,
        alert_states=alert_states,
        worst_state=worst(alert_states.values()),
        first_seen=state.first_seen,
        last_heartbeat=state.last_heartbeat,
        last_connected=state.last_connected,
        **device_figures(state),
        destinations=destinations,
        open_alerts=alerts,
        daily=[
            DailyActivity(
                date=_day_iso(b.day),
                heartbeats=b.heartbeats,
                bytes_sent=b.bytes_sent,
                completions=b.completions,
                locked=b.locked,
                permission_denied=b.permission_denied,
                vanished=b.vanished,
                changed=b.changed,
            )
            for b in window_as_of(state, now)
        ],
        top_cause=alerts[0]["diagnosis"][0]["code"] if alerts else None,
        stream_time=now,
    )


def to_alert(
    transition: Transition,
    state: DeviceState,
    emitted_at: datetime,
    policy: Policy = DEFAULT_POLICY,
    hints: Hints | None = None,
) -> Alert:
    """The `alert/1` record for a transition, diagnosed against the device's state."""
    diagnosis = diagnose(
        state,
        transition.kind,
        transition.decided_at,
        destination_id=transition.destination_id,
        policy=policy,
        hints=hints,
    )
    return Alert(
        alert_id=transition.alert_id,
        device_id=transition.device_id,
        user_id=transition.user_id,
        org_id=transition.org_id,
        hostname=transition.hostname,
        destination_id=transition.destination_id,
        kind=transition.kind,
        from_state=transition.from_level,
        to_state=transition.to_level,
        transition=transition.name,  # type: ignore[arg-type]
        reason=transition.reason,
        episode_start=transition.episode_start,
        days_observed=round(transition.observed_s / 86400, 3),
        threshold_days=(
            round(transition.threshold_s / 86400, 3) if transition.threshold_s is not None else None
        ),
        diagnosis=diagnosis if transition.to_level != "ok" else [],
        decided_at=transition.decided_at,
        emitted_at=emitted_at,
    )
