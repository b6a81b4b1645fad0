"""Why a device is in trouble: the likely causes of an alert, ranked, with evidence.

The causes are the console's own lists ("Connection issues", "Backup issues", and the
"Completed" field's advice). Each rule looks only at the device's state, the clock and
what the caller knows about the rest of the fleet (`Hints`), and scores how strongly
the evidence points at its cause; the highest score comes first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.models import Cause
from schemas.types import AlertKind
from streams.kinds import KIND_OF, RANK, backup_reference
from streams.machine import WINDOW_DAYS, window_as_of
from streams.policy import DEFAULT_POLICY, Policy
from streams.state import DestinationState, DeviceState, day_number

__all__ = [
    "CAUSES",
    "Hints",
    "Sibling",
    "appeared_as_it_went_quiet",
    "diagnose",
    "estimated_time_to_finish",
    "newer_device_hint",
]


@dataclass(frozen=True, slots=True)
class Hints:
    """What the caller knows beyond this device's own state."""

    # A newer device of the same user that is active (it replaced this one).
    newer_device_id: str | None = None
    newer_device_last_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class Sibling:
    """Another device of the same user, as far as `newer_device_hint` needs it."""

    device_id: str
    # When it appeared: its registration time where known, else when first seen
    # (`DeviceState.appeared_at`).
    first_seen: datetime
    last_heartbeat: datetime | None
    deactivated: bool = False


def appeared_as_it_went_quiet(
    other: Sibling, first_seen: datetime, heard: datetime, policy: Policy = DEFAULT_POLICY
) -> bool:
    """Whether `other` may have replaced a device first seen at `first_seen` and last
    heard from at `heard`: it is active, and appeared around when that one went quiet
    (first seen after it, no earlier than the connection warning before `heard`). A
    second device the user had all along did not replace it."""
    return (
        not other.deactivated
        and other.first_seen > first_seen
        and other.first_seen >= heard - policy.connection.warning
    )


def newer_device_hint(
    state: DeviceState, siblings: Iterable[Sibling], now: datetime, policy: Policy = DEFAULT_POLICY
) -> Hints:
    """What the user's other devices say about this one: one that appeared as it went
    quiet (`appeared_as_it_went_quiet`), heard from since and in use now (within the
    connection warning), has replaced it. The most recently heard one is named.
    "Appeared" is the registration time where a producer gave it (a whole console
    bridged in at once is first seen at once: only its registration times tell a
    replacement from a second device the user had all along)."""
    heard = state.last_heartbeat or state.first_seen
    appeared = state.appeared_at
    hint = Hints()
    for other in siblings:
        seen = other.last_heartbeat
        if (
            other.device_id == state.device_id
            or not appeared_as_it_went_quiet(other, appeared, heard, policy)
            or seen is None
            or seen <= heard
            or now - seen >= policy.connection.warning
        ):
            continue
        if hint.newer_device_last_seen is None or seen > hint.newer_device_last_seen:
            hint = Hints(newer_device_id=other.device_id, newer_device_last_seen=seen)
    return hint


