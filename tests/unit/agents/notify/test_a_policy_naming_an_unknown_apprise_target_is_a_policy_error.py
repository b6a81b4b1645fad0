"""A policy record naming an Apprise target the notifier does not configure is refused
whole (the org keeps the recipients it had) and counted as a policy error; the API's
check of the same, from the names the notifier announces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from agents.books.targets import TargetDirectory, announcement
from agents.notify.channels.apprise import APPRISE
from agents.notify.channels.email import EMAIL
from agents.notify.metrics import NotifyMetrics
from agents.notify.plan import Target
from agents.notify.recipients import RecipientBook
from agents.notify.settings import NotifySettings
from schemas import encode
from schemas.models import OrgPolicy, Recipient

T0 = datetime(2026, 11, 20, tzinfo=UTC)
SETTINGS = NotifySettings(apprise=(("ops-slack", "json://127.0.0.1:9/hook"),))


def policy(*targets: tuple[str, str], at: datetime = T0) -> OrgPolicy:
    return OrgPolicy(
        org_id="org-acme",
        updated_at=at,
        recipients=[Recipient(channel=c, target=t) for c, t in targets],
    )


def test_a_known_target_is_a_recipient_and_an_unknown_one_refuses_the_record() -> None:
    metrics = NotifyMetrics(CollectorRegistry())
    book = RecipientBook(SETTINGS, metrics)
    book._apply(b"org-acme", encode(policy((APPRISE, "ops-slack"), (EMAIL, "it@acme.example"))))
    assert book.targets("org-acme") == [
        Target(APPRISE, "ops-slack"),
        Target(EMAIL, "it@acme.example"),
    ]

    later = policy((APPRISE, "ops-teams"), at=T0 + timedelta(hours=1))
    assert book.unknown_targets(encode(later)) == ["ops-teams"]
    book._apply(b"org-acme", encode(later))

    assert book.targets("org-acme") == [
        Target(APPRISE, "ops-slack"),
        Target(EMAIL, "it@acme.example"),
    ]
    assert metrics.policy_errors._value.get() == 1


def test_a_record_that_does_not_decode_counts_as_a_policy_error_too() -> None:
    metrics = NotifyMetrics(CollectorRegistry())
    book = RecipientBook(SETTINGS, metrics)
    book._apply(b"org-acme", b'{"schema": "org_policy/1", "org_id": "org-acme"}')
    assert metrics.policy_errors._value.get() == 1
    assert book.targets("org-acme") == []


def test_the_api_s_directory_knows_what_the_notifier_announced() -> None:
    directory = TargetDirectory()
    named = policy((APPRISE, "ops-slack"))
    problem = directory.problem(named)
    assert problem is not None and "no notifier has announced" in problem

    directory.apply_record(announcement(APPRISE, ["ops-slack", "on-call"])[1])
    assert directory.problem(named) is None
    problem = directory.problem(policy((EMAIL, "it@acme.example"), (APPRISE, "ops-teams")))
    assert problem == (
        "`recipients`[1] apprise target 'ops-teams' is not configured on the notifier "
        "(configured: on-call, ops-slack)"
    )
    # Email and webhook targets are the policy's own, whatever the notifier announced.
    assert directory.problem(policy((EMAIL, "it@acme.example"))) is None
