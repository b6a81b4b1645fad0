"""Bridges: processes that feed backupwatch from a backup service's own console, so that
a fleet is watched with nothing installed on its endpoints."""

from __future__ import annotations

__all__: list[str] = []
