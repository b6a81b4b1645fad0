"""Errors of the notifier: refused settings and failed deliveries."""

from __future__ import annotations

from agents.errors import ConfigError

__all__ = ["ConfigError", "DeliveryFailed"]


class DeliveryFailed(Exception):
    """One attempt to deliver failed.

    `permanent` failures (the recipient or the message was refused: SMTP 5xx, HTTP 4xx)
    go to the dead letters at once; the others are retried with backoff. `reason` is a
    short fixed word (bounded metric label and dead-letter header), `detail` the text.
    """

    def __init__(
        self,
        reason: str,
        detail: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.permanent = permanent
        self.retry_after = retry_after
