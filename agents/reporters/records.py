"""The wire records a backup tool's report becomes: pure, `now` passed in.

A backup that made a snapshot reached its repository (the destination) and, unless
files could not be read, completed: 100 %, session `completed`. Files it could not
read keep it below 100 % (the share of files it did read), with the files counted by
cause and left to do, which is how the diagnosis tells a backup held back by a few
unreadable files. New data is what the repository stored after deduplication.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from agents.reporters.runs import BackupRun, Snapshot
from schemas.models import BackupProgress, FileErrors, Heartbeat, TelemetryRecord
from schemas.types import MAX_COUNT, MAX_ID_LENGTH, SessionState

__all__ = [
    "DEFAULT_INTERVAL",
    "Identity",
    "backup_records",
    "destination_name",
    "fleet_records",
    "heartbeat",
    "snapshot_interval",
    "snapshot_records",
]

# When nothing says otherwise: a nightly timer or cron job, the usual schedule.
DEFAULT_INTERVAL = timedelta(days=1)
_SHORTEST, _LONGEST = 60, 31 * 86400
# Below 100 however few files were missed: 100 % means nothing was left out.
_MOST_WITH_ERRORS = 99.9
_USERINFO = re.compile(r"//[^/@]*@")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who reports: the device (a host) and the user and org it belongs to."""

    device_id: str
    user_id: str
    org_id: str
    hostname: str = ""
    os: str = ""


def destination_name(repository: str) -> str:
    """The repository as a destination id: a URL's user and password left out (restic's
    `rest:https://user:pass@host/`, Borg's `ssh://user@host/…`), cut to an id's length."""
    return _USERINFO.sub("//", repository.strip())[:MAX_ID_LENGTH] or "repository"


def _interval_s(interval: timedelta) -> int:
    return int(min(_LONGEST, max(_SHORTEST, interval.total_seconds())))


def _count(value: int | None) -> int:
    return min(MAX_COUNT, max(0, value or 0))


def heartbeat(identity: Identity, at: datetime, reachable: Sequence[str] = ()) -> Heartbeat:
    """The device is on at `at`, and reached `reachable` (the repositories it just
    backed up to; none for a timer's heartbeat, which knows only that it is on)."""
    return Heartbeat(
        device_id=identity.device_id,
        user_id=identity.user_id,
        org_id=identity.org_id,
        event_time=at,
        hostname=identity.hostname[:256],
        os=identity.os[:64],
        reachable_destinations=tuple(dict.fromkeys(reachable)),
    )


def backup_records(
    identity: Identity,
    destination: str,
    run: BackupRun,
    now: datetime,
    interval: timedelta = DEFAULT_INTERVAL,
) -> tuple[Heartbeat, BackupProgress]:
    """A heartbeat and the progress towards `destination` of one backup run, at the
    time the tool says it ended, or `now`."""
    at = run.finished_at or now
    made = bool(run.snapshot_id)
    errors = run.unreadable
    missed = errors.total
    processed = _count(run.files_processed)
    state: SessionState
    if not made:
        percent, state = 0.0, "idle"
    elif missed:
        share = processed / (processed + missed) * 100
        percent, state = min(_MOST_WITH_ERRORS, share), "idle"
    else:
        percent, state = 100.0, "completed"
    progress = BackupProgress(
        device_id=identity.device_id,
        user_id=identity.user_id,
        org_id=identity.org_id,
        destination_id=destination,
        event_time=at,
        session_state=state,
        percent_complete=percent,
        selected_files=_count(processed + missed),
        selected_bytes=_count(run.bytes_processed),
        todo_files=_count(missed),
        todo_bytes=0,
        bytes_sent=_count(run.data_added) if made else 0,
        file_errors=FileErrors(
            locked=errors.locked,
            permission_denied=errors.permission_denied,
            vanished=errors.vanished,
            changed_during_backup=errors.changed_during_backup,
        ),
        backup_interval_s=_interval_s(interval),
    )
    return heartbeat(identity, at, (destination,) if made else ()), progress


def snapshot_records(
    identity: Identity,
    destination: str,
    snapshot: Snapshot,
    interval: timedelta = DEFAULT_INTERVAL,
) -> tuple[Heartbeat, BackupProgress]:
    """What a snapshot in the repository says of its host: it reached the repository and
    completed a backup at the snapshot's time. The same snapshot gives the same records,
    so polling a repository again sends duplicates the pipeline recognizes."""
    progress = BackupProgress(
        device_id=identity.device_id,
        user_id=identity.user_id,
        org_id=identity.org_id,
        destination_id=destination,
        event_time=snapshot.time,
        session_state="completed",
        percent_complete=100.0,
        selected_files=_count(snapshot.files_processed),
        selected_bytes=_count(snapshot.bytes_processed),
        bytes_sent=_count(snapshot.data_added),
        backup_interval_s=_interval_s(interval),
    )
    return heartbeat(identity, snapshot.time, (destination,)), progress


def snapshot_interval(times: Sequence[datetime]) -> timedelta:
    """The usual time between a host's backups: the median gap of its last ten."""
    recent = sorted(times)[-11:]
    gaps = [(b - a).total_seconds() for a, b in zip(recent, recent[1:], strict=False)]
    gaps = [gap for gap in gaps if gap > 0]
    return timedelta(seconds=statistics.median(gaps)) if gaps else DEFAULT_INTERVAL


def fleet_records(
    snapshots: Iterable[Snapshot], destination: str, org_id: str
) -> list[TelemetryRecord]:
    """For every host with a snapshot in the repository, the records of its newest one:
    each host a device (and its own user: hosts backing up as the same account are not
    one person's devices), the repository its destination."""
    by_host: dict[str, list[Snapshot]] = {}
    for snapshot in snapshots:
        if snapshot.hostname:
            by_host.setdefault(snapshot.hostname, []).append(snapshot)
    records: list[TelemetryRecord] = []
    for host, taken in sorted(by_host.items()):
        newest = max(taken, key=lambda s: s.time)
        identity = Identity(
            device_id=host[:MAX_ID_LENGTH],
            user_id=host[:MAX_ID_LENGTH],
            org_id=org_id,
            hostname=host,
        )
        interval = snapshot_interval([s.time for s in taken])
        records.extend(snapshot_records(identity, destination, newest, interval))
    return records
