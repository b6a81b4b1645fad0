"""An org's policy names its recipients; orgs without one get the notifier's defaults."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer

from agents.notify.settings import NotifySettings
from schemas import encode
from schemas.models import OrgPolicy
from tests.integration.notify.alerts import alert
from tests.kafka_harness import eventually
from tests.notify_harness import NotifierRun, SmtpRecorder, WebhookReceiver, produce_alerts

pytestmark = pytest.mark.integration


async def test_policy_recipients_replace_the_defaults_for_their_org(
    notifiers: object, notify_settings: NotifySettings, smtp: SmtpRecorder, webhook: WebhookReceiver
) -> None:
    s = notify_settings
    policy = OrgPolicy(
        org_id="org-acme",
        updated_at=datetime.now(UTC),
        alert_emails=["it@acme.example", "security@acme.example"],
    )
    producer = AIOKafkaProducer(bootstrap_servers=s.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(s.topic("org-policies"), encode(policy), key=b"org-acme")
    finally:
        await producer.stop()
    run: NotifierRun = notifiers(s)  # type: ignore[operator]
    await run.start_task()
    acme, other = alert(1), alert(1, device="dev-b", org_id="org-other")
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), [acme, other])

    await eventually(lambda: len(smtp.messages) == 3, what="three emails")
    await eventually(lambda: len(webhook.accepted) == 2, what="two webhooks")
    to = sorted(
        (envelope[1][0], m["X-Backupwatch-Alert-Id"])
        for envelope, m in zip(smtp.envelopes, smtp.messages, strict=True)
    )
    assert to == [
        ("it@acme.example", acme.alert_id),
        ("ops@example.com", other.alert_id),
        ("security@acme.example", acme.alert_id),
    ]
    await run.stop_task()
