"""Hostile records on the topics the other readers follow: alerts (the notifier), the
device-state changelog (the report reader's fleet view), notify-targets (the report
reader's directory of the notifiers' target names). None raises out of its reader:
each alert record is delivered, dead-lettered with its reason, or has no recipients, and
every offset can be committed; each changelog record becomes a row or is skipped and
counted, and the report answers over the rows that are left."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from agents.books.targets import TargetDirectory
from agents.notify.channels.email import EMAIL
from agents.notify.runner import Notifier
from agents.report.bodies import device_entry
from agents.report.fleet import FleetView
from agents.report.query import parse_query
from streams.policy import DEFAULT_POLICY, Policy
from streams.report import select
from tests.hostile import (
    SCHEMAS,
    STATES,
    TRIED,
    damaged_state,
    fuzz_settings,
    hostile,
    json_values,
    legal,
)
from tests.unit.agents.notify.test_an_alert_that_cannot_be_sent_is_dead_lettered_and_its_lane_goes_on import (  # noqa: E501
    SETTINGS,
    DeliveredStore,
    Outbox,
    Recipients,
)
from tests.unit.agents.report.test_fleet_view import clock_key

# -- the notifier --------------------------------------------------------------------


class DeadLetters:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def send_and_wait(
        self, topic: str, value: bytes, *, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self.reasons.append(dict(headers)["reason"].decode())


@fuzz_settings()
@given(st.lists(legal("alert") | hostile("alert") | hostile("heartbeat"), min_size=1, max_size=12))
def test_hostile_alert_records_are_delivered_or_dead_lettered_and_all_commit(
    values: list[bytes],
) -> None:
    async def take_all() -> tuple[Notifier, Outbox, DeadLetters]:
        outbox, dead_letters = Outbox(), DeadLetters()
        notify = Notifier(SETTINGS)
        notify._store, notify._recipients = DeliveredStore(), Recipients("ops@example.com")  # type: ignore[assignment]
        notify._producer = dead_letters
        notify._channels[EMAIL] = outbox
        for offset, value in enumerate(values):
            record: Any = SimpleNamespace(offset=offset, partition=0, key=b"k", value=value)
            notify._take("alerts", 0, record)
        await asyncio.wait_for(
            asyncio.gather(*notify._lane_tasks.values(), *notify._background), timeout=30
        )
        return notify, outbox, dead_letters

    TRIED["notifier"] += len(values)
    notify, outbox, dead_letters = asyncio.run(take_all())
    m = notify.metrics
    taken = {o: m.alerts.labels(o)._value.get() for o in ("accepted", "invalid", "no_recipients")}
    assert sum(taken.values()) == len(values)
    assert m.unexpected_errors.labels("alerts")._value.get() == 0
    # No alert that decoded failed to be written as an email.
    assert "unexpected_error" not in dead_letters.reasons
    assert dead_letters.reasons.count("invalid_alert") == taken["invalid"]
    assert notify.tracker.to_commit() == {0: len(values)}


# -- the report reader ------------------------------------------------------------------


def policy_for(_org: str) -> Policy:
    return DEFAULT_POLICY


changelog_value = st.one_of(
    damaged_state(),
    st.sampled_from(STATES),
    st.sampled_from(SCHEMAS).flatmap(hostile),
    st.none(),
)


@fuzz_settings()
@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"dev-1", b"dev-2", b"dev-3", b"\xff", b"~clock~1~0", b""]),
            changelog_value,
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=16,
    )
)
def test_hostile_changelog_records_are_rows_or_skipped_and_the_report_answers(
    records: list[tuple[bytes, bytes | None, int]],
) -> None:
    view = FleetView(policy_for)
    for key, value, partition in records:
        view.take(clock_key(partition) if key == b"~clock~1~0" else key, value, partition)
    TRIED["report reader"] += len(records)
    rows = view.rows
    ctx = view.context()
    for params in ({}, {"state": "critical"}, {"sort": "days_inactive", "order": "desc"}):
        page = select(list(rows.values()), parse_query(params), ctx)
        for row in page.rows:
            msgspec.json.encode(device_entry(row, ctx))
    for device_id in rows:
        assert view.state(device_id) is not None
    view.stream_time()


# -- the report reader's notify-targets ---------------------------------------------------


@fuzz_settings()
@given(
    st.lists(
        st.sampled_from(SCHEMAS).flatmap(hostile)
        | json_values.map(lambda v: json.dumps({"channel": "apprise", "names": v}).encode())
        | st.none(),
        min_size=1,
        max_size=12,
    )
)
def test_hostile_notify_targets_records_are_taken_or_ignored(values: list[bytes | None]) -> None:
    directory = TargetDirectory()
    for value in values:
        directory.apply_record(value)
    TRIED["report reader"] += len(values)
    for channel in ("apprise", "email"):
        names = directory.names(channel)
        assert names is None or all(isinstance(n, str) for n in names)
