"""What a backup tool told about one backup, whichever tool it was."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from agents.reporters.file_errors import FileErrorCounts

__all__ = ["BackupRun", "Snapshot"]


@dataclass(frozen=True, slots=True)
class BackupRun:
    """One `restic backup` or `borg create`, from its JSON output."""

    tool: str
    # The snapshot or archive it made; empty when it made none.
    snapshot_id: str
    # When the backup ended, when the tool says (restic 0.17+, Borg); else None.
    finished_at: datetime | None
    files_new: int
    files_changed: int
    files_processed: int
    bytes_processed: int
    # New data stored in the repository after deduplication.
    data_added: int
    duration_s: float
    unreadable: FileErrorCounts = field(default_factory=FileErrorCounts)
    # Where the backup went, when the tool says (Borg names its repository).
    repository: str = ""
    hostname: str = ""
    username: str = ""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One entry of a repository's snapshot (restic) or archive (Borg) list."""

    id: str
    hostname: str
    username: str
    time: datetime
    # The tool's summary of the backup, when its list carries one (restic 0.17+, `borg
    # info`); None otherwise.
    data_added: int | None = None
    files_processed: int | None = None
    bytes_processed: int | None = None
