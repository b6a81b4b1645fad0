"""`backupwatch report` and `backupwatch watch`: restic and Borg backups as telemetry.

The pure parts — reading the tools' JSON (`restic`, `borg`), the cause of a file
error (`file_errors`), the records a backup becomes (`records`) — have no I/O;
`send` delivers records to an ingest endpoint or to Kafka, and `commands` runs the
tools and wires it together for the command line.
"""

from agents.reporters.errors import ReportError
from agents.reporters.records import Identity

__all__ = ["Identity", "ReportError"]
