"""Small builders for events and states, so tests say only what matters to them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import BackupProgress, DeviceCommand, FileErrors, Heartbeat
from streams import DEFAULT_POLICY, DeviceState, Policy, advance, apply
from streams.transitions import Transition

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def heartbeat(at: datetime = T0, device: str = "dev-1", **fields: Any) -> Heartbeat:
    fields.setdefault("reachable_destinations", ["cloud"])
    return Heartbeat(
        device_id=device,
        user_id=fields.pop("user_id", "user-1"),
        org_id=fields.pop("org_id", "org-1"),
        event_time=at,
        hostname=fields.pop("hostname", f"{device}-host"),
        app_version=fields.pop("app_version", "11.4.2"),
        **fields,
    )


def progress(
    at: datetime = T0,
    device: str = "dev-1",
    destination: str = "cloud",
    *,
    percent: float = 100.0,
    bytes_sent: int = 1_000_000,
    session_state: str = "completed",
    errors: dict[str, int] | None = None,
    **fields: Any,
) -> BackupProgress:
    fields.setdefault("selected_files", 1000)
    fields.setdefault("selected_bytes", 10_000_000_000)
    fields.setdefault("todo_files", 0 if percent >= 100 else 100)
    fields.setdefault("todo_bytes", 0 if percent >= 100 else 1_000_000_000)
    return BackupProgress(
        device_id=device,
        user_id=fields.pop("user_id", "user-1"),
        org_id=fields.pop("org_id", "org-1"),
        destination_id=destination,
        event_time=at,
        session_state=session_state,  # type: ignore[arg-type]
        percent_complete=percent,
        bytes_sent=bytes_sent,
        file_errors=FileErrors(**(errors or {})),
        **fields,
    )


def command(
    action: str,
    at: datetime = T0,
    device: str = "dev-1",
    command_id: str | None = None,
    **fields: Any,
) -> DeviceCommand:
    return DeviceCommand(
        command_id=command_id or f"cmd-{action}-{at.isoformat()}",
        device_id=device,
        action=action,  # type: ignore[arg-type]
        issued_at=at,
        **fields,
    )


def run(
    events: list[Any],
    now: datetime = T0,
    policy: Policy = DEFAULT_POLICY,
    state: DeviceState | None = None,
) -> tuple[DeviceState, list[Transition]]:
    """Apply every event at `now`, then decide at `now`."""
    transitions: list[Transition] = []
    for event in events:
        state, decided = apply(state, event, now, policy)
        transitions += decided
    assert state is not None
    state, decided = advance(state, now, policy)
    return state, transitions + decided


def healthy(at: datetime = T0, device: str = "dev-1") -> DeviceState:
    """A device that just heartbeat and completed a backup to one destination."""
    state, transitions = run([heartbeat(at, device), progress(at, device)], now=at)
    assert transitions == []
    return state


def kinds(transitions: list[Transition]) -> list[tuple[str, str, str]]:
    return [(t.kind, t.from_level, t.to_level) for t in transitions]
