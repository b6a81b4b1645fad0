"""When to try a failed delivery again. Pure: the random draw is passed in.

Exponential backoff with full jitter (a uniform draw in [0, min(cap, base·2^(n-1))]):
when a mail server comes back after an outage, the deliveries that piled up behind it
arrive spread over the interval instead of all at the same instant.
"""

from __future__ import annotations

__all__ = ["backoff_ceiling", "retry_delay"]


def backoff_ceiling(attempt: int, base: float, cap: float) -> float:
    """The longest wait after failed attempt number `attempt` (1-based)."""
    if attempt < 1:
        raise ValueError(f"attempts count from 1, got {attempt}")
    # 2**60 s is past any cap; stop doubling before the float grows without bound.
    return min(cap, base * 2.0 ** min(attempt - 1, 60))


def retry_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    draw: float,
    retry_after: float | None = None,
) -> float:
    """Seconds to wait after failed attempt `attempt`; `draw` is uniform in [0, 1).

    A server that says when to come back (HTTP `Retry-After`) is obeyed, up to `cap`.
    """
    delay = draw * backoff_ceiling(attempt, base, cap)
    if retry_after is not None and retry_after > delay:
        delay = min(cap, retry_after)
    return delay
