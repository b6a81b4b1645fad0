"""What cannot be delivered is dead-lettered with the reason, counted, and its offset
committed: a webhook failing every attempt, one refusing outright, an unreadable
record, an org nobody is to be told about."""

from __future__ import annotations

from typing import Any

import pytest

from agents.notify.settings import NotifySettings
from agents.notify.topics import NOTIFY_DEAD_LETTERS
from schemas import encode
from tests.integration.notify.alerts import alert
from tests.kafka_harness import eventually
from tests.notify_harness import SmtpRecorder, WebhookReceiver, produce_alerts, read_topic

pytestmark = pytest.mark.integration


def headers_of(record: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


async def test_failures_past_the_attempts_and_refusals_are_dead_lettered_with_the_reason(
    notifiers: Any, notify_settings: NotifySettings, smtp: SmtpRecorder, webhook: WebhookReceiver
) -> None:
    s = notify_settings
    run = notifiers(s, max_attempts=3)
    await run.start_task()
    failing, refused = alert(1), alert(2, device="dev-2")
    webhook.script = [500, 500, 500, 404]
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), [failing])
    await eventually(lambda: len(webhook.answered) == 3, what="three failed attempts")
    await produce_alerts(
        s.bootstrap_servers, s.topic("alerts"), [refused, b'{"schema": "alert/1", "oops": 1}']
    )

    async def dead_letters() -> list[Any]:
        records = await read_topic(s.bootstrap_servers, s.topic(NOTIFY_DEAD_LETTERS), settle=0.5)
        return records if len(records) >= 3 else []

    records = await eventually(dead_letters, what="three dead letters")
    by_reason = {headers_of(r)["reason"]: r for r in records}
    assert set(by_reason) == {"attempts_exhausted", "http_4xx", "invalid_alert"}

    exhausted = by_reason["attempts_exhausted"]
    h = headers_of(exhausted)
    assert exhausted.value == encode(failing)
    assert (h["channel"], h["failure"], h["attempts"], h["alert-id"]) == (
        "webhook",
        "http_5xx",
        "3",
        failing.alert_id,
    )
    assert "HTTP 500" in h["error"]
    assert "T0KEN" not in h["recipient"] and h["recipient"].startswith("http://127.0.0.1:")
    assert h["source-topic"] == s.topic("alerts")

    refusal = headers_of(by_reason["http_4xx"])
    assert (refusal["attempts"], refusal["alert-id"]) == ("1", refused.alert_id)
    invalid = headers_of(by_reason["invalid_alert"])
    assert "invalid_field" in invalid["error"] or "missing" in invalid["error"]

    name = "backupwatch_notify_dead_letters_total"
    assert await run.metric(name, channel="webhook", reason="attempts_exhausted") == 1
    assert await run.metric(name, channel="webhook", reason="http_4xx") == 1
    assert await run.metric(name, channel="none", reason="invalid_alert") == 1
    # Both alerts' emails went out: a dead webhook does not hold the email back.
    assert sorted(smtp.alert_ids()) == sorted([failing.alert_id, refused.alert_id])
    notifier = run.notifier
    assert notifier is not None
    await eventually(
        lambda: notifier.tracker.open_records() == 0 and notifier.tracker.to_commit() == {},
        what="every record done and committed",
    )
    await run.stop_task()


async def test_an_org_with_nobody_to_tell_is_dead_lettered(
    notifiers: Any, notify_settings: NotifySettings
) -> None:
    s = notify_settings
    run = notifiers(s, emails=(), webhook_urls=())
    await run.start_task()
    sent = alert(1)
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), [sent])

    async def dead_letter() -> list[Any]:
        return await read_topic(s.bootstrap_servers, s.topic(NOTIFY_DEAD_LETTERS), settle=0.3)

    (record,) = await eventually(dead_letter, what="a dead letter")
    h = headers_of(record)
    assert h["reason"] == "no_recipients"
    assert "org-acme" in h["error"]
    assert record.value == encode(sent)
    await run.stop_task()
