"""The retry schedule: exponential ceilings, a uniform draw below them, Retry-After
obeyed (in seconds or as an HTTP date)."""

from __future__ import annotations

import email.utils
import time

import pytest

from agents.notify.channels.http import parse_retry_after
from agents.notify.retry import backoff_ceiling, retry_delay


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (9, 256.0), (10, 300.0)]
)
def test_the_ceiling_doubles_per_attempt_up_to_the_cap(attempt: int, ceiling: float) -> None:
    assert backoff_ceiling(attempt, base=1.0, cap=300.0) == ceiling


def test_the_ceiling_stays_finite_however_many_attempts() -> None:
    assert backoff_ceiling(10_000, base=1.0, cap=300.0) == 300.0


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        backoff_ceiling(0, base=1.0, cap=10.0)


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.999])
def test_the_delay_is_the_draw_times_the_ceiling(draw: float) -> None:
    assert retry_delay(4, base=0.5, cap=60.0, draw=draw) == pytest.approx(draw * 4.0)


def test_a_retry_after_longer_than_the_draw_is_obeyed_up_to_the_cap() -> None:
    assert retry_delay(1, base=1.0, cap=300.0, draw=0.5, retry_after=30.0) == 30.0
    assert retry_delay(1, base=1.0, cap=300.0, draw=0.5, retry_after=3600.0) == 300.0
    assert retry_delay(3, base=1.0, cap=300.0, draw=0.9, retry_after=0.1) == pytest.approx(3.6)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("", None), ("120", 120.0), ("-3", 0.0), ("soon", None)],
)
def test_retry_after_is_read_in_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    later = email.utils.formatdate(time.time() + 60, usegmt=True)
    waited = parse_retry_after(later)
    assert waited is not None and 55 <= waited <= 61
