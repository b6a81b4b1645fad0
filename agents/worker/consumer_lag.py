"""Consumer lag of the input partitions a worker holds, from Faust's consumer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.kafka.topics import INPUTS

__all__ = ["consumer_lags"]


def consumer_lags(app: Any, topic_index: Mapping[str, int]) -> dict[tuple[str, int], int]:
    """(input topic, partition) -> records between the committed offset and the end of
    the partition (the lag `kafka-consumer-groups.sh` shows), for the partitions `app`
    holds; `topic_index` maps the full input topic names to their index in `INPUTS`."""
    consumer = app.consumer
    lags: dict[tuple[str, int], int] = {}
    for tp in app.assignor.assigned_actives():
        topic = topic_index.get(tp.topic)
        if topic is None:
            continue
        try:
            end = consumer.highwater(tp)
        except AssertionError:  # revoked since the assignment was read
            continue
        if end is None:  # nothing fetched from it yet
            continue
        # Faust keeps the offsets it committed (the next to read) only privately.
        committed = consumer._committed_offset.get(tp) or 0
        lags[(INPUTS[topic], tp.partition)] = max(0, int(end) - int(committed))
    return lags
