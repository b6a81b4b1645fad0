"""A webhook answering 500 and then 200: retried with backoff, delivered once."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.notify.alerts import alert
from tests.kafka_harness import eventually
from tests.notify_harness import NotifierRun, SmtpRecorder, WebhookReceiver, produce_alerts

pytestmark = pytest.mark.integration


async def test_a_webhook_answering_500_then_200_gets_the_alert_once(
    running: NotifierRun, smtp: SmtpRecorder, webhook: WebhookReceiver
) -> None:
    s = running.settings
    webhook.script = [500, 503, 429]
    sent = alert(1)
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), [sent])

    await eventually(lambda: webhook.accepted, what="the webhook accepted after failures")
    await asyncio.sleep(1.0)  # time for a repeat, had there been one
    assert webhook.answered == [500, 503, 429, 200]
    assert webhook.alert_ids() == [sent.alert_id]
    # Every attempt carried the same idempotency key.
    assert webhook.accepted[0][0]["X-Backupwatch-Delivery"].startswith(sent.alert_id + ":webhook:")
    name = "backupwatch_notify_retries_total"
    assert await running.metric(name, channel="webhook", failure="http_5xx") == 2
    assert await running.metric(name, channel="webhook", failure="http_429") == 1
    assert len(smtp.messages) == 1  # the email went out meanwhile
