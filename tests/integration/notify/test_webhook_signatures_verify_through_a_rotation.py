"""Webhooks signed per Standard Webhooks with the org's own secret, verified by receivers
with the `standardwebhooks` library, through a rotation: while the org has two secrets,
both signatures are sent and a receiver holding either accepts; once the old one is
dropped, only the new one verifies. An org with no secret of its own and no default gets
its webhooks dead-lettered (`no_secret`), not sent unsigned."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from agents.notify.settings import NotifySettings
from agents.notify.topics import NOTIFY_DEAD_LETTERS
from schemas.models import OrgPolicy, Recipient
from tests.integration.notify.alerts import alert
from tests.kafka_harness import eventually
from tests.notify_harness import WebhookReceiver, produce_alerts, publish_policy, read_topic
from tests.worker_harness import free_port

pytestmark = pytest.mark.integration

OLD = "whsec_" + base64.b64encode(b"the org's old secret, 32 bytes.!").decode()
NEW = "whsec_" + base64.b64encode(b"the org's new secret, 32 bytes.!").decode()


@pytest_asyncio.fixture
async def receivers() -> AsyncIterator[tuple[WebhookReceiver, WebhookReceiver, WebhookReceiver]]:
    """org-acme's receiver still on the old secret, its receiver on the new one, and
    org-other's (which has no secret)."""
    started = [WebhookReceiver(free_port(), secret) for secret in (OLD, NEW, NEW)]
    for receiver in started:
        await receiver.start()
    try:
        yield started[0], started[1], started[2]
    finally:
        for receiver in started:
            await receiver.stop()


def webhooks(org_id: str, *receivers: WebhookReceiver) -> OrgPolicy:
    return OrgPolicy(
        org_id=org_id,
        updated_at=datetime.now(UTC),
        recipients=[Recipient(channel="webhook", target=r.url) for r in receivers],
    )


async def test_both_signatures_verify_while_rotating_and_only_the_new_one_after(
    notifiers: Any, notify_settings: NotifySettings, receivers: Any
) -> None:
    old_rx, new_rx, other_rx = receivers
    s = replace(
        notify_settings,
        emails=(),
        webhook_urls=(),
        webhook_secret="",
        webhook_secrets=(("org-acme", (NEW, OLD)),),
    )
    topic = s.topic("org-policies")
    await publish_policy(s.bootstrap_servers, topic, webhooks("org-acme", old_rx, new_rx))
    await publish_policy(s.bootstrap_servers, topic, webhooks("org-other", other_rx))
    rotating = notifiers(s)
    await rotating.start_task()
    first, others = alert(1), alert(1, device="dev-b", org_id="org-other")
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), [first, others])

    await eventually(lambda: old_rx.alert_ids() == [first.alert_id], what="the old secret's")
    await eventually(lambda: new_rx.alert_ids() == [first.alert_id], what="the new secret's")
    ((headers, _),) = new_rx.accepted
    assert len(headers["webhook-signature"].split(" ")) == 2

    async def unsigned_refused() -> list[Any]:
        records = await read_topic(s.bootstrap_servers, s.topic(NOTIFY_DEAD_LETTERS), settle=0.3)
        return records

    (refused,) = await eventually(unsigned_refused, what="org-other's webhook dead-lettered")
    assert dict(refused.headers)["reason"] == b"no_secret"
    assert other_rx.answered == []
    await rotating.stop_task()

    # Rotation done: the old secret is dropped.
    rotated = notifiers(s, webhook_secrets=(("org-acme", (NEW,)),))
    await rotated.start_task()
    second = alert(2)
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), [second])

    await eventually(
        lambda: new_rx.alert_ids() == [first.alert_id, second.alert_id], what="the new one"
    )
    await eventually(lambda: old_rx.bad_signatures == 1, what="the old secret to fail")
    assert old_rx.alert_ids() == [first.alert_id]
    headers, _ = new_rx.accepted[1]
    assert len(headers["webhook-signature"].split(" ")) == 1
    assert old_rx.answered == [200, 401]
    assert new_rx.bad_signatures == 0