# code -> (summary, recommended action); the wording follows the console's article.
CAUSES: dict[str, tuple[str, str]] = {
    "extended_leave_or_powered_off": (
        "The device is powered off or not in use: it has not talked to the cloud either",
        "Check whether the user is on extended leave; if so, snooze the device or user "
        "until their return.",
    ),
    "left_organization": (
        "The user has left the organization but the device was not deactivated",
        "Deactivate the device (or the user) so that it stops counting against the fleet.",
    ),
    "replaced_by_newer_device": (
        "The user has a newer device and no longer uses this one",
        "Confirm the new device backs up, then deactivate this one.",
    ),
    "interfering_application": (
        "Another application on the device is interfering with connections",
        "Check security software, firewalls or VPN clients on the device and allow the "
        "backup app through them.",
    ),
    "communication_blocked": (
        "The device is online to the cloud but cannot reach any backup destination",
        "Check that the network (firewall, proxy) allows the device to reach its destinations.",
    ),
    "app_uninstalled_or_service_stopped": (
        "The backup app was uninstalled or its service was stopped",
        "Reinstall the app or restart its service; check whether the user removed it.",
    ),
    "no_connection": (
        "The device has not reached this destination, so no data can arrive",
        "Resolve the device's connection issue first.",
    ),
    "constantly_changing_files": (
        "The file selection includes files that change constantly (such as log files)",
        "Exclude constantly changing files (logs, databases in use) from the selection.",
    ),
    "vanished_temporary_files": (
        "The file selection includes temporary files that are gone by the next session",
        "Exclude temporary and cache folders from the file selection.",
    ),
    "locked_or_permission_denied": (
        "Files are locked, or the app lacks permission to read them",
        "Grant the app full disk access, or exclude the locked files; close the "
        "applications holding them.",
    ),
    "paused_by_user": (
        "The user has paused backup",
        "Ask the user to resume backup, or restrict pausing in the device settings.",
    ),
    "cpu_throttled": (
        "CPU throttling leaves the app too little CPU to finish a backup",
        "Raise the CPU limit for when the user is present or away.",
    ),
    "network_throttled": (
        "Network throttling leaves too little bandwidth to send the backup data",
        "Raise the app's network limit, or review the organization's network settings.",
    ),
    "backup_interval_too_short": (
        "Sessions start more often than the backup set can be sent in one session",
        "Lengthen the backup frequency or reduce the file selection.",
    ),
    "locked_files_block_completion": (
        "Data is flowing, but a few locked files keep the backup from reaching 100 %",
        "Find the locked files in the device's backup report and close or exclude them.",
    ),
    "undetermined": (
        "No single cause stands out from the device's reports",
        "Open the device's details and its app log.",
    ),
}


def _cause(code: str, score: float, evidence: dict[str, Any]) -> Cause:
    summary, action = CAUSES[code]
    return Cause(
        code=code,
        summary=summary,
        evidence=evidence,
        action=action,
        score=round(min(1.0, max(0.0, score)), 3),
    )


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400, 2)


def _receiving(state: DeviceState, now: datetime) -> list[DestinationState]:
    """The destinations that received new data within the daily window."""
    oldest = day_number(now) - WINDOW_DAYS + 1
    return [
        dest
        for dest in state.destinations
        if dest.last_new_data is not None and day_number(dest.last_new_data) >= oldest
    ]


# The longest estimate a timedelta holds; a backlog that would take longer at the
# window's rate is as good as never finished.
_NEVER = timedelta.max.total_seconds()
# Fewer bytes than a disk sector a day are no measured transfer rate: a producer that
# knows only that data arrived, not how much (the CrashPlan bridge marks new data with
# a single byte, at most once a poll), leaves the rate unknown, and no estimate is made.
MEASURED_BYTES_PER_DAY = 512


def estimated_time_to_finish(
    state: DeviceState, dest: DestinationState, now: datetime
) -> timedelta | None:
    """Time to send the destination's to-do bytes at the rate of the daily windows.

    The windows count the device's bytes, not each destination's: when several
    destinations received new data in the window, the rate is taken as shared equally
    among them (an estimate). None when nothing is to do; `timedelta.max` when this
    destination received nothing in the window, or when the backlog would take longer
    than a timedelta holds. None too when the window measured no rate
    (`MEASURED_BYTES_PER_DAY`).
    """
    if dest.todo_bytes <= 0:
        return None
    window = window_as_of(state, now)
    sent = sum(day.bytes_sent for day in window)
    active_days = sum(1 for day in window if day.bytes_sent > 0)
    if 0 < sent < MEASURED_BYTES_PER_DAY * active_days:
        return None
    receiving = _receiving(state, now)
    if sent <= 0 or active_days == 0 or dest not in receiving:
        return timedelta.max
    per_second = sent / len(receiving) / (active_days * 86400)
    seconds = dest.todo_bytes / per_second
    return timedelta.max if seconds >= _NEVER else timedelta(seconds=seconds)


