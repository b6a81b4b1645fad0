"""Thresholds, per organization, with the console's defaults."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from schemas.models import OrgPolicy
from streams.errors import InvalidPolicy
from streams.kinds import KINDS

__all__ = ["DEFAULT_POLICY", "Policy", "Thresholds", "parse_version", "policy_from_record"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """How long a condition may last before it is a warning, then critical."""

    warning: timedelta
    critical: timedelta

    def __post_init__(self) -> None:
        if self.warning <= timedelta(0) or self.critical <= timedelta(0):
            raise InvalidPolicy(f"thresholds must be positive, got {self}")
        if self.warning >= self.critical:
            raise InvalidPolicy(
                f"warning ({_days(self.warning)} days) must come before "
                f"critical ({_days(self.critical)} days)"
            )


def _days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400, 4)


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything a decision about one device depends on besides its own state."""

    # The thresholds of each alert kind (`streams.kinds.KINDS`), named after it.
    # Time since the device last reached any backup destination.
    connection: Thresholds = Thresholds(timedelta(days=3), timedelta(days=5))
    # Time since a destination last received new data (or confirmed it is up to date).
    backup: Thresholds = Thresholds(timedelta(days=3), timedelta(days=7))
    # Time since a destination last reached 100 % while data is still flowing.
    completion: Thresholds = Thresholds(timedelta(days=7), timedelta(days=14))
    # A device is online while its last heartbeat is younger than this.
    online_window: timedelta = timedelta(minutes=15)
    minimum_app_version: str | None = None
    # Repeat an open alert this often; None = never.
    reminder_interval: timedelta | None = None
    # How far ahead of the partition clock a device's own clock may run before its
    # times are clamped: a device with a wrong clock must not move time.
    max_skew: timedelta = timedelta(minutes=5)
    # Which version of the org's policy this is ("" = the defaults); a device decided
    # under another revision is decided again, so a change is never lost, not even to a
    # rebalance that moves the device to a worker that never saw the change happen.
    revision: str = ""

    def __post_init__(self) -> None:
        if self.online_window <= timedelta(0):
            raise InvalidPolicy("online window must be positive")
        if self.reminder_interval is not None and self.reminder_interval <= timedelta(0):
            raise InvalidPolicy("reminder interval must be positive (or off)")
        if self.max_skew < timedelta(0):
            raise InvalidPolicy("max skew cannot be negative")

    def thresholds(self, kind: str) -> Thresholds:
        """The thresholds of an alert kind (the field named after it)."""
        thresholds: Thresholds = getattr(self, kind)
        return thresholds

    def version_outdated(self, app_version: str) -> bool:
        if not self.minimum_app_version or not app_version:
            return False
        return parse_version(app_version) < parse_version(self.minimum_app_version)


DEFAULT_POLICY = Policy()
_LEADING_DIGITS = re.compile(r"\d+")


def parse_version(text: str) -> tuple[int, ...]:
    """`"11.2.1.4"` → `(11, 2, 1, 4)`; a part without leading digits counts as 0.

    The version ends at the first part with something after its digits: `11.1.2-hotfix3`
    and `11.1.2b2` are 11.1.2 (a hotfix's or a build's number is not a fourth part, and
    run together with the third it would read as 11.1.23).
    Trailing zeros are dropped: 11.2 and 11.2.0 are one version, and neither is below the
    other (as tuples, (11, 2) < (11, 2, 0))."""
    parts = []
    for piece in text.strip().split("."):
        digits = _LEADING_DIGITS.match(piece)
        parts.append(int(digits.group()) if digits else 0)
        if digits is not None and digits.end() < len(piece):
            break
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _pair(base: Thresholds, warning_days: float | None, critical_days: float | None) -> Thresholds:
    return Thresholds(
        timedelta(days=warning_days) if warning_days is not None else base.warning,
        timedelta(days=critical_days) if critical_days is not None else base.critical,
    )


def policy_from_record(record: OrgPolicy, base: Policy = DEFAULT_POLICY) -> Policy:
    """An org's policy: the record's overrides on top of `base`; raises `InvalidPolicy`."""
    # By kind name, as keywords of `Policy` (typed as any keyword: mypy cannot tell them
    # from the policy's other fields).
    thresholds: dict[str, Any] = {
        kind.name: _pair(
            base.thresholds(kind.name),
            getattr(record, kind.warning_field),
            getattr(record, kind.critical_field),
        )
        for kind in KINDS
    }
    return replace(
        base,
        **thresholds,
        online_window=(
            timedelta(minutes=record.online_window_minutes)
            if record.online_window_minutes is not None
            else base.online_window
        ),
        minimum_app_version=record.minimum_app_version or base.minimum_app_version,
        reminder_interval=(
            timedelta(hours=record.reminder_hours)
            if record.reminder_hours is not None
            else base.reminder_interval
        ),
        revision=record.updated_at.isoformat(),
    )
