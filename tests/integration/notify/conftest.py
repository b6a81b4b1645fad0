"""Fixtures for the notifier's tests: its topics, servers on loopback, settings, runs."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agents.notify.settings import NotifySettings
from tests.kafka_harness import MakeTopics, fresh_name, log_tail
from tests.notify_harness import HttpRecorder, NotifierRun, SmtpRecorder, WebhookReceiver
from tests.worker_harness import free_port

# A Standard Webhooks secret: `whsec_` and the base64 of 32 bytes.
SECRET = "whsec_" + base64.b64encode(b"test-signing-secret-of-32-bytes!").decode()


@pytest_asyncio.fixture
async def notify_topics(make_topics: MakeTopics) -> list[str]:
    """The pipeline's topics the notifier reads: alerts (4 partitions), org-policies."""
    alerts = await make_topics("alerts", partitions=4)
    policies = await make_topics("org-policies", config={"cleanup.policy": "compact"})
    return alerts + policies


@pytest_asyncio.fixture
async def smtp() -> AsyncIterator[SmtpRecorder]:
    """An SMTP server on loopback, listening (`await smtp.stop()` takes it down)."""
    recorder = SmtpRecorder(free_port())
    await recorder.start()
    try:
        yield recorder
    finally:
        await recorder.stop()


@pytest_asyncio.fixture
async def webhook() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(free_port(), SECRET)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


@pytest_asyncio.fixture
async def http_recorders() -> AsyncIterator[Any]:
    """`await http_recorders(**options)` → a started HttpRecorder; all stopped at the end."""
    started: list[HttpRecorder] = []

    async def make(**options: Any) -> HttpRecorder:
        recorder = HttpRecorder(free_port(), **options)
        await recorder.start()
        started.append(recorder)
        return recorder

    yield make
    for recorder in started:
        await recorder.stop()


@pytest.fixture
def notify_settings(
    kafka_bootstrap: str,
    topic_prefix: str,
    notify_topics: list[str],
    smtp: SmtpRecorder,
    webhook: WebhookReceiver,
) -> NotifySettings:
    """Email to one default address, one default webhook, quick retries."""
    return NotifySettings(
        bootstrap_servers=kafka_bootstrap,
        topic_prefix=topic_prefix,
        group=fresh_name("notify-"),
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_tls="none",
        from_address="backupwatch@example.com",
        emails=("ops@example.com",),
        webhook_urls=(webhook.url,),
        webhook_secret=SECRET,
        # The receiver is on loopback, a target refused unless named.
        webhook_internal_hosts=("127.0.0.1",),
        dashboard_url="https://backupwatch.example.com",
        max_attempts=6,
        web_port=free_port(),
        retry_base=0.05,
        retry_max=0.3,
        timeout=3.0,
    )


@pytest_asyncio.fixture
async def notifiers(tmp_path: Path) -> AsyncIterator[Any]:
    """`notifiers(settings, **changes)` → a NotifierRun; every run is stopped at the end."""
    runs: list[NotifierRun] = []

    def make(settings: NotifySettings, **changes: Any) -> NotifierRun:
        run = NotifierRun(replace(settings, **changes), tmp_path / f"notify-{len(runs)}.log")
        runs.append(run)
        return run

    yield make
    for run in runs:
        await run.stop_task()
        run.kill_process()
        if run.process is not None:
            print(log_tail(run.log_path, 40))


@pytest_asyncio.fixture
async def running(notifiers: Any, notify_settings: NotifySettings) -> AsyncIterator[NotifierRun]:
    """A notifier task with `notify_settings`, stopped at the end of the test."""
    run: NotifierRun = notifiers(notify_settings)
    await run.start_task()
    try:
        yield run
    finally:
        await run.stop_task()
