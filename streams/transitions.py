"""A change of alert state: what alerts are made from."""

from __future__ import annotations

import hashlib
from datetime import datetime

import msgspec

from schemas.types import AlertKind, Level

__all__ = ["Transition", "alert_id", "transition_name"]


def transition_name(from_level: Level, to_level: Level) -> str:
    """`opened`, `escalated`, `deescalated`, `resolved` or `reminder`."""
    if from_level == to_level:
        return "reminder"
    if to_level == "ok":
        return "resolved"
    if from_level == "ok":
        return "opened"
    return "escalated" if to_level == "critical" else "deescalated"


def alert_id(
    device_id: str,
    kind: str,
    destination_id: str | None,
    from_level: str,
    to_level: str,
    episode_start: datetime,
    at: datetime | None = None,
    sequence: int = 0,
) -> str:
    """Deterministic: the same transition of the same episode always gets the same id,
    so a worker that re-sends after a crash produces a duplicate consumers can drop.
    `at` tells reminders of one episode apart; `sequence`, the transitions the slot made
    before this one, tells apart transitions that repeat with one reference time (an
    alert reopened while the device is still silent, a second escalation)."""
    parts = [
        device_id,
        kind,
        destination_id or "",
        from_level,
        to_level,
        episode_start.isoformat(),
        at.isoformat() if at is not None else "",
    ]
    if sequence:
        # Left out at 0, so a slot's first transitions keep the ids they had before
        # slots counted them.
        parts.append(str(sequence))
    key = "|".join(parts)
    return hashlib.blake2b(key.encode(), digest_size=12).hexdigest()


class Transition(msgspec.Struct, frozen=True, kw_only=True):
    """One device's alert of one kind moved from one state to another (or is reminded)."""

    device_id: str
    user_id: str
    org_id: str
    hostname: str
    kind: AlertKind
    destination_id: str | None
    from_level: Level
    to_level: Level
    # "threshold", "new_event", "reminder", "deactivated", "snooze_ended", "policy_changed",
    # "user_deactivated", "leave_ended"
    reason: str
    episode_start: datetime
    decided_at: datetime
    # Time since the reference (last contact, new data, 100 %) when decided.
    observed_s: float
    # The threshold crossed (for `to_level`), None when resolved.
    threshold_s: float | None
    # The transitions the slot made before this one (see `Slot.transitions`).
    sequence: int = 0

    @property
    def name(self) -> str:
        return transition_name(self.from_level, self.to_level)

    @property
    def alert_id(self) -> str:
        return alert_id(
            self.device_id,
            self.kind,
            self.destination_id,
            self.from_level,
            self.to_level,
            self.episode_start,
            self.decided_at if self.from_level == self.to_level else None,
            self.sequence,
        )