def _window_totals(state: DeviceState, now: datetime) -> dict[str, int]:
    totals = {"locked": 0, "permission_denied": 0, "vanished": 0, "changed": 0, "bytes_sent": 0}
    for day in window_as_of(state, now):
        totals["locked"] += day.locked
        totals["permission_denied"] += day.permission_denied
        totals["vanished"] += day.vanished
        totals["changed"] += day.changed
        totals["bytes_sent"] += day.bytes_sent
    return totals


def _connection_causes(
    state: DeviceState, now: datetime, policy: Policy, hints: Hints, quiet: timedelta
) -> Iterator[Cause]:
    """Why the device reaches no destination. `quiet` is the heartbeat silence from which
    the device reads as off: the connection warning for the connection alert; for a
    backup alert, at most half the silence the alert measures."""
    last_contact = state.last_connected or state.first_seen
    online = state.last_heartbeat is not None and now - state.last_heartbeat < policy.online_window
    heartbeat_age = now - (state.last_heartbeat or state.first_seen)
    if state.user_left_org:
        yield _cause("left_organization", 0.95, {"user_id": state.user_id, "user_left_org": True})
    newer = state.replaced_by or hints.newer_device_id
    if newer:
        yield _cause(
            "replaced_by_newer_device",
            0.9,
            {
                "newer_device_id": newer,
                "newer_device_last_seen": _iso(hints.newer_device_last_seen),
                "this_device_last_heartbeat": _iso(state.last_heartbeat),
            },
        )
    if state.service_state in ("stopping", "uninstalling"):
        yield _cause(
            "app_uninstalled_or_service_stopped",
            0.9 if state.service_state == "uninstalling" else 0.85,
            {
                "last_service_state": state.service_state,
                "last_heartbeat": _iso(state.last_heartbeat),
            },
        )
    if state.service_state != "running":
        return
    # Heartbeats after the last contact: the device talked to the cloud without reaching
    # a destination, which points at the path to the destinations.
    talked_without_contact = (
        state.last_heartbeat is not None and state.last_heartbeat > last_contact
    )
    blocked_evidence = {
        "online": online,
        "last_heartbeat": _iso(state.last_heartbeat),
        "last_connected": _iso(state.last_connected),
        "reachable_destinations": list(state.reachable),
        "connect_error": state.connect_error,
    }
    if talked_without_contact and heartbeat_age < quiet:
        if state.connect_error == "local_interference":
            yield _cause("interfering_application", 0.85, blocked_evidence)
            yield _cause("communication_blocked", 0.5, blocked_evidence)
        else:
            score = 0.85 if state.connect_error == "blocked" else (0.75 if online else 0.6)
            yield _cause("communication_blocked", score, blocked_evidence)
            yield _cause("interfering_application", 0.3, blocked_evidence)
        return
    # Silent towards the cloud as well: off, or not in use.
    yield _cause(
        "extended_leave_or_powered_off",
        0.8 if heartbeat_age >= quiet else 0.5,
        {
            "online": online,
            "last_heartbeat": _iso(state.last_heartbeat),
            "days_since_heartbeat": _days(heartbeat_age),
            "days_since_connected": _days(now - last_contact),
        },
    )
    if talked_without_contact:
        # Before it went quiet, it talked to the cloud without reaching a destination.
        yield _cause("communication_blocked", 0.4, blocked_evidence)


