"""Through Apprise as through the other channels: a service answering 5xx is retried with
backoff until it takes the alert (delivered once, the next alert of the device after
it), and one answering 4xx gets no second attempt: the alert is dead-lettered with the
reason, the target named (never its URL), and counted; the alert record is committed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from agents.notify.settings import NotifySettings
from agents.notify.topics import NOTIFY_DEAD_LETTERS
from schemas import encode
from schemas.models import OrgPolicy, Recipient
from tests.integration.notify.alerts import alert
from tests.kafka_harness import eventually
from tests.notify_harness import HttpRecorder, produce_alerts, publish_policy, read_topic

pytestmark = pytest.mark.integration


async def test_a_5xx_is_retried_and_a_4xx_dead_lettered(
    notifiers: Any, notify_settings: NotifySettings, http_recorders: Any
) -> None:
    flaky: HttpRecorder = await http_recorders(script=[503, 502, 500])
    refusing: HttpRecorder = await http_recorders(script=[400, 400, 400, 400])
    s = replace(
        notify_settings,
        emails=(),
        webhook_urls=(),
        apprise=(
            ("flaky", f"json://{flaky.address}/hook?token=FLAKY-TOKEN"),
            ("refusing", f"json://{refusing.address}/hook?token=REFUSING-TOKEN"),
        ),
    )
    await publish_policy(
        s.bootstrap_servers,
        s.topic("org-policies"),
        OrgPolicy(
            org_id="org-acme",
            updated_at=datetime.now(UTC),
            recipients=[
                Recipient(channel="apprise", target="flaky"),
                Recipient(channel="apprise", target="refusing"),
            ],
        ),
    )
    run = notifiers(s)
    await run.start_task()
    first, second = alert(1), alert(2)
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), [first, second])

    await eventually(lambda: len(flaky.accepted()) == 2, what="both alerts through the flaky one")
    assert flaky.answered == [503, 502, 500, 200, 200]
    delivered = [r.headers["X-Backupwatch-Delivery"].split(":")[0] for r in flaky.accepted()]
    assert delivered == [first.alert_id, second.alert_id]
    # Every attempt of a delivery carries its key: the receiver can tell a repeat.
    assert len({r.headers["X-Backupwatch-Delivery"] for r in flaky.requests[:4]}) == 1

    async def dead_letters() -> list[Any]:
        records = await read_topic(s.bootstrap_servers, s.topic(NOTIFY_DEAD_LETTERS), settle=0.5)
        return records if len(records) >= 2 else []

    records = await eventually(dead_letters, what="both alerts to the refusing one dead-lettered")
    # One attempt each: a 4xx is not retried.
    assert refusing.answered == [400, 400]
    assert [r.value for r in records] == [encode(first), encode(second)]
    for record in records:
        headers = {k: v.decode() for k, v in record.headers}
        assert (headers["reason"], headers["channel"], headers["recipient"]) == (
            "http_4xx",
            "apprise",
            "refusing",
        )
        assert headers["attempts"] == "1"
        assert "HTTP 400" in headers["error"] and "TOKEN" not in headers["error"]

    async def counted() -> bool:
        retries = await run.metric(
            "backupwatch_notify_retries_total", channel="apprise", failure="http_5xx"
        )
        dead = await run.metric(
            "backupwatch_notify_dead_letters_total", channel="apprise", reason="http_4xx"
        )
        ok = await run.metric(
            "backupwatch_notify_deliveries_total", channel="apprise", outcome="delivered"
        )
        return (retries, dead, ok) == (3, 2, 2)

    await eventually(counted, what="3 retries, 2 dead letters and 2 deliveries counted")
    await eventually(
        lambda: run.notifier is not None and run.notifier.tracker.open_records() == 0,
        what="both alert records done and committed",
    )
