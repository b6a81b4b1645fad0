"""An org policy names only recipients the notifier can deliver to.

A policy record with an address or webhook URL the notifier cannot use is refused when it
is decoded (the API's policy change, or any record on the policy topic), with a message
naming the field and the value; the notifier's own defaults pass the very same checks.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from agents.books.policies import PolicyBook
from agents.errors import ConfigError
from agents.notify.settings import NotifySettings
from agents.settings import Settings
from schemas import InvalidRecord, OrgPolicy, Recipient, decode_as
from tests.unit.factories import T0

GOOD_EMAILS = ["it@acme.example", "IT+backups@acme.example", "a@b"]
BAD_EMAILS = [
    "not an email",
    "it.acme.example",
    "@acme.example",
    "it@",
    "",
    "it@acme.example\r\nBcc: everyone@acme.example",
    "it@acme.example\n",
    "it\r@acme.example",
    "it@acme\x00.example",
]
GOOD_URLS = ["https://hooks.example/services/T0/B0/TOKEN", "http://127.0.0.1:8080/hook"]
BAD_URLS = [
    "ftp://x",
    "not a url",
    "mailto:it@acme.example",
    "hooks.example/services/T0/B0/TOKEN",
    "https://",
    "http://hooks.example:99999/",
    "http://[::1/hook",
    "https://hooks.example/hook\r\nX-Injected: 1",
]


def policy_json(**fields: Any) -> bytes:
    return orjson.dumps(
        {"schema": "org_policy/1", "org_id": "org-1", "updated_at": T0.isoformat(), **fields}
    )


@pytest.mark.parametrize("address", GOOD_EMAILS)
def test_a_policy_with_deliverable_addresses_decodes(address: str) -> None:
    record = decode_as(policy_json(alert_emails=[address]), OrgPolicy)
    assert record.recipients == [Recipient(channel="email", target=address)]


@pytest.mark.parametrize("url", GOOD_URLS)
def test_a_policy_with_http_webhooks_decodes(url: str) -> None:
    record = decode_as(policy_json(webhook_urls=[url]), OrgPolicy)
    assert record.recipients == [Recipient(channel="webhook", target=url)]


@pytest.mark.parametrize("address", BAD_EMAILS)
def test_a_policy_with_an_undeliverable_address_is_refused_naming_it(address: str) -> None:
    with pytest.raises(InvalidRecord) as refused:
        decode_as(policy_json(alert_emails=["it@acme.example", address]), OrgPolicy)

    assert refused.value.reason == "invalid_field"
    assert refused.value.message.startswith("`alert_emails`")
    assert repr(address) in refused.value.message


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_policy_with_a_webhook_that_is_not_http_is_refused_naming_it(url: str) -> None:
    with pytest.raises(InvalidRecord) as refused:
        decode_as(policy_json(webhook_urls=[GOOD_URLS[0], url]), OrgPolicy)

    assert refused.value.reason == "invalid_field"
    assert refused.value.message.startswith("`webhook_urls`")
    # Which one, without its path: a chat webhook carries its token there.
    assert "[1]" in refused.value.message
    assert "TOKEN" not in refused.value.message


def test_a_webhook_is_named_by_its_scheme_and_host() -> None:
    with pytest.raises(InvalidRecord) as refused:
        decode_as(policy_json(webhook_urls=["ftp://files.acme.example/TOKEN"]), OrgPolicy)

    assert "'ftp://files.acme.example/…'" in refused.value.message


def test_a_policy_record_on_the_topic_with_an_unusable_recipient_is_refused() -> None:
    book = PolicyBook(Settings())
    book.apply_record(policy_json(alert_emails=["it@acme.example"], reminder_hours=24))

    changed = book.apply_record(policy_json(alert_emails=["not an email"], reminder_hours=1))

    assert changed is None
    record = book.record_for("org-1")
    assert record is not None
    assert record.recipients == [Recipient(channel="email", target="it@acme.example")]


def test_a_policy_record_cannot_be_built_with_an_unusable_recipient() -> None:
    with pytest.raises(ValueError, match="alert_emails"):
        OrgPolicy(org_id="org-1", updated_at=T0, alert_emails=["not an email"])


@pytest.mark.parametrize("address", BAD_EMAILS)
def test_the_notifier_refuses_the_same_addresses_as_its_defaults(address: str) -> None:
    with pytest.raises(ConfigError, match="BACKUPWATCH_NOTIFY_EMAILS"):
        NotifySettings(smtp_host="smtp.example", emails=(address,))


@pytest.mark.parametrize("url", BAD_URLS)
def test_the_notifier_refuses_the_same_webhooks_as_its_defaults(url: str) -> None:
    with pytest.raises(ConfigError, match="BACKUPWATCH_NOTIFY_WEBHOOK_URLS"):
        NotifySettings(webhook_secret="s3cret", webhook_urls=(url,))


def test_recipients_are_channel_and_target_pairs() -> None:
    recipients = [
        {"channel": "email", "target": "it@acme.example"},
        {"channel": "webhook", "target": GOOD_URLS[0]},
        {"channel": "apprise", "target": "ops-slack"},
    ]
    record = decode_as(policy_json(recipients=recipients), OrgPolicy)
    assert [(r.channel, r.target) for r in record.recipients] == [
        ("email", "it@acme.example"),
        ("webhook", GOOD_URLS[0]),
        ("apprise", "ops-slack"),
    ]


def test_a_policy_in_the_earlier_form_is_read_as_recipients_after_the_listed_ones() -> None:
    record = decode_as(
        policy_json(
            recipients=[{"channel": "apprise", "target": "ops-slack"}],
            alert_emails=["it@acme.example"],
            webhook_urls=[GOOD_URLS[0]],
        ),
        OrgPolicy,
    )
    assert [(r.channel, r.target) for r in record.recipients] == [
        ("apprise", "ops-slack"),
        ("email", "it@acme.example"),
        ("webhook", GOOD_URLS[0]),
    ]
    # Written back in the new form only.
    assert (record.alert_emails, record.webhook_urls) == ([], [])


@pytest.mark.parametrize(
    ("recipient", "message"),
    [
        ({"channel": "sms", "target": "+1555"}, "`recipients`[1] unknown channel 'sms'; known: "),
        ({"channel": "email", "target": "nobody"}, "`recipients`[1] email target 'nobody' is not"),
        (
            {"channel": "webhook", "target": "ftp://h/TOKEN"},
            "`recipients`[1] webhook target 'ftp://h/…' is not an http(s) URL",
        ),
        (
            {"channel": "apprise", "target": "slack://T/B/TOKEN"},
            "`recipients`[1] apprise target 'slack://T/B/TOKEN' is not a target name",
        ),
        ({"channel": "Email", "target": "it@acme.example"}, "at `$.recipients[1].channel`"),
    ],
)
def test_a_recipient_the_notifier_cannot_use_is_refused_naming_it(
    recipient: dict[str, str], message: str
) -> None:
    good = {"channel": "email", "target": "it@acme.example"}
    with pytest.raises(InvalidRecord) as refused:
        decode_as(policy_json(recipients=[good, recipient]), OrgPolicy)
    assert refused.value.reason == "invalid_field"
    assert message in refused.value.message