def _transfer_causes(
    state: DeviceState, dest: DestinationState, now: datetime, policy: Policy
) -> Iterator[Cause]:
    """Causes shared by backup and completion alerts: why data does not get through."""
    totals = _window_totals(state, now)
    if state.backup_paused or dest.session_state == "paused":
        yield _cause(
            "paused_by_user",
            0.9,
            {"backup_paused": state.backup_paused, "session_state": dest.session_state},
        )
    if totals["changed"] or dest.changed_files:
        yield _cause(
            "constantly_changing_files",
            0.5 + min(0.35, totals["changed"] / 200),
            {
                "changed_during_backup_14d": totals["changed"],
                "changed_during_backup_last_session": dest.changed_files,
            },
        )
    if totals["vanished"] or dest.vanished_files:
        yield _cause(
            "vanished_temporary_files",
            0.45 + min(0.35, totals["vanished"] / 200),
            {"vanished_14d": totals["vanished"], "vanished_last_session": dest.vanished_files},
        )
    locked = totals["locked"] + totals["permission_denied"]
    if locked or dest.locked_files or dest.permission_denied_files:
        yield _cause(
            "locked_or_permission_denied",
            0.5 + min(0.35, locked / 200),
            {
                "locked_14d": totals["locked"],
                "permission_denied_14d": totals["permission_denied"],
                "locked_last_session": dest.locked_files,
                "permission_denied_last_session": dest.permission_denied_files,
            },
        )
    # A throttle the session itself reports is why its transfers are slow, and comes
    # before the estimate below that those slow transfers make too long.
    if dest.cpu_throttled or state.cpu_limit_percent < 50:
        yield _cause(
            "cpu_throttled",
            0.8 if dest.cpu_throttled else 0.5,
            {"cpu_throttled": dest.cpu_throttled, "cpu_limit_percent": state.cpu_limit_percent},
        )
    if dest.network_throttled or state.network_limit_kbps is not None:
        yield _cause(
            "network_throttled",
            0.8 if dest.network_throttled else 0.5,
            {
                "network_throttled": dest.network_throttled,
                "network_limit_kbps": state.network_limit_kbps,
            },
        )
    eta = estimated_time_to_finish(state, dest, now)
    interval = timedelta(seconds=dest.backup_interval_s)
    if eta is not None and eta != timedelta.max and eta > interval:
        evidence: dict[str, Any] = {
            "todo_bytes": dest.todo_bytes,
            "bytes_sent_14d": totals["bytes_sent"],
            "estimated_hours_to_finish": round(eta.total_seconds() / 3600, 2),
            "backup_interval_hours": round(dest.backup_interval_s / 3600, 2),
        }
        receiving = len(_receiving(state, now))
        if receiving > 1:
            # The bytes are the device's; the estimate gives this destination its share.
            evidence["destinations_receiving_data"] = receiving
        yield _cause("backup_interval_too_short", 0.75 if eta > 4 * interval else 0.6, evidence)


def _backup_causes(
    state: DeviceState, dest: DestinationState, now: datetime, policy: Policy, hints: Hints
) -> Iterator[Cause]:
    last_contact = state.last_connected_to(dest)
    silence = now - backup_reference(dest)
    # Out of reach for most of the time no data arrived: the connection is the cause
    # (data often stops a little before the device goes dark).
    if last_contact is not None and now - last_contact <= silence / 2:
        yield from _transfer_causes(state, dest, now, policy)
        return
    unreached = {
        "destination_id": dest.destination_id,
        "last_connected": _iso(last_contact),
        "device_connection_state": state.connection.level,
    }
    device_contact = state.last_connected
    if device_contact is None or now - device_contact > silence / 2:
        # The device reaches no destination at all: why it does not is the cause, and
        # this destination's silence follows from it.
        quiet = min(policy.connection.warning, silence / 2)
        yield from _connection_causes(state, now, policy, hints, quiet)
        yield _cause("no_connection", 0.55, unreached)
    else:
        # Other destinations are reached: the way to this one is the cause.
        yield _cause("no_connection", 0.8, unreached)
    # Nothing can arrive while the destination is out of reach: what slowed the
    # transfers before comes second.
    for cause in _transfer_causes(state, dest, now, policy):
        yield _cause(cause.code, cause.score / 2, cause.evidence)


