"""Alerts for the notifier's integration tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from msgspec.structs import replace

from schemas.models import Alert
from tests.unit.agents.notify.alerts import example_alert

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def alert(n: int, device: str = "dev-000123", **changes: Any) -> Alert:
    """The n-th alert of `device`: distinct id, decided n minutes after T0, emitted now."""
    base = example_alert(
        alert_id=f"{device}-a{n:03d}",
        device_id=device,
        hostname=f"host-{device}",
        decided_at=T0 + timedelta(minutes=n),
        emitted_at=datetime.now(UTC),
    )
    return replace(base, **changes)
