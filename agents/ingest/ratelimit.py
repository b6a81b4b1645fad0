"""A token bucket per ingest token: pure, the time is passed in."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["RateLimiter"]


@dataclass(slots=True)
class _Bucket:
    level: float
    at: float


class RateLimiter:
    """`rate` requests a second per key, `burst` at once. A key's bucket starts full."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, now: float) -> float:
        """0 when the request may go ahead (and counts), else the seconds until it may."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        elapsed = max(0.0, now - bucket.at)
        bucket.level = min(float(self.burst), bucket.level + elapsed * self.rate)
        bucket.at = max(bucket.at, now)
        if bucket.level >= 1.0:
            bucket.level -= 1.0
            return 0.0
        return (1.0 - bucket.level) / self.rate

    @staticmethod
    def retry_after(wait: float) -> str:
        """The `Retry-After` header's value: whole seconds, at least 1."""
        return str(max(1, math.ceil(wait)))
