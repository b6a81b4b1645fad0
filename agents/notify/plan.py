"""Who gets an alert, and the identity of each delivery. Pure: no I/O.

A delivery is identified by (alert id, channel, recipient): that triple is what the
notifier remembers as delivered, so a replayed or duplicated alert record reaches
each recipient once, and a recipient added to a policy later still gets new alerts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from schemas.models import Alert, OrgPolicy
from schemas.recipients import same_target

__all__ = [
    "Delivery",
    "Item",
    "Target",
    "delivery_key",
    "message_id",
    "recipient_digest",
    "targets_for",
]


@dataclass(frozen=True, slots=True)
class Target:
    channel: str
    recipient: str


@dataclass(frozen=True, slots=True)
class Item:
    """One alert record as read: the decoded alert, its exact bytes, where it was read."""

    alert: Alert
    raw: bytes
    topic: str
    partition: int
    offset: int


@dataclass(slots=True)
class Delivery:
    """One message to one recipient on one channel: an alert, or a digest of several.

    `waiters` are the (partition, offset, epoch) of the records that wait for this
    delivery before their offset may be committed: normally the record of each item,
    plus any duplicate of them read while this delivery was still under way.
    """

    channel: str
    recipient: str
    # Deliveries of one lane go out one after the other, in order: a device's alerts
    # on one channel to one recipient never overtake each other.
    lane: str
    items: tuple[Item, ...]
    digest_org: str | None = None
    waiters: list[tuple[int, int, int]] = field(default_factory=list)
    # An attempt is under way (a server may be accepting it right now).
    attempting: bool = False
    # Its partition moved to another notifier before an attempt began: that one reads
    # the record again and delivers it; this one drops it.
    dropped: bool = False
    settled: bool = False

    @property
    def partition(self) -> int:
        return self.items[0].partition

    @property
    def keys(self) -> list[bytes]:
        return [delivery_key(i.alert.alert_id, self.channel, self.recipient) for i in self.items]


def recipient_digest(recipient: str) -> str:
    # Webhook URLs often carry a token in their path: keys hold a hash, never the URL.
    return hashlib.sha256(recipient.encode()).hexdigest()[:16]


def delivery_key(alert_id: str, channel: str, recipient: str) -> bytes:
    return f"{alert_id}:{channel}:{recipient_digest(recipient)}".encode()


def message_id(alert_ids: Sequence[str], recipient: str, domain: str) -> str:
    """A Message-ID fixed by what is sent and to whom.

    Should a crash land between the mail server's acceptance and the notifier
    recording it, the re-sent copy carries the same Message-ID, which mail systems
    use to recognize duplicates.
    """
    basis = "\n".join(sorted(alert_ids)) + "\n" + recipient
    return f"<{hashlib.sha256(basis.encode()).hexdigest()[:32]}@{domain}>"


def targets_for(policy: OrgPolicy | None, defaults: Mapping[str, Sequence[str]]) -> list[Target]:
    """The org policy's recipients; the notifier's `defaults` of a channel when the
    policy names none of that channel (or the org has no policy). Targets reaching the
    same recipient (as their channel tells: addresses differing only by case) are one.
    """
    named = [Target(r.channel, r.target) for r in policy.recipients] if policy else []
    targets = list(named)
    for channel, recipients in defaults.items():
        if not any(t.channel == channel for t in named):
            targets += [Target(channel, recipient) for recipient in recipients]
    unique: dict[tuple[str, str], Target] = {}
    for target in targets:
        unique.setdefault((target.channel, same_target(target.channel, target.recipient)), target)
    return list(unique.values())
