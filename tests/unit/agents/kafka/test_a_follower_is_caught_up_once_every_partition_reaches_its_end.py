"""`reached`: a follower is caught up once its position on every partition is at or past
the end offset that partition had (agents/kafka/follower.py)."""

from __future__ import annotations

import pytest

from agents.kafka.follower import reached

ENDS = {("t", 0): 3, ("t", 1): 0, ("t", 2): 5}


@pytest.mark.parametrize(
    ("read_to", "expected"),
    [
        ({("t", 0): 3, ("t", 1): 0, ("t", 2): 5}, True),
        # Past an end: records written since the follower started.
        ({("t", 0): 4, ("t", 2): 9}, True),
        ({("t", 0): 2, ("t", 1): 0, ("t", 2): 5}, False),
        ({("t", 0): 3, ("t", 1): 0, ("t", 2): 4}, False),
        # A partition never read is at 0: caught up only where its end is 0.
        ({("t", 0): 3}, False),
        ({}, False),
    ],
)
def test_caught_up_at_or_past_the_end_of_every_partition(
    read_to: dict[tuple[str, int], int], expected: bool
) -> None:
    assert reached(read_to, ENDS) is expected


def test_an_empty_topic_is_reached_at_once() -> None:
    assert reached({}, {("t", 0): 0, ("t", 1): 0})
    assert reached({}, {})


def test_a_partition_that_was_not_there_at_the_start_does_not_hold_it_back() -> None:
    # A partition added after the ends were taken is followed, but not waited for.
    assert reached({("t", 0): 3, ("t", 1): 0, ("t", 2): 5, ("t", 3): 0}, ENDS)
