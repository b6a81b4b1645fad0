"""Facts about users — on leave, deactivated — as spans of stream time.

An administrator records a fact once for a person, and every device whose current user
that person is follows it, whatever partition the device is on and whenever it first
reports. The facts of a user are one record on a compacted topic keyed by user id
(`schemas.models.UserFacts`), held whole by every worker, like the org policies.

Which facts held when a device's decision was taken is decided by stream time: each fact
is a period with a start and an end, and a decision at `now` is taken under the periods
that hold at `now` (start <= now < end). A record keeps the user's past periods (the
newest USER_PERIODS), so a replay of last month decides each device under the leave
that held then, not under what holds today (docs/architecture.md §7).

The record is edited by the functions at the bottom (the API and the CLI call them on
the latest record they read), each taking the stream time the action takes effect at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemas.models import UserFacts, UserPeriod
from streams.errors import UserFactsConflict
from streams.state import UserHold

__all__ = [
    "NO_USER_FACTS",
    "USER_PERIODS",
    "UserTimeline",
    "deactivate_user",
    "end_leave",
    "put_on_leave",
    "reactivate_user",
    "timeline_from_record",
]

# The periods a user's record keeps, newest last: far more than a replay reaches back.
USER_PERIODS = 64


@dataclass(frozen=True, slots=True)
class UserTimeline:
    """The facts of one user, ready for decisions at any `now`."""

    periods: tuple[UserPeriod, ...] = ()
    # Which version of the user's record this is ("" = no record); part of it is the
    # user id, so a device that changes user is decided again.
    revision: str = ""

    def hold_at(self, now: datetime) -> UserHold | None:
        """What holds at `now`: a deactivation wins over a leave; of several leaves, the
        one that ends last."""
        leave: UserPeriod | None = None
        for period in self.periods:
            if period.start > now or (period.end is not None and period.end <= now):
                continue
            if period.kind == "deactivated":
                return UserHold(
                    "deactivated", period.start, period.end, period.reason, period.actor
                )
            if leave is None or _end(period) > _end(leave):
                leave = period
        if leave is None:
            return None
        return UserHold("leave", leave.start, leave.end, leave.reason, leave.actor)

    def next_change_after(self, now: datetime) -> datetime | None:
        """The first instant after `now` at which a period starts or ends."""
        found: datetime | None = None
        for period in self.periods:
            for at in (period.start, period.end):
                if at is not None and at > now and (found is None or at < found):
                    found = at
        return found


NO_USER_FACTS = UserTimeline()


def _end(period: UserPeriod) -> datetime:
    # A leave always has an end (the record checks it); a deactivation may not.
    return period.end if period.end is not None else datetime.max.replace(tzinfo=UTC)


def timeline_from_record(record: UserFacts) -> UserTimeline:
    return UserTimeline(tuple(record.periods), f"{record.user_id}@{record.updated_at.isoformat()}")


def _holding(periods: list[UserPeriod], kind: str, at: datetime) -> list[int]:
    return [
        i
        for i, p in enumerate(periods)
        if p.kind == kind and p.start <= at and (p.end is None or at < p.end)
    ]


def _cut(periods: list[UserPeriod], indexes: list[int], at: datetime) -> list[UserPeriod]:
    """`periods` with those at `indexes` ending at `at` (dropped if they start there)."""
    kept = []
    for i, period in enumerate(periods):
        if i in indexes:
            if period.start == at:
                continue
            period = UserPeriod(
                kind=period.kind,
                start=period.start,
                end=at,
                reason=period.reason,
                actor=period.actor,
            )
        kept.append(period)
    return kept


def _record(
    user_id: str, periods: list[UserPeriod], updated_at: datetime, previous: UserFacts | None
) -> UserFacts:
    # The revision must move with every edit, even two within one clock reading.
    if previous is not None and updated_at <= previous.updated_at:
        updated_at = previous.updated_at + timedelta(milliseconds=1)
    periods.sort(key=lambda p: p.start)
    return UserFacts(user_id=user_id, updated_at=updated_at, periods=_newest(periods))


def _newest(periods: list[UserPeriod]) -> list[UserPeriod]:
    """At most USER_PERIODS periods, in order: the oldest that have ended go first, a
    period still open never (a deactivation from years back still holds)."""
    over = len(periods) - USER_PERIODS
    if over <= 0:
        return periods
    ended = [i for i, p in enumerate(periods) if p.end is not None][:over]
    dropped = set(ended)
    return [p for i, p in enumerate(periods) if i not in dropped]


def put_on_leave(
    previous: UserFacts | None,
    user_id: str,
    *,
    at: datetime,
    until: datetime,
    reason: str = "",
    actor: str = "",
    updated_at: datetime,
) -> UserFacts:
    """The user on leave from `at` until `until`; a leave holding at `at` ends there
    (this one replaces it)."""
    if until <= at:
        raise UserFactsConflict(f"the leave must end after {at.isoformat()}")
    periods = list(previous.periods) if previous else []
    periods = _cut(periods, _holding(periods, "leave", at), at)
    periods.append(UserPeriod(kind="leave", start=at, end=until, reason=reason, actor=actor))
    return _record(user_id, periods, updated_at, previous)


def end_leave(
    previous: UserFacts | None, user_id: str, *, at: datetime, updated_at: datetime
) -> UserFacts:
    """The user's leave holding at `at` ends there; raises `UserFactsConflict` if none does."""
    return _end_holding(previous, user_id, "leave", at, updated_at, "on leave")


def deactivate_user(
    previous: UserFacts | None,
    user_id: str,
    *,
    at: datetime,
    reason: str = "",
    actor: str = "",
    updated_at: datetime,
) -> UserFacts:
    """The user deactivated from `at` on (they left the organization)."""
    periods = list(previous.periods) if previous else []
    if _holding(periods, "deactivated", at):
        raise UserFactsConflict(f"user {user_id!r} is already deactivated")
    periods.append(UserPeriod(kind="deactivated", start=at, reason=reason, actor=actor))
    return _record(user_id, periods, updated_at, previous)


def reactivate_user(
    previous: UserFacts | None, user_id: str, *, at: datetime, updated_at: datetime
) -> UserFacts:
    """The user's deactivation ends at `at`; raises `UserFactsConflict` if none holds."""
    return _end_holding(previous, user_id, "deactivated", at, updated_at, "deactivated")


def _end_holding(
    previous: UserFacts | None,
    user_id: str,
    kind: str,
    at: datetime,
    updated_at: datetime,
    what: str,
) -> UserFacts:
    """The periods of `kind` holding at `at` end there; raises `UserFactsConflict`
    (the user is not `what`) if none does."""
    periods = list(previous.periods) if previous else []
    holding = _holding(periods, kind, at)
    if not holding:
        raise UserFactsConflict(f"user {user_id!r} is not {what} at {at.isoformat()}")
    return _record(user_id, _cut(periods, holding, at), updated_at, previous)
