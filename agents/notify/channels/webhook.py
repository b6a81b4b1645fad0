"""The webhook channel: the alert record as a JSON `POST`, signed per Standard Webhooks
(`agents/notify/signing.py`), to an http(s) URL (aiohttp).

A target is the URL; its path often holds a token, so logs and dead letters show it
without (`redact_url`). Loopback and link-local hosts are refused unless allowed
(`agents/webhook_targets.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp

from agents import webhook_targets
from agents.notify.channels.base import Channel
from agents.notify.channels.http import http_failure
from agents.notify.errors import DeliveryFailed
from agents.notify.plan import Delivery, delivery_key
from agents.notify.signing import signature_headers
from agents.webhook_targets import RefusedTarget
from schemas.recipients import TargetSyntax, is_http_url, redact_url

if TYPE_CHECKING:
    from agents.notify.settings import NotifySettings

__all__ = ["CHANNEL", "USER_AGENT", "WEBHOOK", "WebhookChannel", "check_webhook_target"]

WEBHOOK = "webhook"
USER_AGENT = "backupwatch-notify/1"


class WebhookChannel:
    slots = 16

    def __init__(self, settings: NotifySettings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.session = session

    async def send(self, delivery: Delivery) -> None:
        (item,) = delivery.items
        # The body is the alert record exactly as the worker wrote it.
        body = item.raw
        secrets = self.settings.secrets_for(item.alert.org_id, delivery.recipient)
        if not secrets and not self.settings.webhook_unsigned:
            raise DeliveryFailed(
                "no_secret",
                f"no signing secret for org {item.alert.org_id} (BACKUPWATCH_NOTIFY_SECRETS "
                "webhook_secrets, or BACKUPWATCH_NOTIFY_WEBHOOK_SECRET); "
                "BACKUPWATCH_NOTIFY_WEBHOOK_UNSIGNED=true sends it unsigned",
                permanent=True,
            )
        # The same for every attempt of this delivery: an idempotency key.
        delivery_id = delivery_key(item.alert.alert_id, WEBHOOK, delivery.recipient).decode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Backupwatch-Alert-Id": item.alert.alert_id,
            "X-Backupwatch-Delivery": delivery_id,
            **signature_headers(secrets, delivery_id, datetime.now(UTC), body),
        }
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        check_webhook_target(delivery.recipient, self.settings.webhook_internal_hosts)
        try:
            async with self.session.post(
                delivery.recipient,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
                if 200 <= status < 300:
                    return
                text = (await response.text(errors="replace"))[:300]
                retry_after = response.headers.get("Retry-After")
        except TimeoutError:
            raise DeliveryFailed(
                "timeout", f"no answer within {self.settings.timeout:g}s"
            ) from None
        except aiohttp.ClientConnectorError as err:
            if isinstance(err.os_error, RefusedTarget):
                # The host resolved to loopback or link-local addresses only
                # (agents.webhook_targets.TargetResolver).
                raise DeliveryFailed("refused_target", str(err.os_error), permanent=True) from None
            raise DeliveryFailed("unreachable", f"{type(err).__name__}: {err}") from None
        except (aiohttp.ClientError, OSError) as err:
            raise DeliveryFailed("unreachable", f"{type(err).__name__}: {err}") from None
        raise http_failure(status, f"HTTP {status}: {text}", retry_after)


def check_webhook_target(url: str, allowed: tuple[str, ...]) -> None:
    """Raise `DeliveryFailed` (`refused_target`, not retried) when `url` names a loopback
    or link-local host not in `allowed` (agents.webhook_targets): a policy written to
    the topic directly was never checked by the API. Names resolving to such addresses
    are refused when connecting, by the session's `TargetResolver`."""
    refused = webhook_targets.refusal(url, allowed)
    if refused is not None:
        raise DeliveryFailed("refused_target", f"{refused}; {webhook_targets.RULE}", permanent=True)


CHANNEL = Channel(
    TargetSyntax(WEBHOOK, "an http(s) URL", is_http_url, shown=redact_url),
    WebhookChannel,
    defaults=lambda settings: settings.webhook_urls,
)
