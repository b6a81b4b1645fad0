"""`backupwatch notify` killed with SIGKILL while Apprise deliveries are under way, and
started again: every alert reaches the Apprise target, each device's in order, and none
that was recorded as delivered before the kill is sent again. (The one window left, a
service accepting a message the notifier had no time to record, is closed here by
waiting for the record; its repeat would carry the same `X-Backupwatch-Delivery`.)"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from agents.notify.settings import NotifySettings
from schemas.models import OrgPolicy, Recipient
from tests.integration.notify.alerts import alert
from tests.kafka_harness import eventually
from tests.notify_harness import HttpRecorder, NotifierRun, produce_alerts, publish_policy

pytestmark = pytest.mark.integration

DEVICES = [f"dev-{n}" for n in range(4)]
PER_DEVICE = 5
ACCEPTED_BEFORE_THE_KILL = 5


async def test_a_killed_notifier_repeats_no_recorded_apprise_delivery(
    notifiers: Any, notify_settings: NotifySettings, http_recorders: Any
) -> None:
    chat: HttpRecorder = await http_recorders(hold_after=ACCEPTED_BEFORE_THE_KILL)
    s = replace(
        notify_settings,
        emails=(),
        webhook_urls=(),
        apprise=(("ops", f"json://{chat.address}/hook"),),
        # Attempts wait long for the held answers: none times out and retries before the kill.
        timeout=30.0,
    )
    await publish_policy(
        s.bootstrap_servers,
        s.topic("org-policies"),
        OrgPolicy(
            org_id="org-acme",
            updated_at=datetime.now(UTC),
            recipients=[Recipient(channel="apprise", target="ops")],
        ),
    )
    alerts = [alert(n, device=d) for n in range(1, PER_DEVICE + 1) for d in DEVICES]
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), alerts)
    run: NotifierRun = notifiers(s)
    run.start_process()

    await eventually(
        lambda: len(chat.accepted()) == ACCEPTED_BEFORE_THE_KILL and chat.held >= len(DEVICES),
        what="five messages accepted and one held per device (Apprise's four at once)",
        timeout=90,
    )

    async def accepted_recorded() -> bool:
        delivered = await run.metric(
            "backupwatch_notify_deliveries_total", channel="apprise", outcome="delivered"
        )
        return delivered == ACCEPTED_BEFORE_THE_KILL

    await eventually(accepted_recorded, what="the accepted messages recorded as delivered")
    run.kill_process()
    chat.release()

    restarted: NotifierRun = notifiers(s)
    restarted.start_process()
    await eventually(
        lambda: len(chat.accepted()) >= len(alerts),
        what=f"all {len(alerts)} alerts through Apprise after the restart",
        timeout=90,
    )

    async def all_done() -> bool:
        # Nothing read and not done, nothing waiting: no repeat can still come.
        status, text = await restarted._get("/healthz")
        health = json.loads(text) if status == 200 else {}
        return health.get("open_records") == 0 and health.get("pending_deliveries") == 0

    await eventually(all_done, what="the restarted notifier done with every record")

    sent = [json.loads(r.body) for r in chat.accepted()]
    keys = [r.headers["X-Backupwatch-Delivery"] for r in chat.accepted()]
    alert_ids = [key.split(":")[0] for key in keys]
    assert Counter(alert_ids) == Counter(a.alert_id for a in alerts), "each alert exactly once"
    for device in DEVICES:
        own = [a.alert_id for a in alerts if a.device_id == device]
        assert [i for i in alert_ids if i.startswith(device + "-")] == own
    assert all(m["title"].startswith("[CRITICAL]") for m in sent)
    # The held attempts were answered (503) only after the kill: none of them counts.
    assert chat.held >= len(DEVICES)
