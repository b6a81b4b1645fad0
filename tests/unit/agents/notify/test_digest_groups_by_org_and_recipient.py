"""Digest mode: alerts grouped by (org, recipient), each once, in decision order; one
email listing them all; boundaries aligned to the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.notify.digest import DigestBuffer, next_digest_at
from agents.notify.plan import Item
from agents.notify.render import render_digest, subject
from tests.unit.agents.notify.alerts import example_alert

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def item(alert_id: str, org: str, minutes: int, **changes: object) -> Item:
    alert = example_alert(
        alert_id=alert_id, org_id=org, decided_at=T0 + timedelta(minutes=minutes), **changes
    )
    return Item(alert, b"{}", "alerts", 0, minutes)


@pytest.mark.parametrize(
    ("now", "minutes", "expected"),
    [
        (datetime(2026, 11, 20, 8, 0, tzinfo=UTC), 60, datetime(2026, 11, 20, 9, 0, tzinfo=UTC)),
        (
            datetime(2026, 11, 20, 8, 59, 59, tzinfo=UTC),
            60,
            datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        ),
        (datetime(2026, 11, 20, 8, 7, tzinfo=UTC), 15, datetime(2026, 11, 20, 8, 15, tzinfo=UTC)),
        (
            datetime(2026, 11, 20, 23, 30, tzinfo=UTC),
            1440,
            datetime(2026, 11, 21, 0, 0, tzinfo=UTC),
        ),
    ],
)
def test_digests_go_out_at_clock_aligned_boundaries(
    now: datetime, minutes: int, expected: datetime
) -> None:
    assert next_digest_at(now, minutes) == expected


def test_alerts_are_grouped_by_org_and_recipient_each_once_in_decision_order() -> None:
    buffer = DigestBuffer()
    assert buffer.add("ops@a.com", item("a2", "org-a", 5))
    assert buffer.add("ops@a.com", item("a1", "org-a", 1))
    assert not buffer.add("ops@a.com", item("a1", "org-a", 1))
    assert buffer.add("it@a.com", item("a1", "org-a", 1))
    assert buffer.add("ops@b.com", item("b1", "org-b", 2))
    assert len(buffer) == 4
    groups = buffer.take()
    assert [(org, to, [i.alert.alert_id for i in items]) for org, to, items in groups] == [
        ("org-a", "it@a.com", ["a1"]),
        ("org-a", "ops@a.com", ["a1", "a2"]),
        ("org-b", "ops@b.com", ["b1"]),
    ]
    assert len(buffer) == 0 and buffer.take() == []


def test_the_digest_lists_every_alert_with_its_cause_and_link() -> None:
    items = [
        item("a1", "org-a", 1),
        item(
            "a2",
            "org-a",
            2,
            device_id="dev-2",
            hostname="desk-2",
            to_state="warning",
            transition="opened",
            from_state="ok",
        ),
        item("a3", "org-a", 3, to_state="ok", transition="resolved", reason="new_event"),
    ]
    content = render_digest("org-a", [i.alert for i in items], "https://bw")
    assert content.subject == "[backupwatch] org-a: 3 alerts (1 critical, 1 warning, 1 resolved)"
    for i in items:
        assert subject(i.alert) in content.text
        assert i.alert.alert_id in content.text
    assert "https://bw/#/devices/dev-2" in content.text and "desk-2" in content.html
    assert content.text.count("likely cause:") == 2  # not for the resolved one


def test_alerts_of_partitions_that_moved_away_are_let_go() -> None:
    buffer = DigestBuffer()
    kept, moved = item("a1", "org-a", 1), item("a2", "org-a", 2)
    moved = Item(moved.alert, moved.raw, moved.topic, 3, moved.offset)
    buffer.add("ops@a.com", kept)
    buffer.add("ops@a.com", moved)
    buffer.add("ops@b.com", Item(item("b1", "org-b", 1).alert, b"{}", "alerts", 3, 9))
    dropped = buffer.drop({3})
    assert sorted((to, i.alert.alert_id) for to, i in dropped) == [
        ("ops@a.com", "a2"),
        ("ops@b.com", "b1"),
    ]
    assert [(org, [i.alert.alert_id for i in items]) for org, _, items in buffer.take()] == [
        ("org-a", ["a1"])
    ]
