"""Recipients: the org policy's, else the notifier's defaults, per channel; keys per
(alert, channel, recipient)."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.notify.channels.email import EMAIL
from agents.notify.channels.webhook import WEBHOOK
from agents.notify.plan import Target, delivery_key, targets_for
from schemas.models import OrgPolicy

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def policy(**fields: object) -> OrgPolicy:
    return OrgPolicy(org_id="org-acme", updated_at=NOW, **fields)  # type: ignore[arg-type]


def test_an_org_without_a_policy_gets_the_defaults() -> None:
    assert targets_for(None, {EMAIL: ["ops@x.com"], WEBHOOK: ["https://h/1"]}) == [
        Target(EMAIL, "ops@x.com"),
        Target(WEBHOOK, "https://h/1"),
    ]


def test_a_policy_replaces_the_defaults_of_the_channels_it_names() -> None:
    targets = targets_for(
        policy(alert_emails=["it@acme.com"]), {EMAIL: ["ops@x.com"], WEBHOOK: ["https://h/1"]}
    )
    assert targets == [Target(EMAIL, "it@acme.com"), Target(WEBHOOK, "https://h/1")]


def test_the_same_address_twice_is_one_recipient() -> None:
    targets = targets_for(policy(alert_emails=["IT@acme.com", "it@acme.com"]), {})
    assert targets == [Target(EMAIL, "IT@acme.com")]


def test_nobody_configured_means_no_targets() -> None:
    assert targets_for(policy(), {}) == []


def test_delivery_keys_differ_by_alert_channel_and_recipient_and_hide_urls() -> None:
    url = "https://hooks.example.com/T/SECRET"
    keys = {
        delivery_key("a1", EMAIL, "ops@x.com"),
        delivery_key("a1", EMAIL, "it@x.com"),
        delivery_key("a2", EMAIL, "ops@x.com"),
        delivery_key("a1", WEBHOOK, "ops@x.com"),
        delivery_key("a1", WEBHOOK, url),
    }
    assert len(keys) == 5
    assert delivery_key("a1", WEBHOOK, url) == delivery_key("a1", WEBHOOK, url)
    assert b"SECRET" not in delivery_key("a1", WEBHOOK, url)
