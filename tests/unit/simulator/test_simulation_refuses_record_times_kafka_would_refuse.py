"""A simulation that would end in the future is refused before anything is written.

Record timestamps are the simulated times, and Kafka refuses record times more than an
hour ahead of its clock: better no simulation than half of one.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from agents.settings import Settings
from agents.simulator import Fleet
from agents.simulator.producer import simulate

# No broker listens there: the refusal must come before any connection.
NOWHERE = Settings(bootstrap_servers="127.0.0.1:9")


def test_a_simulation_ending_in_the_future_is_refused() -> None:
    fleet = Fleet(5, seed=1, start=datetime.now(UTC) - timedelta(days=1))
    with pytest.raises(ValueError, match="in the future"):
        asyncio.run(simulate(NOWHERE, fleet, days=2))


@pytest.mark.parametrize(("days", "speed"), [(0, None), (1, 0.0)])
def test_a_simulation_needs_a_positive_length_and_speed(days: float, speed: float | None) -> None:
    fleet = Fleet(5, seed=1, start=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="must be positive"):
        asyncio.run(simulate(NOWHERE, fleet, days=days, speed=speed))
