"""One alert on the topic: one email and one signed webhook, both with the alert."""

from __future__ import annotations

import pytest

from agents.notify.topics import NOTIFY_DELIVERED
from schemas import encode
from tests.integration.notify.alerts import alert
from tests.kafka_harness import eventually
from tests.notify_harness import (
    NotifierRun,
    SmtpRecorder,
    WebhookReceiver,
    produce_alerts,
    read_topic,
)

pytestmark = pytest.mark.integration


async def test_one_alert_gives_one_email_and_one_signed_webhook(
    running: NotifierRun, smtp: SmtpRecorder, webhook: WebhookReceiver
) -> None:
    settings = running.settings
    sent = alert(1, kind="backup", days_observed=7.0, to_state="critical")
    await produce_alerts(settings.bootstrap_servers, settings.topic("alerts"), [sent])

    await eventually(
        lambda: smtp.messages and webhook.accepted, what="an email and a webhook", timeout=30
    )

    async def both_counted() -> bool:
        name = "backupwatch_notify_deliveries_total"
        email = await running.metric(name, channel="email", outcome="delivered")
        hook = await running.metric(name, channel="webhook", outcome="delivered")
        return email == 1 and hook == 1

    await eventually(both_counted, what="both deliveries counted on /metrics")
    (message,) = smtp.messages
    assert smtp.envelopes == [("backupwatch@example.com", ["ops@example.com"])]
    assert message["Subject"] == (
        "[CRITICAL] host-dev-000123 has not backed up for 7 days (up from warning)"
    )
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    for body in (text.get_content(), html.get_content()):
        assert "user-0042" in body and "org-acme" in body
        assert sent.diagnosis[0].action in body
        assert "https://backupwatch.example.com/#/devices/dev-000123" in body

    ((headers, body),) = webhook.accepted
    assert body == encode(sent)
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Backupwatch-Alert-Id"] == sent.alert_id
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["webhook-id"] == headers["X-Backupwatch-Delivery"]
    assert webhook.bad_signatures == 0

    # Each delivery is remembered by (alert id, channel, recipient): two records.
    delivered = await read_topic(settings.bootstrap_servers, settings.topic(NOTIFY_DELIVERED))
    assert sorted(r.key.decode().split(":")[1] for r in delivered) == ["email", "webhook"]
    assert all(r.key.decode().startswith(sent.alert_id + ":") for r in delivered)

    # The record's offset is committed once both are delivered: no lag left.
    assert await running.healthy()

    async def lag_reported() -> bool:
        text = await running.metrics_text()
        return "backupwatch_notify_consumer_lag_records{" in text

    await eventually(lag_reported, what="the consumer lag on /metrics", timeout=15)
    assert running.notifier is not None
    await eventually(
        lambda: (
            running.notifier is not None
            and running.notifier.tracker.to_commit() == {}
            and running.notifier.tracker.open_records() == 0
        ),
        what="the record's offset committed",
    )
