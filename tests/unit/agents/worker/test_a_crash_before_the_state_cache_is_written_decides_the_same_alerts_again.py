"""A worker that crashes after a batch's alerts were acknowledged but before the state
cache was written at the commit reads on from the committed offsets and decides the same
alerts again (the same ids): none is lost, and the store ends as one uninterrupted run
leaves it (docs/architecture.md §5)."""

from __future__ import annotations

from collections import Counter

import pytest

from agents.worker.cache import StateCache
from schemas.models import Alert
from streams.pipeline import Envelope, PartitionProcessor
from tests.unit.factories import DAY, T0
from tests.unit.streams.test_partition_processor import PARTITIONS, Log, Worker, history

BATCH = 50
COMMIT_EVERY = 4  # batches between two commits
ENVELOPES = history(Log(), T0 + 5 * DAY)


class CachedWorker:
    """The agent's carrying out of a batch, with its state cache: alerts sent (and
    acknowledged), then the states put in the cache; a commit flushes the cache, then
    records how far the input was read."""

    def __init__(self) -> None:
        self.store: dict[int, dict[bytes, bytes]] = {p: {} for p in range(PARTITIONS)}
        self.sent: list[Alert] = []
        self.committed = 0  # envelopes read up to the last commit
        self.start()

    def start(self) -> None:
        """A fresh process: an empty cache, a new processor on the same store."""
        self.cache = StateCache(self._write_store, self._send_changelog)
        reference = Worker()  # for its partitioner and policies
        self.processor = PartitionProcessor(
            PARTITIONS,
            load=self._load,
            items_of=lambda p: [(k.decode(), v) for k, v in self.store[p].items()],
            partition_for=reference.partition_for,
            policy_for=reference.policy_for,
            user_facts_for=reference.user_facts_for,
        )

    def _load(self, key: str, partition: int) -> bytes | None:
        pending = self.cache.get(partition, key.encode())
        return pending if pending is not None else self.store[partition].get(key.encode())

    def _write_store(self, partition: int, items: list[tuple[bytes, bytes]]) -> None:
        self.store[partition].update(items)

    async def _send_changelog(self, partition: int, items: list[tuple[bytes, bytes]]) -> None:
        return None

    async def run(self, envelopes: list[Envelope], start: int, crash_after: int | None) -> None:
        """Read `envelopes` from `start`; crash (lose the cache) once `crash_after`
        batches were carried out, whatever was committed by then."""
        batches = 0
        for at in range(start, len(envelopes), BATCH):
            result = self.processor.process(envelopes[at : at + BATCH])
            self.sent.extend(result.alerts)  # acknowledged
            self.cache.put(result.writes, result.homes)
            batches += 1
            if crash_after is not None and batches == crash_after:
                return  # killed: the cache and the processor are gone
            if batches % COMMIT_EVERY == 0:
                await self.cache.flush()
                self.committed = at + BATCH
        await self.cache.flush()
        self.committed = len(envelopes)


@pytest.fixture(scope="module")
def uninterrupted() -> tuple[list[Alert], dict[int, dict[bytes, bytes]]]:
    worker = Worker()
    results = worker.run(ENVELOPES, BATCH)
    alerts = [alert for result in results for alert in result.alerts]
    assert {a.transition for a in alerts} >= {"opened", "resolved"}
    store = {p: {k.encode(): v for k, v in data.items()} for p, data in worker.store.items()}
    return alerts, store


@pytest.mark.parametrize("crash_after", [1, COMMIT_EVERY - 1, COMMIT_EVERY + 2, 30, 61])
async def test_the_alerts_of_the_lost_cache_are_decided_again_and_none_is_lost(
    uninterrupted: tuple[list[Alert], dict[int, dict[bytes, bytes]]], crash_after: int
) -> None:
    alerts, store = uninterrupted
    worker = CachedWorker()
    await worker.run(ENVELOPES, 0, crash_after)
    assert worker.committed < crash_after * BATCH  # states were lost with the cache
    before = list(worker.sent)

    worker.start()
    await worker.run(ENVELOPES, worker.committed, None)

    assert set(a.alert_id for a in worker.sent) == set(a.alert_id for a in alerts)
    # What was sent after the last commit is sent again, and nothing else is.
    again = Counter(a.alert_id for a in worker.sent) - Counter(a.alert_id for a in alerts)
    assert set(again) <= {a.alert_id for a in before}
    assert worker.store == store


async def test_without_a_crash_the_cache_writes_what_writing_every_batch_writes(
    uninterrupted: tuple[list[Alert], dict[int, dict[bytes, bytes]]],
) -> None:
    alerts, store = uninterrupted
    worker = CachedWorker()
    await worker.run(ENVELOPES, 0, None)

    assert [a.alert_id for a in worker.sent] == [a.alert_id for a in alerts]
    assert worker.store == store
    assert worker.cache.flushed < worker.cache.puts  # coalesced between commits
