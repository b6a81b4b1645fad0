"""SIGTERM (a rolling update, `docker stop`) stops `backupwatch notify` cleanly: attempts
under way finish, offsets of what was delivered are committed, the exit code is 0."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from agents.notify.settings import NotifySettings
from tests.integration.notify.alerts import alert
from tests.kafka_harness import eventually
from tests.notify_harness import SmtpRecorder, WebhookReceiver, produce_alerts

pytestmark = pytest.mark.integration


async def test_sigterm_commits_what_was_delivered_and_exits_cleanly(
    notifiers: Any, notify_settings: NotifySettings, smtp: SmtpRecorder, webhook: WebhookReceiver
) -> None:
    s = notify_settings
    alerts = [alert(n, device=f"dev-{n % 3}") for n in range(1, 10)]
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), alerts)
    run = notifiers(s)
    run.start_process()
    await eventually(
        lambda: len(smtp.messages) == len(alerts) and len(webhook.accepted) == len(alerts),
        what="every alert delivered",
        timeout=60,
    )
    assert run.process is not None
    run.process.send_signal(signal.SIGTERM)
    code = await asyncio.get_running_loop().run_in_executor(None, run.process.wait, 30)
    assert code == 0

    admin = AIOKafkaAdminClient(bootstrap_servers=s.bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(s.group)
    finally:
        await admin.close()
    assert sum(meta.offset for meta in offsets.values()) == len(alerts)
