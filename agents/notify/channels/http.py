"""What an HTTP answer means for a delivery, for every channel that posts over HTTP
(webhooks; the services behind Apprise's plugins)."""

from __future__ import annotations

import email.utils
import time

from agents.notify.errors import DeliveryFailed

__all__ = ["http_failure", "parse_retry_after"]

# Answers that say "not now" rather than "no": the request may succeed later.
_MAY_PASS = (408, 425, 429)


def http_failure(status: int, detail: str, retry_after: str | None = None) -> DeliveryFailed:
    """The failure an answer other than 2xx makes: a 5xx, 408, 425 or 429 is retried
    (after `Retry-After`, when the server gives one); any other 4xx is refused at once,
    and so is a 3xx: a redirect is not followed, since a signed POST must not be re-sent
    to another host."""
    if status >= 500 or status in _MAY_PASS:
        reason = "http_429" if status == 429 else "http_5xx" if status >= 500 else "http_4xx"
        return DeliveryFailed(reason, detail, retry_after=parse_retry_after(retry_after))
    reason = "http_3xx" if status < 400 else "http_4xx"
    return DeliveryFailed(reason, detail, permanent=True)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # the other form: an HTTP date
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
