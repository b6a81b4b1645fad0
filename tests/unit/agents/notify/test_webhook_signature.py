"""Webhook signatures: HMAC-SHA256 over `<timestamp>.<body>`, checked as a receiver would."""

from __future__ import annotations

import hashlib
import hmac

from agents.notify.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    signature_headers,
    verify,
)

BODY = b'{"schema":"alert/1","alert_id":"a1"}'


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"key", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign("key", 1_700_000_000, BODY) == f"sha256={expected}"


def test_a_receiver_accepts_what_was_signed() -> None:
    headers = signature_headers("key", 1_700_000_000, BODY)
    assert verify(
        "key", BODY, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], now=1_700_000_010
    )


def test_a_changed_body_a_wrong_key_or_an_old_timestamp_is_refused() -> None:
    headers = signature_headers("key", 1_700_000_000, BODY)
    ts, sig = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert not verify("key", BODY + b" ", ts, sig, now=1_700_000_000)
    assert not verify("other", BODY, ts, sig, now=1_700_000_000)
    assert not verify("key", BODY, ts, sig, now=1_700_000_000 + 301)
    assert not verify("key", BODY, "1700000001", sig, now=1_700_000_000)
    assert not verify("key", BODY, None, sig, now=1_700_000_000)
    assert not verify("key", BODY, "soon", sig, now=1_700_000_000)


def test_without_a_secret_only_the_timestamp_is_sent() -> None:
    assert signature_headers("", 5, BODY) == {TIMESTAMP_HEADER: "5"}
