"""A mail server that is down for a while: the webhooks go out meanwhile, the emails
follow once it is back, each once, and one device's alerts keep their order."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.notify.alerts import alert
from tests.kafka_harness import eventually
from tests.notify_harness import NotifierRun, SmtpRecorder, WebhookReceiver, produce_alerts

pytestmark = pytest.mark.integration


async def test_emails_wait_for_the_mail_server_while_webhooks_go_on(
    notifiers: object, running: NotifierRun, smtp: SmtpRecorder, webhook: WebhookReceiver
) -> None:
    s = running.settings
    await smtp.stop()
    # One device goes warning → critical → resolved; another device opens an alert.
    story = [
        alert(1, transition="opened", from_state="ok", to_state="warning"),
        alert(2, transition="escalated", from_state="warning", to_state="critical"),
        alert(3, transition="resolved", from_state="critical", to_state="ok", reason="new_event"),
        alert(1, device="dev-2", transition="opened", from_state="ok", to_state="warning"),
    ]
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), story)

    await eventually(
        lambda: len(webhook.accepted) == 4, what="all four webhooks while SMTP is down"
    )

    async def retried() -> bool:
        return (
            await running.metric(
                "backupwatch_notify_retries_total", channel="email", failure="unreachable"
            )
            >= 3
        )

    await eventually(retried, what="email attempts failing and being retried")
    assert smtp.messages == []

    await smtp.start()
    await eventually(lambda: len(smtp.messages) == 4, what="the four emails once SMTP is back")
    await asyncio.sleep(1.0)  # time for a repeat, had there been one
    assert sorted(smtp.alert_ids()) == sorted(a.alert_id for a in story)
    one_device = [i for i in smtp.alert_ids() if i.startswith("dev-000123-")]
    assert one_device == [a.alert_id for a in story[:3]]
    hooks_of_one_device = [i for i in webhook.alert_ids() if i.startswith("dev-000123-")]
    assert hooks_of_one_device == [a.alert_id for a in story[:3]]
