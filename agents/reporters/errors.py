"""Errors of the reporters: output of restic or Borg they cannot read."""

from __future__ import annotations

__all__ = ["ReportError"]


class ReportError(ValueError):
    """The tool's output cannot be turned into a report (empty, garbage, no backup in it);
    the message is one line, for `backupwatch: …`."""
