"""A second notifier joins the group while the first is busy (a rolling update): the
partitions are shared out, and still every alert reaches every recipient once, each
device's in order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agents.notify.settings import NotifySettings
from tests.integration.notify.alerts import alert
from tests.kafka_harness import eventually
from tests.notify_harness import (
    SmtpRecorder,
    WebhookReceiver,
    assert_each_once_in_order,
    produce_alerts,
)
from tests.worker_harness import free_port

pytestmark = pytest.mark.integration

DEVICES = [f"dev-{n}" for n in range(8)]


async def test_a_rebalance_mid_delivery_repeats_nothing(
    notifiers: Any, notify_settings: NotifySettings, smtp: SmtpRecorder, webhook: WebhookReceiver
) -> None:
    s = notify_settings
    # Slow servers: deliveries are under way and queued when the partitions move.
    smtp.delay = 0.2
    webhook.delay = 0.3
    alerts = [alert(n, device=d) for n in range(1, 11) for d in DEVICES]
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), alerts)
    first = notifiers(s)
    await first.start_task()
    await eventually(lambda: len(smtp.messages) >= 5, what="the first emails")

    second = notifiers(s, web_port=free_port())
    await second.start_task()

    def both_own_partitions() -> bool:
        assert first.notifier is not None and second.notifier is not None
        return bool(first.notifier.health()["assigned_partitions"]) and bool(
            second.notifier.health()["assigned_partitions"]
        )

    await eventually(both_own_partitions, what="the partitions shared by both", timeout=30)
    # The move came while alerts were still waiting (else this test would prove nothing).
    assert len(smtp.messages) < len(alerts)
    await eventually(
        lambda: len(smtp.messages) >= len(alerts) and len(webhook.accepted) >= len(alerts),
        what=f"{len(alerts)} emails and webhooks",
        timeout=60,
    )
    await asyncio.sleep(1.5)  # time for a repeat, had there been one
    delivered = "backupwatch_notify_deliveries_total"
    assert await second.metric(delivered, channel="email", outcome="delivered") > 0

    assert_each_once_in_order(alerts, smtp, webhook, DEVICES)
