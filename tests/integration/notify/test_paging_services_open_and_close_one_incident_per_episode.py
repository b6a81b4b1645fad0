"""PagerDuty and Opsgenie, through Apprise's own plugins: an alert opens the incident at
the service's severity or priority, its resolution closes that same incident. Their
plugins post to the vendors' fixed cloud hosts, so the test points the plugins' endpoint
tables at a local server answering with the vendors' documented shapes (PagerDuty's
Events API v2 `202 {"status": "success"}`, Opsgenie's `202 {"requestId": …}`) — the
payloads are the plugins' own, nothing else is changed. No broker: the channel alone."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from apprise.plugins import opsgenie, pagerduty

from agents.notify.channels.apprise import APPRISE, AppriseChannel
from agents.notify.plan import Delivery, Item
from agents.notify.render import episode_key
from agents.notify.settings import NotifySettings
from schemas import encode
from tests.integration.notify.alerts import alert
from tests.notify_harness import HttpRecorder

pytestmark = pytest.mark.integration

OPENED = alert(1)
RESOLVED = alert(
    2,
    transition="resolved",
    from_state="critical",
    to_state="ok",
    reason="new_event",
    decided_at=OPENED.decided_at + timedelta(hours=5),
)


def delivery(target: str, sent: Any) -> Delivery:
    item = Item(sent, encode(sent), "alerts", 0, 0)
    return Delivery(APPRISE, target, sent.device_id, (item,))


async def test_pagerduty_triggers_then_resolves_the_episode_s_incident(
    http_recorders: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    service: HttpRecorder = await http_recorders(
        reply={"status": "success", "message": "Event processed", "dedup_key": "x"}
    )
    monkeypatch.setitem(
        pagerduty.PAGERDUTY_API_LOOKUP, "us", f"http://{service.address}/v2/enqueue"
    )
    url = "pagerduty://a1b2c3d4e5@f6g7h8i9j0/backupwatch"
    channel = AppriseChannel(NotifySettings(apprise=(("on-call", url),)))
    await channel.send(delivery("on-call", OPENED))
    await channel.send(delivery("on-call", RESOLVED))

    trigger, resolve = (json.loads(r.body) for r in service.accepted())
    assert trigger["event_action"] == "trigger"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["summary"].startswith("[CRITICAL] host-dev-000123")
    assert trigger["dedup_key"] == episode_key(OPENED)
    assert resolve == {
        "routing_key": "a1b2c3d4e5",
        "event_action": "resolve",
        "dedup_key": episode_key(OPENED),
    }


async def test_opsgenie_opens_at_p1_then_closes_the_episode_s_alert(
    http_recorders: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    service: HttpRecorder = await http_recorders(
        reply={"result": "Request will be processed", "took": 0.1, "requestId": "req-7"}
    )
    monkeypatch.setitem(opsgenie.OPSGENIE_API_LOOKUP, "us", f"http://{service.address}/v2/alerts")
    channel = AppriseChannel(NotifySettings(apprise=(("on-call", "opsgenie://0123-apikey"),)))
    await channel.send(delivery("on-call", OPENED))
    await channel.send(delivery("on-call", RESOLVED))

    opened, closed = service.accepted()
    created = json.loads(opened.body)
    assert (opened.path, created["priority"]) == ("/v2/alerts", "P1")
    assert created["alias"] == episode_key(OPENED)
    assert created["message"].startswith("[CRITICAL] host-dev-000123")
    assert closed.path == "/v2/alerts/req-7/close?identifierType=id"
    assert closed.headers["Authorization"] == "GenieKey 0123-apikey"
