"""Webhook signatures per the Standard Webhooks specification. Pure: no I/O.

Each request carries `webhook-id` (the same on every attempt of a delivery: an
idempotency key), `webhook-timestamp` (Unix seconds) and `webhook-signature`, the
HMAC-SHA256 of `<id>.<timestamp>.<body>` as `v1,<base64>`, computed by the
`standardwebhooks` library that receivers verify with. The timestamp is signed so a
captured request cannot be replayed later (receivers refuse ones older than 5 minutes).

Rotation: while an org has two secrets, both signatures are sent, separated by a
space; a receiver holding either secret accepts the request, so receivers move to the
new secret in their own time before the old one is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

__all__ = ["ID_HEADER", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "signature_headers"]

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


def signature_headers(
    secrets: Sequence[str], message_id: str, at: datetime, body: bytes
) -> dict[str, str]:
    """The three headers; no signature header when `secrets` is empty (unsigned)."""
    headers = {ID_HEADER: message_id, TIMESTAMP_HEADER: str(int(at.timestamp()))}
    if secrets:
        headers[SIGNATURE_HEADER] = " ".join(
            Webhook(secret).sign(message_id, at, body) for secret in secrets
        )
    return headers
