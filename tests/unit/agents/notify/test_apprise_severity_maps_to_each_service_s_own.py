"""Severity maps to the service's own notion where it has one: PagerDuty's severity and
incident (resolved by a resolution), Opsgenie's priority and alert (closed by a
resolution), both keyed on the alert's episode; ntfy's priority. Apprise's own retries are
off (the notifier's have backoff, and count), and the custom JSON/form targets carry the
delivery's idempotency key. These are the plugin objects Apprise builds from the URLs."""

from __future__ import annotations

import logging
from typing import Any

import apprise
import pytest

from agents.notify.channels.apprise import prepare, url_problem
from agents.notify.render import render_chat
from tests.unit.agents.notify.alerts import example_alert

CRITICAL = example_alert()
WARNING = example_alert(to_state="warning", from_state="ok", transition="opened")
RESOLVED = example_alert(to_state="ok", from_state="critical", transition="resolved")


def plugin(url: str) -> Any:
    built = apprise.Apprise.instantiate(url)
    assert built is not None, url
    return built


def test_pagerduty_triggers_and_resolves_the_incident_of_the_episode() -> None:
    pagerduty = plugin("pagerduty://intkey@routekey/backupwatch?severity=info&action=trigger")
    kinds = [prepare(pagerduty, render_chat(a), "d", 5.0) for a in (CRITICAL, RESOLVED)]

    assert kinds == [apprise.NotifyType.FAILURE, apprise.NotifyType.SUCCESS]
    # "map": a failure or warning triggers, a success resolves; the URL's fixed severity
    # gives way to the alert's.
    assert (pagerduty.action, pagerduty.severity) == ("map", None)
    assert pagerduty.dedup == render_chat(CRITICAL).episode == render_chat(RESOLVED).episode
    assert pagerduty.retry == 0


@pytest.mark.parametrize(("alert", "priority"), [(CRITICAL, 1), (WARNING, 3)])
def test_opsgenie_gets_p1_for_critical_and_p3_for_a_warning(alert: Any, priority: int) -> None:
    opsgenie = plugin("opsgenie://apikey/")
    prepare(opsgenie, render_chat(alert), "d", 5.0)
    # Apprise writes "P<priority>": P1 is Opsgenie's most urgent.
    assert opsgenie.priority == priority
    assert (opsgenie.action, opsgenie.alias) == ("map", render_chat(alert).episode)


@pytest.mark.parametrize(("alert", "priority"), [(CRITICAL, "max"), (WARNING, "high")])
def test_ntfy_priority_follows_severity(alert: Any, priority: str) -> None:
    ntfy = plugin("ntfy://127.0.0.1:9/backups")
    assert prepare(ntfy, render_chat(alert), "d", 5.0) in (
        apprise.NotifyType.FAILURE,
        apprise.NotifyType.WARNING,
    )
    assert ntfy.priority == priority


def test_custom_json_and_form_targets_carry_the_delivery_key_and_no_apprise_retries() -> None:
    for url in ("json://127.0.0.1:9/hook?retry=5", "form://127.0.0.1:9/hook"):
        target = plugin(url)
        prepare(target, render_chat(CRITICAL), "a1:apprise:0123", 2.5)
        assert target.headers["X-Backupwatch-Delivery"] == "a1:apprise:0123"
        assert target.retry == 0
        assert (target.socket_connect_timeout, target.socket_read_timeout) == (2.5, 2.5)


def test_a_url_apprise_cannot_use_is_named_by_its_scheme_only() -> None:
    assert url_problem("json://127.0.0.1/hook") is None
    problem = url_problem("nosuchservice://SECRET-TOKEN@host")
    assert problem is not None
    assert "nosuchservice://" in problem and "SECRET-TOKEN" not in problem


def test_apprise_s_own_log_lines_show_no_token(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG", logger="apprise"):
        # Checking a URL at start: only the notifier's own one-line refusal is said.
        assert url_problem("slack://T1/B2/SECRET-TOKEN-?x") is not None
        logging.getLogger("apprise").warning("posting to %s", "mmost://host:8065/SECRET-TOKEN")
    text = caplog.text
    assert "mmost://…" in text
    assert "SECRET-TOKEN" not in text