def _completion_causes(
    state: DeviceState, dest: DestinationState, now: datetime, policy: Policy
) -> Iterator[Cause]:
    blocked = dest.locked_files + dest.permission_denied_files
    if 0 < dest.percent_complete < 100 and (blocked or dest.todo_files <= 10):
        few = dest.todo_files <= max(10, 2 * blocked)
        yield _cause(
            "locked_files_block_completion",
            0.9 if blocked and few else 0.6,
            {
                "percent_complete": dest.percent_complete,
                "todo_files": dest.todo_files,
                "locked_last_session": dest.locked_files,
                "permission_denied_last_session": dest.permission_denied_files,
                "last_new_data": _iso(dest.last_new_data),
                "last_completed_backup": _iso(dest.last_completed),
            },
        )
    yield from _transfer_causes(state, dest, now, policy)


def diagnose(
    state: DeviceState,
    kind: AlertKind,
    now: datetime,
    *,
    destination_id: str | None = None,
    policy: Policy = DEFAULT_POLICY,
    hints: Hints | None = None,
) -> list[Cause]:
    """The likely causes of `kind` trouble on the device (on one destination for the
    per-destination kinds; the worst one when `destination_id` is None), best first."""
    hints = hints or Hints()
    causes: list[Cause] = []
    if KIND_OF[kind].per_destination:
        dest = _pick_destination(state, kind, destination_id)
        of_destination = _DESTINATION_CAUSES.get(kind)
        if dest is not None and of_destination is not None:
            causes = list(of_destination(state, dest, now, policy, hints))
    else:
        of_device = _DEVICE_CAUSES.get(kind)
        if of_device is not None:
            causes = list(of_device(state, now, policy, hints))
    held = _user_hold_cause(state)
    if held is not None:
        # An administrator said so: not a guess from the device's silence.
        causes.insert(0, held)
    best: dict[str, Cause] = {}
    for cause in causes:
        if cause.code not in best or cause.score > best[cause.code].score:
            best[cause.code] = cause
    ranked = sorted(best.values(), key=_rank_key)
    return ranked or [_cause("undetermined", 0.1, {"kind": kind})]


# The causes of each kind's trouble, by kind (a kind of neither table is undetermined).
_DEVICE_CAUSES: dict[str, Callable[[DeviceState, datetime, Policy, Hints], Iterable[Cause]]] = {
    "connection": lambda state, now, policy, hints: _connection_causes(
        state, now, policy, hints, policy.connection.warning
    ),
}
_DESTINATION_CAUSES: dict[
    str, Callable[[DeviceState, DestinationState, datetime, Policy, Hints], Iterable[Cause]]
] = {
    "backup": _backup_causes,
    "completion": lambda state, dest, now, policy, _hints: _completion_causes(
        state, dest, now, policy
    ),
}


def _user_hold_cause(state: DeviceState) -> Cause | None:
    """The cause an administrator recorded for the device's user at its last decision:
    on leave, or deactivated (left the organization)."""
    hold = state.user_hold
    if hold is None:
        return None
    if hold.kind == "leave":
        return _cause(
            "extended_leave_or_powered_off",
            1.0,
            {
                "user_id": state.user_id,
                "user_on_leave_since": _iso(hold.start),
                "user_on_leave_until": _iso(hold.until),
                "reason": hold.reason,
                "by": hold.actor,
            },
        )
    return _cause(
        "left_organization",
        1.0,
        {
            "user_id": state.user_id,
            "user_deactivated_since": _iso(hold.start),
            "reason": hold.reason,
            "by": hold.actor,
        },
    )


def _rank_key(cause: Cause) -> tuple[float, str]:
    return (-cause.score, cause.code)


def _pick_destination(
    state: DeviceState, kind: str, destination_id: str | None
) -> DestinationState | None:
    if destination_id is not None:
        return state.destination(destination_id)
    if not state.destinations:
        return None

    def level(dest: DestinationState) -> int:
        return RANK[getattr(dest, kind).level]

    return max(state.destinations, key=level)
