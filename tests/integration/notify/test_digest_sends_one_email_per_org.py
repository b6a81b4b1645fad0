"""Digest mode: the interval's alerts of an org in one email per recipient; webhooks
stay immediate; offsets wait for the digest."""

from __future__ import annotations

import pytest

from agents.notify.settings import NotifySettings
from tests.integration.notify.alerts import alert
from tests.kafka_harness import eventually
from tests.notify_harness import NotifierRun, SmtpRecorder, WebhookReceiver, produce_alerts

pytestmark = pytest.mark.integration


async def test_one_digest_per_org_lists_every_new_alert(
    notifiers: object, notify_settings: NotifySettings, smtp: SmtpRecorder, webhook: WebhookReceiver
) -> None:
    s = notify_settings
    # An interval that does not end during the test: the digest is flushed by hand, as
    # the interval's end would.
    run: NotifierRun = notifiers(s, digest_minutes=1440)  # type: ignore[operator]
    notifier = await run.start_task()
    acme = [alert(1), alert(2, device="dev-2"), alert(3)]
    other = [alert(1, device="dev-b", org_id="org-other")]
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), [*acme, *other, acme[0]])

    await eventually(lambda: len(webhook.accepted) == 4, what="the webhooks, immediately")

    async def all_read() -> bool:
        return await run.metric("backupwatch_notify_alerts_total", outcome="accepted") == 5

    await eventually(all_read, what="all five records read")
    assert smtp.messages == []
    assert notifier.tracker.open_records() == 5  # waiting for the digest

    assert notifier.flush_digests() == 2
    await eventually(lambda: len(smtp.messages) == 2, what="two digests")
    by_subject = {str(m["Subject"]): m for m in smtp.messages}
    assert set(by_subject) == {
        "[backupwatch] org-acme: 3 alerts (3 critical)",
        "[backupwatch] org-other: 1 alert (1 critical)",
    }
    body = by_subject["[backupwatch] org-acme: 3 alerts (3 critical)"].get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert all(a.alert_id in text for a in acme)
    await eventually(
        lambda: notifier.tracker.open_records() == 0 and notifier.tracker.to_commit() == {},
        what="every record committed after the digest",
    )
    assert await run.metric("backupwatch_notify_digests_total") == 2
    await run.stop_task()
