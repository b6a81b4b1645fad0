"""Duplicates of an alert record — a worker retried its send — reach each recipient
once, and so does everything replayed by a notifier that starts over (a new group
reading the topic from the beginning): what was delivered survives restarts."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from agents.notify.settings import NotifySettings
from tests.integration.notify.alerts import alert
from tests.kafka_harness import eventually, fresh_name
from tests.notify_harness import SmtpRecorder, WebhookReceiver, produce_alerts

pytestmark = pytest.mark.integration


async def test_duplicates_in_the_topic_and_a_replay_deliver_once(
    notifiers: Any,
    notify_settings: NotifySettings,
    smtp: SmtpRecorder,
    webhook: WebhookReceiver,
) -> None:
    s = notify_settings
    alerts = [alert(1), alert(2, device="dev-2"), alert(3)]
    # Each record three times, as a worker that crashed before recording its sends
    # might leave them.
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), [*alerts, *alerts, alerts[0]])

    first = notifiers(s)
    await first.start_task()
    await eventually(
        lambda: len(smtp.messages) >= 3 and len(webhook.accepted) >= 3,
        what="three emails and three webhooks",
    )

    async def all_duplicates_counted() -> bool:
        email = await first.metric(
            "backupwatch_notify_deliveries_total", channel="email", outcome="duplicate"
        )
        hook = await first.metric(
            "backupwatch_notify_deliveries_total", channel="webhook", outcome="duplicate"
        )
        return email == 4 and hook == 4

    await eventually(all_duplicates_counted, what="4 duplicates skipped per channel")
    await first.stop_task()

    # Another group starts at the beginning of the topic: every record is read again,
    # and the delivered topic, read back at start, says they were all delivered.
    replay = notifiers(s, group=fresh_name("notify-"))
    await replay.start_task()

    async def replay_read_all() -> bool:
        return await replay.metric("backupwatch_notify_alerts_total", outcome="accepted") == 7

    await eventually(replay_read_all, what="the replay to read all 7 records")
    for channel in ("email", "webhook"):
        name = "backupwatch_notify_deliveries_total"
        assert await replay.metric(name, channel=channel, outcome="duplicate") == 7
        assert await replay.metric(name, channel=channel, outcome="delivered") == 0
    await replay.stop_task()

    want = Counter(a.alert_id for a in alerts)
    assert Counter(smtp.alert_ids()) == want
    assert Counter(webhook.alert_ids()) == want
