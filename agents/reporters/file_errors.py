"""Which of the record's file-error causes a backup tool's complaint about a file is.

restic and Borg name the operating system's error: by number (restic 0.14's
`{"Err": 13}`) or in words (`permission denied`, `[Errno 2] No such file or
directory`). The record counts files by the cause an admin acts on.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Cause", "FileErrorCounts", "cause_of_errno", "cause_of_message", "count"]

Cause = Literal["locked", "permission_denied", "vanished", "changed_during_backup"]

_BY_ERRNO: dict[int, Cause] = {
    errno.EACCES: "permission_denied",
    errno.EPERM: "permission_denied",
    errno.ENOENT: "vanished",
    errno.ESTALE: "vanished",
    errno.EBUSY: "locked",
    errno.EAGAIN: "locked",
    errno.ETXTBSY: "locked",
}

# Lower-case phrases, the first that matches wins. Windows' own words are here too:
# restic runs there, and its messages are the system's.
_BY_PHRASE: tuple[tuple[str, Cause], ...] = (
    ("changed while", "changed_during_backup"),
    ("file changed", "changed_during_backup"),
    ("changed during", "changed_during_backup"),
    ("permission denied", "permission_denied"),
    ("operation not permitted", "permission_denied"),
    ("access is denied", "permission_denied"),
    ("errno 13", "permission_denied"),
    ("no such file", "vanished"),
    ("cannot find the file", "vanished"),
    ("errno 2]", "vanished"),
    ("being used by another process", "locked"),
    ("sharing violation", "locked"),
    ("resource busy", "locked"),
    ("locked", "locked"),
)


def cause_of_errno(number: int) -> Cause:
    """The cause of an error number; one the tool could not read for another reason
    counts as locked (a file the backup could not read, which is what the admin acts on)."""
    return _BY_ERRNO.get(number, "locked")


def cause_of_message(message: str) -> Cause:
    text = message.lower()
    for phrase, cause in _BY_PHRASE:
        if phrase in text:
            return cause
    return "locked"


@dataclass(frozen=True, slots=True)
class FileErrorCounts:
    locked: int = 0
    permission_denied: int = 0
    vanished: int = 0
    changed_during_backup: int = 0

    @property
    def total(self) -> int:
        return self.locked + self.permission_denied + self.vanished + self.changed_during_backup


def count(causes: Iterable[Cause]) -> FileErrorCounts:
    tally = {"locked": 0, "permission_denied": 0, "vanished": 0, "changed_during_backup": 0}
    for cause in causes:
        tally[cause] += 1
    return FileErrorCounts(**tally)
