"""Webhook signatures per Standard Webhooks, checked with the library's own verifier, as a
receiver does; while two secrets are configured both signatures are sent."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from agents.notify.signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_headers,
)

BODY = b'{"schema":"alert/1","alert_id":"a1"}'
OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"x" * 32).decode()


def headers(*secrets: str, at: datetime | None = None) -> dict[str, str]:
    return signature_headers(secrets, "a1:webhook:0123", at or datetime.now(UTC), BODY)


def test_a_receiver_with_the_secret_verifies_the_request() -> None:
    sent = headers(NEW)
    assert Webhook(NEW).verify(BODY, sent) == {"schema": "alert/1", "alert_id": "a1"}
    assert sent[ID_HEADER] == "a1:webhook:0123"
    assert sent[SIGNATURE_HEADER].startswith("v1,")


def test_while_rotating_both_signatures_are_sent_and_either_secret_verifies() -> None:
    sent = headers(NEW, OLD)
    assert len(sent[SIGNATURE_HEADER].split(" ")) == 2
    Webhook(NEW).verify(BODY, sent)
    Webhook(OLD).verify(BODY, sent)
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER).verify(BODY, sent)


def test_after_the_rotation_the_old_secret_no_longer_verifies() -> None:
    sent = headers(NEW)
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD).verify(BODY, sent)


def test_a_changed_body_or_an_old_timestamp_is_refused() -> None:
    with pytest.raises(WebhookVerificationError):
        Webhook(NEW).verify(BODY + b" ", headers(NEW))
    stale = headers(NEW, at=datetime.now(UTC) - timedelta(minutes=6))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(NEW).verify(BODY, stale)


def test_without_a_secret_no_signature_is_sent() -> None:
    sent = headers()
    assert SIGNATURE_HEADER not in sent
    assert set(sent) == {ID_HEADER, TIMESTAMP_HEADER}
