"""The fleet simulator: realistic telemetry with injected faults, in simulated time.

`fleet` is pure (the devices, their faults, their events, and the ground truth the
core decides for them); `producer` writes a fleet's events and ticks to Kafka.
"""

from agents.simulator.fleet import (
    EXPECTATIONS,
    FAULTS,
    HEALTHY,
    MINIMUM_APP_VERSION,
    USER_FACT_EXPECTATIONS,
    USER_FAULTS,
    Expectation,
    Fleet,
    Outcome,
    SimDevice,
    SimEvent,
    outcomes,
    reference_run,
    tick_times,
)

__all__ = [
    "EXPECTATIONS",
    "FAULTS",
    "HEALTHY",
    "MINIMUM_APP_VERSION",
    "USER_FACT_EXPECTATIONS",
    "USER_FAULTS",
    "Expectation",
    "Fleet",
    "Outcome",
    "SimDevice",
    "SimEvent",
    "outcomes",
    "reference_run",
    "tick_times",
]
