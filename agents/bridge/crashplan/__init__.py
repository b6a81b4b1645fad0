"""The CrashPlan (Code42) bridge: a console's whole fleet, watched through its API.

`backupwatch bridge crashplan` polls the console with the vendor's client (`pycpg`)
and publishes what changed as heartbeats, backup progress and device commands;
`backupwatch import crashplan-csv` sends a Device Backup Report export through the same
mapping (`mapping`, pure and tested apart from the wiring in `runner`).
"""

from __future__ import annotations

from agents.bridge.crashplan.errors import (
    ConsoleAuthError,
    ConsoleError,
    ConsoleFormatError,
    ConsoleUnreachable,
    CsvReportError,
)
from agents.bridge.crashplan.mapping import (
    ConsoleDestination,
    ConsoleDevice,
    Published,
    changes,
    read_device,
    records_of,
)

__all__ = [
    "ConsoleAuthError",
    "ConsoleDestination",
    "ConsoleDevice",
    "ConsoleError",
    "ConsoleFormatError",
    "ConsoleUnreachable",
    "CsvReportError",
    "Published",
    "changes",
    "read_device",
    "records_of",
]
