"""The email channel: one message per alert (or per digest) over SMTP (aiosmtplib).

A target is an address. Each message's Message-ID is fixed by what is sent and to whom
(`plan.message_id`), so a copy re-sent after a crash can be recognized as a repeat.
"""

from __future__ import annotations

import email.utils
import re
from email.message import EmailMessage
from email.policy import SMTP
from typing import TYPE_CHECKING

import aiosmtplib

from agents.notify.channels.base import Channel
from agents.notify.errors import DeliveryFailed
from agents.notify.plan import Delivery, message_id
from agents.notify.render import EmailContent, render_alert, render_digest
from schemas.recipients import TargetSyntax, is_email_address

if TYPE_CHECKING:
    from agents.notify.settings import NotifySettings

__all__ = ["CHANNEL", "EMAIL", "EmailChannel", "build_email"]

EMAIL = "email"
# SMTP replies that mean our login is wrong: the operator fixes it, the mail waits.
_AUTH_CODES = (530, 534, 535, 538)
_UNFOLDED = SMTP.clone(max_line_length=998)
# The subject carries what devices report about themselves (hostname, destination
# names): a line break there would end the header, and the library refuses it.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


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
    slots = 4

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

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


CHANNEL = Channel(
    # Addresses differ only by case in their domain part more often than not; a
    # case-insensitive match keeps one person from getting two copies.
    TargetSyntax(EMAIL, "an email address", is_email_address, same=str.lower),
    lambda settings, _session: EmailChannel(settings) if settings.email_enabled else None,
    defaults=lambda settings: settings.emails,
    unconfigured="BACKUPWATCH_NOTIFY_SMTP_HOST is empty",
)
