"""Keeps a Faust worker from losing records while it resumes its streams after a rebalance.

faust-streaming 0.15.3 drops records in two places when a rebalance (a worker's start
included) is over:

* `Recovery.on_recovery_completed` (faust/tables/recovery.py) resumes the stream
  partitions, seeks them to their committed offsets and then calls
  `app.flow_control.resume()`, which empties every agent's queue (channels are
  `clear_on_resume`), before it turns the consumer's flow on. But the flow is on already:
  recovery turned it on to read the changelogs. A record the fetcher queues for an agent
  after the seek is emptied away with the queue, while the consumer's read offset and
  aiokafka's position have moved past it: the worker never processes it, and its
  partition's next acknowledged record lets Faust commit past it too
  (`Consumer._new_offset` accepts one missing offset after the committed one).
* Records fetched while the flow is stopped are thrown away (`Consumer.getmany`), and
  Faust counts on a seek to the committed offsets to read them again. aiokafka's
  `seek_to_committed` leaves a partition without a committed offset where it is, so
  what the worker threw away there (a partition whose first records arrived while the
  group was down) is never read.

`hold_flow_while_streams_resume` stops the consumer's flow when Faust sends
`app.on_rebalance_complete`, right before it resumes the streams, so nothing is queued
until the seek and the queue clearing are done (Faust turns the flow on again itself at
the end); `ResumingConsumer` seeks the stream partitions without a committed offset back
to where the group starts reading them. Both were seen as a table count short by a record
produced while the worker was down (tests/integration/test_faust_table_recovery.py).

What a rebalance reads again is decided here too (docs/architecture.md §6):
`changelog_reads` says which assigned changelog partitions the `memory://` store must
read, and from where — none that it holds up to the changelog's end — and `indexes_kept`
which deadline indexes a worker keeps — those of partitions it kept and nobody else wrote.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import faust
from faust.transport.drivers.aiokafka import Consumer
from faust.types import TP

__all__ = [
    "ChangelogRead",
    "ResumingConsumer",
    "changelog_reads",
    "hold_flow_while_streams_resume",
    "indexes_kept",
]


class ResumingConsumer(Consumer):
    """Faust's aiokafka consumer whose seek to the committed offsets also rewinds the
    stream partitions that have none (with ``consumer_auto_offset_reset="earliest"``)."""

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed: Mapping[TP, int] = await super().seek_to_committed()
        if self.app.conf.consumer_auto_offset_reset == "earliest":
            # Changelog topics are read by recovery from offsets of its own and are not
            # acknowledged; only the streams' partitions go back.
            acks_enabled_for = self.app.topics.acks_enabled_for
            never_committed = [
                tp for tp, offset in committed.items() if not offset and acks_enabled_for(tp.topic)
            ]
            if never_committed:
                # An explicit offset, not aiokafka's `seek_to_beginning`: that leaves the
                # position unset until its fetcher resets it, and Faust reads positions.
                beginnings = await self._thread.earliest_offsets(*never_committed)
                await self._thread.seek_wait(dict(beginnings))
        return committed


def hold_flow_while_streams_resume(app: faust.App) -> None:
    """Stop `app`'s consumer flow when Faust starts resuming its streams after a rebalance."""

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def stop_flow_before_streams_resume(sender: Any, *args: Any, **kwargs: Any) -> None:
        sender.consumer.stop_flow()


# -- what a rebalance reads again -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangelogRead:
    """One changelog partition to read into the store after an assignment: the records
    after `start` (None: from the beginning) up to `last`, the offset before the
    partition's end when it was assigned."""

    start: int | None
    last: int


def changelog_reads(
    assigned: Iterable[TP], held: Mapping[TP, int], ends: Mapping[TP, int]
) -> dict[TP, ChangelogRead]:
    """The assigned changelog partitions the store must read, and from where.

    `held` is the offset up to which the store holds each partition (kept across the
    rebalance, or written by this worker since), `ends` each partition's end offset now.
    A partition held up to its end — this worker kept it, and no other worker wrote it
    meanwhile — is not read at all; one held in part is read from where it stops; one
    not held, from the beginning. An empty partition needs no read.
    """
    reads = {}
    for tp in assigned:
        last = ends[tp] - 1
        start = held.get(tp)
        if last < 0 or (start is not None and start >= last):
            continue
        reads[tp] = ChangelogRead(start, last)
    return reads


def indexes_kept(
    indexed_through: Mapping[int, int | None], held: Mapping[int, int | None]
) -> set[int]:
    """The partitions whose deadline index, built before a rebalance, still stands.

    `indexed_through` is the changelog offset each index reflects (the store's when it
    was built, moved on by this worker's own acknowledged writes), `held` the offset the
    store holds now that the rebalance's reads are done. Equal, nobody else wrote the
    partition in between: its index is the one that reading it again would build. A
    partition that was handed to another worker and came back (a worker that missed a
    generation) holds that worker's writes beyond: its index is built again.
    """
    return {p for p, through in indexed_through.items() if p in held and held[p] == through}
