"""The channels: email over SMTP (aiosmtplib), signed webhooks (aiohttp), and chat and
paging services through Apprise (`apprise_channel`).

Each `send` makes one attempt and either returns (delivered) or raises
`DeliveryFailed`, saying whether trying again could help; retrying, ordering and
dead-lettering are the runner's. A channel is registered in `build_channels`, and the
wire contract learns what its target looks like in `schemas/recipients.py`.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from typing import Protocol

import aiohttp
import aiosmtplib

from agents import webhook_targets
from agents.notify.apprise_channel import AppriseChannel
from agents.notify.errors import DeliveryFailed
from agents.notify.plan import EMAIL, WEBHOOK, Delivery, delivery_key, message_id
from agents.notify.render import EmailContent, render_alert, render_digest
from agents.notify.settings import NotifySettings
from agents.notify.signing import signature_headers
from agents.webhook_targets import RefusedTarget
from schemas.recipients import redact_url

__all__ = [
    "CHANNEL_FACTORIES",
    "Channel",
    "EmailChannel",
    "WebhookChannel",
    "build_channels",
    "build_email",
    "check_webhook_target",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

USER_AGENT = "backupwatch-notify/1"
# SMTP replies that mean our login is wrong: the operator fixes it, the mail waits.
_AUTH_CODES = (530, 534, 535, 538)
_UNFOLDED = SMTP.clone(max_line_length=998)
# The subject carries what devices report about themselves (hostname, destination
# names): a line break there would end the header, and the library refuses it.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class Channel(Protocol):
    name: str
    # Attempts under way at once: a mail relay or a chat service is not hammered by a
    # backlog.
    slots: int

    async def send(self, delivery: Delivery) -> None: ...

    def shown(self, recipient: str) -> str:
        """The recipient as logs and dead letters may show it (no token)."""
        ...


def build_email(delivery: Delivery, settings: NotifySettings) -> EmailMessage:
    if delivery.digest_org is not None:
        content: EmailContent = render_digest(
            delivery.digest_org, [i.alert for i in delivery.items], settings.dashboard_url
        )
    else:
        content = render_alert(delivery.items[0].alert, settings.dashboard_url)
    message = EmailMessage()
    message["Subject"] = _header_text(content.subject)
    message["From"] = settings.from_address
    message["To"] = delivery.recipient
    message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    domain = settings.from_address.rpartition("@")[2] or "backupwatch"
    alert_ids = [i.alert.alert_id for i in delivery.items]
    message["Message-ID"] = message_id(alert_ids, delivery.recipient, domain)
    if delivery.digest_org is None:
        message["X-Backupwatch-Alert-Id"] = alert_ids[0]
    # Tells autoresponders not to answer (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps the message 7-bit: the bodies carry "→" and "—", and not
    # every relay on the way announces 8BITMIME.
    message.set_content(content.text, cte="quoted-printable")
    message.add_alternative(content.html, subtype="html", cte="quoted-printable")
    return message


def _header_text(value: str) -> str:
    """`value` with each run of control characters (line breaks among them) a space."""
    return _CONTROL.sub(" ", value)


class EmailChannel:
    name = EMAIL
    slots = 4

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    def shown(self, recipient: str) -> str:
        return recipient

    async def send(self, delivery: Delivery) -> None:
        s = self.settings
        # Headers are not folded below RFC 5322's 998 characters: the standard library
        # folds a long subject right after "Subject:", which readers show with a
        # leading blank.
        message = build_email(delivery, s).as_bytes(policy=_UNFOLDED)
        try:
            await aiosmtplib.send(
                message,
                sender=s.from_address,
                recipients=[delivery.recipient],
                hostname=s.smtp_host,
                port=s.smtp_port_or_default,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                use_tls=s.smtp_tls == "tls",
                start_tls=True if s.smtp_tls == "starttls" else False,
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            detail = "; ".join(f"{r.code} {r.message}" for r in err.recipients)
            raise DeliveryFailed("smtp_rejected", detail, permanent=True) from None
        except aiosmtplib.SMTPResponseException as err:
            text = f"{err.code} {err.message}"
            if err.code in _AUTH_CODES:
                raise DeliveryFailed("smtp_auth", text) from None
            if 500 <= err.code < 600:
                raise DeliveryFailed("smtp_rejected", text, permanent=True) from None
            raise DeliveryFailed("smtp_unavailable", text) from None
        except aiosmtplib.SMTPTimeoutError as err:
            raise DeliveryFailed("timeout", str(err)) from None
        except (aiosmtplib.SMTPException, OSError) as err:
            raise DeliveryFailed("unreachable", f"{type(err).__name__}: {err}") from None


class WebhookChannel:
    name = WEBHOOK
    slots = 16

    def __init__(self, settings: NotifySettings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.session = session

    def shown(self, recipient: str) -> str:
        return redact_url(recipient)

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
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
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
        detail = f"HTTP {status}: {text}"
        if status >= 500 or status in (408, 425, 429):
            reason = "http_429" if status == 429 else "http_5xx" if status >= 500 else "http_4xx"
            raise DeliveryFailed(reason, detail, retry_after=retry_after)
        # Redirects are not followed: a signed POST must not be re-sent to another host.
        reason = "http_3xx" if status < 400 else "http_4xx"
        raise DeliveryFailed(reason, detail, permanent=True)


def check_webhook_target(url: str, allowed: tuple[str, ...]) -> None:
    """Raise `DeliveryFailed` (`refused_target`, not retried) when `url` names a loopback
    or link-local host not in `allowed` (agents.webhook_targets): a policy written to
    the topic directly was never checked by the API. Names resolving to such addresses
    are refused when connecting, by the session's `TargetResolver`."""
    refused = webhook_targets.refusal(url, allowed)
    if refused is not None:
        raise DeliveryFailed("refused_target", f"{refused}; {webhook_targets.RULE}", permanent=True)


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


# channel name -> how the notifier builds it; a channel a policy names that is not here
# (email without an SMTP host) is dead-lettered as `not_configured`.
def _email(settings: NotifySettings, session: aiohttp.ClientSession) -> Channel | None:
    return EmailChannel(settings) if settings.email_enabled else None


CHANNEL_FACTORIES: dict[str, Callable[[NotifySettings, aiohttp.ClientSession], Channel | None]] = {
    EMAIL: _email,
    WEBHOOK: WebhookChannel,
    "apprise": lambda settings, _session: AppriseChannel(settings),
}


def build_channels(settings: NotifySettings, session: aiohttp.ClientSession) -> dict[str, Channel]:
    built = {name: factory(settings, session) for name, factory in CHANNEL_FACTORIES.items()}
    return {name: channel for name, channel in built.items() if channel is not None}
