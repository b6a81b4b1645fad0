"""`backupwatch notify` killed with SIGKILL in the middle of a batch and started
again: every alert reaches every recipient, none twice, each device's in order."""

from __future__ import annotations

import asyncio
from dataclasses import replace
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

pytestmark = pytest.mark.integration

DEVICES = [f"dev-{n}" for n in range(4)]
PER_DEVICE = 5


async def test_a_killed_notifier_restarts_without_loss_or_duplicate(
    notifiers: Any, notify_settings: NotifySettings, smtp: SmtpRecorder, webhook: WebhookReceiver
) -> None:
    s = notify_settings
    alerts = [alert(n, device=d) for n in range(1, PER_DEVICE + 1) for d in DEVICES]
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), alerts)
    # The mail server accepts five messages, then holds every further one unanswered:
    # the notifier is caught with deliveries under way and records not committed.
    smtp.hold_after = 5
    # Attempts wait long for the held answers: none times out and retries before the kill.
    s = replace(s, timeout=30.0)
    run = notifiers(s)
    run.start_process()

    await eventually(
        lambda: len(smtp.messages) == 5 and smtp.held >= len(DEVICES),
        what="five emails accepted and one held per device",
        timeout=60,
    )
    await eventually(
        lambda: len(webhook.accepted) == len(alerts), what="every webhook delivered", timeout=30
    )

    async def accepted_recorded() -> bool:
        # A message a receiver accepted counts as sent once its delivery is recorded;
        # killed before that, the notifier would rightly send it again. That holds for
        # the webhooks too: accepted by the receiver is not yet recorded.
        name = "backupwatch_notify_deliveries_total"
        emails = await run.metric(name, channel="email", outcome="delivered")
        webhooks = await run.metric(name, channel="webhook", outcome="delivered")
        return emails == 5 and webhooks == len(alerts)

    await eventually(
        accepted_recorded, what="the accepted emails and webhooks recorded as delivered"
    )
    run.kill_process()

    smtp.release()
    restarted = notifiers(s)
    restarted.start_process()
    await eventually(
        lambda: len(smtp.messages) == len(alerts),
        what=f"all {len(alerts)} emails after the restart",
        timeout=60,
    )

    async def settled() -> bool:
        name = "backupwatch_notify_deliveries_total"
        delivered = await restarted.metric(name, channel="email", outcome="delivered")
        return delivered == len(alerts) - 5

    await eventually(settled, what="the restarted notifier to count its deliveries")
    await asyncio.sleep(1.0)  # time for a repeat, had there been one

    assert_each_once_in_order(alerts, smtp, webhook, DEVICES)
    # The restarted notifier read again what was not committed, and recognized what
    # had been delivered before the kill instead of sending it again.
    skipped = await restarted.metric(
        "backupwatch_notify_deliveries_total", channel="webhook", outcome="duplicate"
    )
    assert skipped > 0
