"""An org policy names Apprise targets; the notifier, reading the alert from a real broker,
delivers through Apprise's own plugins to local servers standing in for the services
(every plugin whose host can be set: custom JSON and form, ntfy, Mattermost's
Slack-style incoming webhook, and Microsoft Teams' workflow webhook over HTTPS with a
certificate the test's own CA signed), each in the service's payload shape: the title,
the top cause with its action, the dashboard link; the resolution after it says what
closed the alert."""

from __future__ import annotations

import json
import ssl
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from agents.books.targets import NOTIFY_TARGETS, TargetDirectory
from agents.notify.render import subject
from agents.notify.settings import NotifySettings
from schemas.models import OrgPolicy, Recipient
from tests.integration.notify.alerts import alert
from tests.kafka_harness import eventually
from tests.notify_harness import (
    HttpRecorder,
    NotifierRun,
    produce_alerts,
    publish_policy,
    read_topic,
)

pytestmark = pytest.mark.integration

TARGETS = ("hook-json", "hook-form", "ntfy", "mattermost", "teams")


async def test_each_apprise_service_gets_its_own_payload_shape(
    notifiers: Any,
    notify_settings: NotifySettings,
    http_recorders: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chat: HttpRecorder = await http_recorders()
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    teams: HttpRecorder = await http_recorders(tls=server_tls)
    # Certificates are verified as ever, against the test's CA (requests reads the bundle).
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))

    s = replace(
        notify_settings,
        emails=(),
        webhook_urls=(),
        apprise=(
            ("hook-json", f"json://{chat.address}/json"),
            ("hook-form", f"form://{chat.address}/form"),
            ("ntfy", f"ntfy://{chat.address}/backups"),
            ("mattermost", f"mmost://{chat.address}/tok3n"),
            ("teams", f"workflow://{teams.address}/wf1/s1gnature"),
        ),
    )
    policy = OrgPolicy(
        org_id="org-acme",
        updated_at=datetime.now(UTC),
        recipients=[Recipient(channel="apprise", target=name) for name in TARGETS],
    )
    await publish_policy(s.bootstrap_servers, s.topic("org-policies"), policy)
    run: NotifierRun = notifiers(s)
    await run.start_task()
    opened = alert(1)
    resolved = alert(
        2,
        transition="resolved",
        from_state="critical",
        to_state="ok",
        reason="new_event",
        decided_at=opened.decided_at + timedelta(days=1),
    )
    await produce_alerts(s.bootstrap_servers, s.topic("alerts"), [opened, resolved])

    await eventually(lambda: len(chat.accepted()) == 8, what="two requests to each chat target")
    await eventually(lambda: len(teams.accepted()) == 2, what="two requests to Teams")

    def sent(path: str) -> list[Any]:
        return [r for r in chat.accepted() if r.path.startswith(path)]

    link = "https://backupwatch.example.com/#/devices/dev-000123"
    top = opened.diagnosis[0]
    # Custom JSON: Apprise's own document, our idempotency key in a header.
    first, second = (json.loads(r.body) for r in sent("/json"))
    assert first["title"] == subject(opened)
    assert first["title"].startswith(
        "[CRITICAL] host-dev-000123 has not connected to a backup destination for 5 days"
    )
    assert (first["type"], second["type"]) == ("failure", "success")
    assert f"What to do: {top.action}" in first["message"]
    assert f"Dashboard: {link}" in first["message"]
    assert second["title"] == (
        "[RESOLVED] host-dev-000123 is connecting to its backup destinations again"
    )
    keys = {r.headers["X-Backupwatch-Delivery"] for r in sent("/json")}
    assert len(keys) == 2 and all(
        k.startswith(("dev-000123-a001:", "dev-000123-a002:")) for k in keys
    )
    # Form: the same fields, form-encoded.
    form = sent("/form")[0].form
    assert (form["title"], form["type"]) == (subject(opened), "failure")
    assert f"Likely cause: {top.summary}" in form["message"]
    # ntfy: topic, title and message as JSON, priority by severity.
    ntfy_requests = [r for r in chat.accepted() if r.path == "/"]
    ntfy = [json.loads(r.body) for r in ntfy_requests]
    assert [n["topic"] for n in ntfy] == ["backups", "backups"]
    assert ntfy[0]["title"] == subject(opened)
    # ntfy's priority header; its default (a resolution) is sent as no header.
    assert [r.headers.get("X-Priority") for r in ntfy_requests] == ["max", None]
    # Mattermost (Slack's incoming-webhook shape): one `text` with title and body.
    text = json.loads(sent("/hooks/tok3n")[0].body)["text"]
    assert text.startswith(subject(opened)) and link in text
    # Teams: an adaptive card whose heading is the title.
    (card_request, _) = teams.accepted()
    assert card_request.path.startswith("/workflows/wf1/triggers/manual/paths/invoke")
    card = json.loads(card_request.body)["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    texts = [block.get("text", "") for block in card["body"]]
    assert subject(opened) in texts
    assert any(top.action in t for t in texts)

    async def delivered_count() -> float:
        # Counted once recorded in notify-delivered, a moment after the service has it.
        count = await run.metric(
            "backupwatch_notify_deliveries_total", channel="apprise", outcome="delivered"
        )
        return count if count >= 2 * len(TARGETS) else 0.0

    delivered = await eventually(delivered_count, what="every Apprise delivery counted")
    assert delivered == 2 * len(TARGETS)

    # The notifier announced its target names (never their URLs) for the API to check
    # policies against.
    directory = TargetDirectory()
    for record in await read_topic(s.bootstrap_servers, s.topic(NOTIFY_TARGETS), settle=0.3):
        assert b"://" not in record.value
        directory.apply_record(record.value)
    assert directory.names("apprise") == frozenset(TARGETS)
