"""Between two polls only what changed is published (`mapping.changes`), and the
console's activation and user changes become device commands.

The event time of everything published is the console's time of that fact, so a
device whose facts did not change publishes nothing, however often it is polled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from agents.bridge.crashplan import ConsoleDevice, Published, changes, read_device
from agents.bridge.crashplan.mapping import decode_published, encode_published
from schemas.models import BackupProgress, DeviceCommand, Heartbeat, InputRecord
from tests.crashplan_console import computer

T = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def console(**facts: Any) -> ConsoleDevice:
    facts.setdefault("last_connected", T)
    facts.setdefault("registered", T - 400 * DAY)
    facts.setdefault("modified", facts["last_connected"])
    connected = facts["last_connected"]
    facts.setdefault(
        "destinations",
        [{"guid": "dest-1", "last_connected": connected, "last_completed": connected}],
    )
    return read_device(computer("dev-1", **facts))


def kinds(records: list[InputRecord]) -> list[str]:
    names = []
    for r in records:
        if isinstance(r, DeviceCommand):
            names.append(r.action)
        elif isinstance(r, Heartbeat):
            names.append("heartbeat")
        else:
            assert isinstance(r, BackupProgress)
            names.append(f"progress:{r.session_state}")
    return names


def test_the_first_poll_publishes_every_fact_of_an_active_device() -> None:
    records, published = changes(console(), None)

    assert kinds(records) == ["heartbeat", "progress:completed"]
    assert published.active and published.user_id == "user-1"
    assert len(published.digests) == 2


def test_a_second_poll_with_nothing_new_publishes_nothing() -> None:
    _, published = changes(console(), None)

    records, again = changes(console(), published)

    assert records == []
    assert again == published


def test_a_new_connection_publishes_the_heartbeat_alone() -> None:
    _, published = changes(console(), None)
    later = console(
        last_connected=T + DAY,
        destinations=[{"guid": "dest-1", "last_connected": T + DAY, "last_completed": T}],
    )

    records, _ = changes(later, published)

    assert kinds(records) == ["heartbeat"]
    assert records[0].event_time == T + DAY  # type: ignore[union-attr]


def test_a_silent_device_polled_again_and_again_stays_silent() -> None:
    silent = console(last_connected=T - 5 * DAY)
    _, published = changes(silent, None)

    for _ in range(3):
        records, published = changes(silent, published)
        assert records == []


def test_a_device_first_seen_deactivated_publishes_nothing_but_is_remembered() -> None:
    records, published = changes(console(active=False), None)

    assert records == []
    assert published == Published(False, "user-1", ())


def test_deactivation_is_a_command_at_the_console_s_change_time_after_nothing_else() -> None:
    _, published = changes(console(), None)
    gone = console(active=False, modified=T + 2 * DAY)

    records, now = changes(gone, published)

    assert kinds(records) == ["deactivate"]
    (command,) = records
    assert isinstance(command, DeviceCommand)
    assert command.issued_at == T + 2 * DAY
    assert command.device_id == "dev-1"
    assert not now.active
    # Polled again while deactivated: nothing more.
    assert changes(gone, now)[0] == []


def test_reactivation_is_a_command_before_the_telemetry_it_lets_in() -> None:
    _, published = changes(console(), None)
    _, published = changes(console(active=False, modified=T + DAY), published)
    back = console(
        last_connected=T + 3 * DAY,
        destinations=[{"guid": "dest-1", "last_connected": T + 3 * DAY, "last_completed": T}],
    )

    records, now = changes(back, published)

    assert kinds(records) == ["reactivate", "heartbeat"]
    assert records[0].issued_at == T + 3 * DAY  # type: ignore[union-attr]
    assert now.active


def test_a_new_user_is_a_set_user_command_and_the_telemetry_says_so_too() -> None:
    _, published = changes(console(), None)
    moved = console(user="user-2", modified=T + DAY)

    records, now = changes(moved, published)

    assert kinds(records)[0] == "set_user"
    command = records[0]
    assert isinstance(command, DeviceCommand) and command.user_id == "user-2"
    assert {r.user_id for r in records[1:]} == {"user-2"}  # type: ignore[union-attr]
    assert now.user_id == "user-2"


def test_the_same_fact_gives_the_same_command_id() -> None:
    _, published = changes(console(), None)
    gone = console(active=False, modified=T + DAY)

    first, _ = changes(gone, published)
    second, _ = changes(gone, published)

    assert first == second


def test_what_was_published_survives_its_encoding() -> None:
    _, published = changes(console(), None)

    assert decode_published(encode_published(published)) == published


def test_a_destination_added_publishes_its_reports_only() -> None:
    _, published = changes(console(), None)
    more = console(
        destinations=[
            {"guid": "dest-1", "last_connected": T, "last_completed": T},
            {"guid": "dest-2", "last_connected": T - DAY, "last_completed": T - DAY},
        ]
    )

    records, _ = changes(more, published)

    assert kinds(records) == ["heartbeat", "progress:completed"]
    assert {getattr(r, "destination_id", None) for r in records} == {None, "dest-2"}


def test_published_is_small() -> None:
    _, published = changes(console(), None)

    assert len(msgspec.msgpack.encode(published)) < 64


def test_an_entry_the_console_sends_again_unchanged_needs_no_mapping() -> None:
    from agents.bridge.crashplan.mapping import source_digest, unchanged

    raw = computer("dev-1", last_connected=T, registered=T - 400 * DAY)
    _, published = changes(read_device(raw), None, source_digest(raw))

    assert published.source == source_digest(raw)
    assert unchanged(raw, published) == (True, published.source)


def test_any_change_to_the_entry_maps_it_again() -> None:
    from agents.bridge.crashplan.mapping import source_digest, unchanged

    raw = computer(
        "dev-1",
        last_connected=T,
        registered=T - 400 * DAY,
        destinations=[{"guid": "dest-1", "last_connected": T, "last_completed": T}],
    )
    _, published = changes(read_device(raw), None, source_digest(raw))
    raw["backupUsage"][0]["archiveBytes"] += 1

    same, digest = unchanged(raw, published)

    assert not same
    # Mapped again, it gives no record (nothing the bridge reads changed) and now
    # remembers the new entry.
    records, now = changes(read_device(raw), published, digest)
    assert records == []
    assert now.source == digest and now.digests == published.digests


def test_what_was_remembered_before_entries_had_digests_still_decodes() -> None:
    old = msgspec.msgpack.encode([True, "user-1", [1, 2]])

    assert decode_published(old) == Published(True, "user-1", (1, 2), 0)
