"""Digest mode: one email per org and recipient per interval. Pure: `now` is passed in.

Intervals are aligned to the clock (an hourly digest goes out at the top of the
hour), so every notifier instance and every restart agrees on when one is due.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from agents.notify.plan import Item

__all__ = ["DigestBuffer", "next_digest_at"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def next_digest_at(now: datetime, minutes: int) -> datetime:
    """The first interval boundary strictly after `now`."""
    if minutes <= 0:
        raise ValueError("digests need an interval of at least a minute")
    step = timedelta(minutes=minutes)
    elapsed = now - _EPOCH
    return _EPOCH + (elapsed // step + 1) * step


@dataclass(slots=True)
class DigestBuffer:
    """The alerts waiting for the next digest, by (org, recipient), each once."""

    _groups: dict[tuple[str, str], dict[str, Item]] = field(default_factory=dict)

    def add(self, recipient: str, item: Item) -> bool:
        """Hold `item` for `recipient`; False when that alert is already held for them."""
        group = self._groups.setdefault((item.alert.org_id, recipient), {})
        if item.alert.alert_id in group:
            return False
        group[item.alert.alert_id] = item
        return True

    def __len__(self) -> int:
        return sum(len(group) for group in self._groups.values())

    def drop(self, partitions: set[int]) -> list[tuple[str, Item]]:
        """Let go of the alerts read from `partitions` (they moved to another notifier);
        returns them as (recipient, item)."""
        dropped = []
        for (org_id, recipient), held in list(self._groups.items()):
            for alert_id, item in list(held.items()):
                if item.partition in partitions:
                    dropped.append((recipient, item))
                    del held[alert_id]
            if not held:
                del self._groups[(org_id, recipient)]
        return dropped

    def take(self) -> list[tuple[str, str, tuple[Item, ...]]]:
        """Every group as (org, recipient, items in decision order); empties the buffer."""
        groups = []
        for (org_id, recipient), held in sorted(self._groups.items()):
            items = sorted(
                held.values(),
                key=lambda i: (i.alert.decided_at, i.alert.device_id, i.alert.alert_id),
            )
            groups.append((org_id, recipient, tuple(items)))
        self._groups.clear()
        return groups
