"""The Faust app: topics, the device-state table, the processing agent, the ticker.

Kept thin on purpose: the agent reads a batch, hands it to the pure
`streams.pipeline.PartitionProcessor`, and carries out the result in the order that
makes a crash safe (docs/architecture.md §5):

1. send the batch's alerts and device statuses and wait until the broker has
   acknowledged them;
2. send its dead letters and re-routed records and wait for them too (a record parked
   in a state and dead-lettered when its tick came is held by nothing else once the
   state without it is written);
3. only then hand the changed device states to the state cache
   (agents.worker.cache), which writes them — store, then changelog — at the next
   commit of the input offsets, a state changed by several batches once (the state is
   what records that an alert was decided and its status published; written after the
   acks, a crash in between makes the worker decide and send them again, never lose
   them: a replayed record is recognised by the state and decides nothing).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import faust
from aiokafka.partitioner import murmur2
from faust.streams import _current_event
from faust.types import TP
from msgspec.structs import replace

from agents.books.policies import PolicyBook
from agents.books.users import UserBook
from agents.kafka.topics import ALERTS, DEAD_LETTERS, DEVICE_STATUS, INPUTS
from agents.metrics import WorkerMetrics
from agents.report.reader import ReportReader
from agents.settings import Settings
from agents.worker.cache import StateCache
from agents.worker.consumer_lag import consumer_lags
from agents.worker.intake import bulk_consumer_class
from agents.worker.resume import hold_flow_while_streams_resume, indexes_kept
from agents.worker.store import PartitionMemoryStore, PartitionStoreTable
from agents.worker.ticks import encode_tick, is_tick
from schemas.codec import encode
from streams.pipeline import BatchResult, Envelope, PartitionProcessor

__all__ = ["Backupwatch", "create_app"]

log = logging.getLogger(__name__)

TABLE = "device-state"


class Backupwatch:
    """One worker: the Faust app and what its agent needs."""

    def __init__(self, settings: Settings, metrics: WorkerMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or WorkerMetrics()
        self.app = settings.kafka.faust_app(
            settings.app_id,
            store=settings.store,
            datadir=str(settings.data_dir),
            topic_partitions=settings.partitions,
            topic_replication_factor=settings.replication_factor,
            # A Kafka user that may not create topics: the ones an admin made are checked
            # at start (agents.kafka.topics.check_topics), never declared.
            topic_allow_declare=settings.create_topics,
            web_enabled=True,
            web_bind=settings.web_host,
            web_port=settings.web_port,
            web_host=settings.web_host,
            # Throughput: many records per fetch, producer batches instead of one
            # request per record.
            broker_max_poll_records=settings.batch_size,
            stream_buffer_maxsize=4 * settings.batch_size,
            producer_linger=0.005,
            producer_max_batch_size=1024 * 1024,
            producer_acks=-1,
            broker_commit_interval=1.0,
            # No standby copies with `memory://`: its store reads a newly assigned
            # partition from the changelog in bulk (agents.worker.store), while a standby
            # copy is kept up through Faust's recovery, record by record — in a pair of
            # workers that was most of each one's CPU, and each worker held the whole
            # fleet's states (docs/benchmarks.md). RocksDB keeps Faust's default (one
            # standby): its take-over replays through Faust's recovery.
            table_standby_replicas=0 if settings.store.startswith("memory") else 1,
            # A worker that dies is noticed within 10 s and its partitions move on
            # (Faust's default waits a minute).
            broker_session_timeout=10.0,
            broker_heartbeat_interval=3.0,
            consumer_auto_offset_reset="earliest",
            logging_config=None,
        )
        # Faust pauses every stream once more than 100 changelog writes wait in its
        # producer buffer; a batch writes up to `batch_size` states.
        self.app.producer.buffer.max_messages = 4 * settings.batch_size
        topic_names = [settings.topic(name) for name in INPUTS]
        self.topic_index = {name: i for i, name in enumerate(topic_names)}
        # The input topics' records reach `handle_records` in bulk from the consumer's
        # fetcher (agents.worker.intake), not one by one through Faust's conductor and stream.
        transport: Any = self.app.transport
        # Its commits write the state cache first (agents.worker.cache).
        transport.Consumer = bulk_consumer_class(
            frozenset(topic_names),
            self.handle_records,
            self.flush_states,
            self._assignment_timed,
        )
        # Nothing is read while Faust seeks the resumed partitions after a rebalance
        # (agents.worker.resume): the bulk intake is not queued, so Faust's queue clearing loses
        # none of its records, but it would hand over records the seek then reads again;
        # anything on Faust's own per-record path would be lost.
        hold_flow_while_streams_resume(self.app)
        self.inputs = self.app.topic(
            *topic_names,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
        )
        # With `memory://`, a store of bytes per partition that recovers in bulk
        # (agents.worker.store); with `rocksdb://`, Faust's own.
        self.table: PartitionStoreTable = PartitionStoreTable(
            self.app,
            name=TABLE,
            default=None,
            beacon=self.app.tables.beacon,
            key_type=bytes,
            value_type=bytes,
            partitions=settings.partitions,
            recovery_buffer_size=10_000,
        )
        self.app.tables.add(self.table)
        # A table takes its serializers from its key and value types only (json unless
        # they are Records), for writes and for recovery alike: keys and values here are
        # already bytes (a device id, an encoded DeviceState), so pass them through.
        for attribute in ("key_serializer", "value_serializer"):
            setattr(self.table, attribute, "raw")
        self.policies = PolicyBook(settings, on_change=self._on_policy_change, metrics=self.metrics)
        self.users = UserBook(settings, on_change=self._on_user_facts_change, metrics=self.metrics)
        self.processor = PartitionProcessor(
            settings.partitions,
            load=self._load,
            items_of=self._items_of,
            partition_for=self.partition_for,
            policy_for=self.policies.policy_for,
            user_facts_for=self.users.facts_for,
            stopwatch=time.perf_counter,
        )
        # A stand-in for Faust's current event per partition of the batch at hand: the
        # RocksDB store picks a partition's database from the current event.
        self._marks: dict[int, _InPartition] = {}
        self._stored_by_partition: dict[int, list[str]] | None = None
        # The states decided since the last commit, written before the next one.
        self.states = StateCache(self._write_store, self._send_changelog)
        self._store_bound = False
        self._store_get: Any = None
        self._store_put: Any = None
        # The memory store's dict per partition (None with RocksDB).
        self._partition_data: Any = None
        # The changelog offset each indexed partition's deadline index reflects: the
        # store's when it was built, moved on by this worker's acknowledged writes. After
        # a rebalance a kept partition's index is used again only if the store holds
        # nothing beyond it (`_index_current`, docs/architecture.md §6).
        self._indexed_through: dict[int, int | None] = {}
        # Indexed partitions kept by the latest assignment, not checked yet.
        self._kept: set[int] = set()
        self._partitions_read = 0
        # The report reader beside the worker (agents.report.reader), once its web views are
        # attached: its unexpected errors are counted among the worker's metrics.
        self.report_reader: ReportReader | None = None
        self._wire()

    # -- partitioning and the table -----------------------------------------------

    def partition_for(self, key: bytes) -> int:
        """The producers' default partitioner (murmur2, as the Java client)."""
        return int(murmur2(key) & 0x7FFFFFFF) % self.settings.partitions

    def _in_partition(self, partition: int) -> Any:
        mark = self._marks.get(partition)
        if mark is None:
            mark = self._marks[partition] = _InPartition(partition)
        stand_in: Any = mark
        return _current_event.set(weakref.ref(stand_in))

    def _bind_store(self) -> None:
        """Read and write the table's store directly, bytes in and out.

        Keys and values are already bytes (raw serializers), so Faust's per-key codec
        calls and its `Table.__setitem__` (which queues one changelog message per key
        in its producer buffer) are skipped; the changelog is written by `_write` in
        one pass per batch. The memory store (agents.worker.store) is a dict of bytes per
        partition; the RocksDB store's `_get`/`_set` take bytes and pick the
        partition's database from the current event, as they do under `Table`.
        """
        store: Any = self.table.data
        if isinstance(store, PartitionMemoryStore):
            self._partition_data = store.partition
        else:
            self._store_get, self._store_put = store._get, store._set
        self._store_bound = True

    def _load(self, key: str, partition: int) -> bytes | None:
        raw = key.encode()
        pending = self.states.get(partition, raw)
        if pending is not None:
            return pending
        if not self._store_bound:
            self._bind_store()
        if self._partition_data is not None:
            return self._partition_data(partition).get(raw)  # type: ignore[no-any-return]
        token = self._in_partition(partition)
        try:
            value = self._store_get(raw)
        finally:
            _current_event.reset(token)
        return value if isinstance(value, bytes) else None

    def _items_of(self, partition: int) -> Iterable[tuple[str, bytes]]:
        """The stored (key, value) pairs of one partition, the states pending in the
        state cache included.

        The memory store holds each partition apart. The RocksDB store lists the keys
        of every partition it holds, standby copies of other workers' partitions
        included, so its keys are grouped by the partitioner once per assignment and
        reused for each partition.
        """
        if not self._store_bound:
            self._bind_store()
        pending = dict(self.states.pending(partition))
        if self._partition_data is not None:
            for raw, value in list(self._partition_data(partition).items()):
                key = self._stored_key(raw)
                if key is not None:
                    yield key, pending.pop(raw, value)
            for raw, value in pending.items():
                yield raw.decode(), value
            return
        for raw, value in pending.items():
            yield raw.decode(), value
        if self._stored_by_partition is None:
            grouped: dict[int, list[str]] = defaultdict(list)
            for raw in list(self.table.keys()):
                key = self._stored_key(raw) if isinstance(raw, bytes) else str(raw)
                if key is not None:
                    grouped[self.partition_for(key.encode())].append(key)
            self._stored_by_partition = dict(grouped)
        for key in self._stored_by_partition.get(partition, ()):
            if key.encode() in pending:
                continue
            value = self._load(key, partition)
            if value is not None:
                yield key, value

    def _stored_key(self, raw: bytes) -> str | None:
        """A stored key as the processor knows keys (device ids, clock keys); None for
        one that is not UTF-8, which no record of the worker's wrote: a record a
        producer put on the changelog, left out (and counted) rather than stopping the
        indexing of the partition at every start."""
        try:
            return raw.decode()
        except UnicodeDecodeError:
            self.metrics.unexpected_errors.labels("stored_state").inc()
            log.error("a stored key is not UTF-8 (%r): left out", raw[:64])
            return None

    # -- the agent ------------------------------------------------------------------

    def _wire(self) -> None:
        app = self.app
        settings = self.settings

        @app.agent(self.inputs, name="process")
        async def process(stream: Any) -> None:
            # `take_events` (not in Faust's StreamT interface) hands over whole batches
            # with their messages: topic, partition, offset and headers are needed.
            # Only what bypasses the bulk intake (agents.worker.intake) arrives here.
            async for events in stream.take_events(settings.batch_size, within=0.05):
                await self.handle_messages([event.message for event in events])

        if settings.tick_interval.total_seconds() > 0:

            @app.timer(settings.tick_interval.total_seconds(), name="ticker")
            async def ticker() -> None:
                await self.send_ticks(datetime.now(UTC))

        @app.task
        async def read_policies() -> None:
            await self.policies.run()

        @app.task
        async def read_user_facts() -> None:
            await self.users.run()

        @app.timer(5.0, name="gauges")
        async def gauges() -> None:
            self.index_assigned()
            self.update_gauges()

        @app.on_partitions_revoked.connect  # type: ignore[arg-type]
        async def on_revoked(app: faust.App, revoked: Any, **kwargs: Any) -> None:
            # Faust committed what it could before this signal, which flushed the state
            # cache; whatever a batch left in it since is written now, before the new
            # owners read the changelog (written later, a state of a partition handed
            # over would land after the new owner's).
            await self.flush_states()

        @app.on_partitions_assigned.connect  # type: ignore[arg-type]
        async def on_assigned(app: faust.App, assigned: Any, **kwargs: Any) -> None:
            self.assigned(tp.partition for tp in assigned if tp.topic == self.heartbeats)

    def envelopes(self, messages: Iterable[Any], per_second: float = 1.0) -> Iterator[Envelope]:
        """Envelopes of Faust's messages (timestamps in seconds) or of aiokafka's records
        (`per_second=1000`: timestamps in milliseconds)."""
        topic_index = self.topic_index
        fromtimestamp = datetime.fromtimestamp
        for message in messages:
            topic = topic_index.get(message.topic)
            if topic is None:  # pragma: no cover - only the inputs come here
                continue
            value = message.value
            yield Envelope(
                topic=topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key,
                value=value if isinstance(value, bytes) else b"",
                timestamp=fromtimestamp((message.timestamp or 0) / per_second, UTC),
                tick=is_tick(message.headers),
            )

    async def handle_records(self, records: list[Any]) -> None:
        """Process one batch of input records as the bulk intake hands them over
        (aiokafka's `ConsumerRecord`s) and carry it out."""
        await self._handle(list(self.envelopes(records, per_second=1000.0)))

    async def handle_messages(self, messages: list[Any]) -> None:
        """Process one batch of input records (Faust `Message`s) and carry it out."""
        await self._handle(list(self.envelopes(messages)))

    async def _handle(self, envelopes: list[Envelope]) -> None:
        """Process one batch of input records and carry it out.

        A tick that makes much of the fleet due is carried out in slices of
        `decisions_per_result` devices, each sent and written before the next is
        decided: one result for the whole fleet would hold every decided state, status
        and write at once (about 3 KB per device, docs/benchmarks.md)."""
        started = time.perf_counter()
        partitions = {e.partition for e in envelopes}
        if self.reading:
            # A partition just assigned whose state the store is still reading: its
            # records wait here, in the worker's own task, rather than be decided on an
            # empty state (agents/worker/store.py, "After an assignment").
            store: Any = self.table.data
            await store.wait_read(partitions)
        for partition in partitions:
            self._index_current(partition)
        if not self.users.loaded.is_set() or any(e.tick for e in envelopes):
            # Decisions need every user fact written before their ticks: decided before
            # it is read, a device of a user on leave would alert as if the leave were
            # not there (docs/architecture.md §7).
            await self.users.caught_up()
        while envelopes:
            result = self.processor.process(envelopes, self.settings.decisions_per_result)
            await self._send_decisions(result)
            await self._send_side_outputs(result)
            self.states.put(result.writes, result.homes)
            if self.states.full:
                await self.flush_states()
            self._count(result, len(envelopes) - len(result.rest), time.perf_counter() - started)
            envelopes, started = result.rest, time.perf_counter()

    async def _send_decisions(self, result: BatchResult) -> None:
        """Send the alerts and statuses; return once the broker acknowledged them all."""
        if not result.alerts and not result.statuses:
            return
        # Keyed by device id on topics partitioned like the inputs, so each goes to its
        # device's home partition (what the producer's partitioner would pick), as one
        # record batch per topic and partition.
        by_partition: dict[tuple[str, int], list[tuple[bytes, bytes]]] = defaultdict(list)
        homes = result.homes
        now = datetime.now(UTC)
        alerts_topic = self.settings.topic(ALERTS)
        for alert in result.alerts:
            key = alert.device_id.encode()
            home = homes.get(alert.device_id)
            partition = home if home is not None else self.partition_for(key)
            by_partition[(alerts_topic, partition)].append(
                (key, encode(replace(alert, emitted_at=now)))
            )
        status_topic = self.settings.topic(DEVICE_STATUS)
        for status in result.statuses:
            key = status.device_id.encode()
            home = homes.get(status.device_id)
            partition = home if home is not None else self.partition_for(key)
            by_partition[(status_topic, partition)].append((key, encode(status)))
        pending: list[Any] = []
        for (topic, partition), items in by_partition.items():
            sent, _ = await self._send_records(topic, partition, items)
            pending.extend(sent)
        # The states recording these decisions are written only after this returns.
        await asyncio.gather(*pending)

    async def _send_records(
        self, topic: str, partition: int, items: list[tuple[bytes, bytes]]
    ) -> tuple[list[Any], int]:
        """Send `items` to one partition as aiokafka record batches (one unless they
        exceed a batch): a fraction of the cost of a `send` per record. Returns the
        batches' futures and how many records the last batch holds (its metadata
        carries the offset of its first record)."""
        faust_producer: Any = self.app.producer
        producer: Any = faust_producer._ensure_producer()
        sent: list[Any] = []
        batch = producer.create_batch()
        count = 0
        for key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is None:
                sent.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                count = 0
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise ValueError(f"a record of {len(value):,} bytes exceeds a batch")
            count += 1
        sent.append(await producer.send_batch(batch, topic, partition=partition))
        return sent, count

    async def flush_states(self) -> None:
        """Write the states waiting in the state cache (agents.worker.cache): called by
        the consumer before it commits offsets, and when the cache is full."""
        written = await self.states.flush()
        if written:
            self.metrics.state_writes.inc(written)

    def _write_store(self, partition: int, items: list[tuple[bytes, bytes]]) -> None:
        """Put a partition's states in the store, bytes as they are."""
        if not self._store_bound:
            self._bind_store()
        if self._partition_data is not None:
            self._partition_data(partition).update(items)
            return
        put = self._store_put
        token = self._in_partition(partition)
        try:
            for key, value in items:
                put(key, value)
        finally:
            _current_event.reset(token)

    async def _send_changelog(self, partition: int, items: list[tuple[bytes, bytes]]) -> None:
        """Send a partition's states to the changelog; return once they are acknowledged.

        The changelog keeps Faust's layout (the table's topic, key = device id or clock
        key, value = the encoded state, on the partition the state belongs to), so
        recovery and every other reader of the changelog are unchanged. The records go
        straight to the producer as record batches rather than one by one through
        Faust's producer buffer.
        """
        changelog = self.table.changelog_topic.get_topic_name()
        sent, count = await self._send_records(changelog, partition, items)
        sent[-1].add_done_callback(self._persisted(TP(changelog, partition), count))
        await asyncio.gather(*sent)

    def _persisted(self, tp: TP, count: int) -> Any:
        """Record the changelog offset a store holds once its last batch of `count`
        records is acked (Faust's table does it per record): RocksDB resumes recovery
        from there."""

        store: Any = self.table.data

        def done(sent: asyncio.Future[Any]) -> None:
            if not sent.cancelled() and sent.exception() is None:
                # A batch's metadata carries its first record's offset.
                offset = sent.result().offset + count - 1
                store.set_persisted_offset(tp, offset)
                indexed = self._indexed_through
                if tp.partition in indexed:
                    through = indexed[tp.partition]
                    if through is None or offset > through:
                        # This worker's own write: its index holds it already.
                        indexed[tp.partition] = offset

        return done

    async def _send_side_outputs(self, result: BatchResult) -> None:
        """Send the dead letters and re-routed records; return once they are acknowledged."""
        producer = self.app.producer
        pending: list[Any] = []
        settings = self.settings
        dead_topic = settings.topic(DEAD_LETTERS)
        topic_names = list(self.topic_index)
        for letter in result.dead_letters:
            env = letter.envelope
            headers = [
                ("reason", letter.reason.encode()),
                ("error", letter.message.encode()[:4096]),
                ("source-topic", topic_names[env.topic].encode()),
                ("source-partition", str(env.partition).encode()),
                ("source-offset", str(env.offset).encode()),
            ]
            if letter.exception:
                headers.append(("exception", letter.exception.encode()[:4096]))
            pending.append(await producer.send(dead_topic, env.key, env.value, None, None, headers))
        for reroute in result.reroutes:
            env = reroute.envelope
            pending.append(
                await producer.send(
                    topic_names[env.topic],
                    env.key,
                    env.value,
                    reroute.partition,
                    env.timestamp.timestamp(),
                    None,
                )
            )
        await asyncio.gather(*pending)

    async def send_ticks(self, at: datetime) -> None:
        """Append a tick standing for `at` to every partition of every input topic."""
        value, headers = encode_tick(at)
        producer = self.app.producer
        pending = []
        for topic in self.topic_index:
            for partition in range(self.settings.partitions):
                pending.append(
                    await producer.send(topic, None, value, partition, at.timestamp(), headers)
                )
        await asyncio.gather(*pending)
        self.metrics.ticks_sent.inc(len(pending))

    def _count(self, result: BatchResult, size: int, took: float) -> None:
        m = self.metrics
        names = list(INPUTS)
        for (topic, outcome), n in result.outcomes.items():
            m.events.labels(names[topic], outcome).inc(n)
        for reason, n in result.invalid.items():
            m.invalid.labels(reason).inc(n)
        if result.dead_letters:
            m.dead_letters.inc(len(result.dead_letters))
        if result.parked:
            m.parked.inc(result.parked)
        for stage, n in result.failures.items():
            m.unexpected_errors.labels(stage).inc(n)
        for (kind, transition), n in result.transitions.items():
            m.alerts.labels(kind, transition).inc(n)
        for tick in result.ticks:
            m.tick_devices.observe(tick.devices_advanced)
            m.tick_duration.observe(tick.seconds)
        m.batch_duration.observe(took)
        m.batch_size.observe(size)
        now = datetime.now(UTC)
        for event_time in result.event_times.values():
            m.event_lag.observe(max(0.0, (now - event_time).total_seconds()))

    def index_assigned(self) -> None:
        """Index the assigned input partitions that no record has touched yet.

        The agent builds a partition's index at its first record; a worker restarted
        with nothing new to read would otherwise know no clock and no deadline until
        the next tick. Only reads the table (timers must not write it), and only once
        recovery is complete — the first one (`completed`, which Faust never clears) and
        that of the latest rebalance (`actives_ready`) — and of each partition, once
        the memory store has read it (`unread`): an index built from part of a
        partition would miss devices.
        """
        tables: Any = self.app.tables
        if not (tables.recovery.completed.is_set() and tables.actives_ready):
            return
        for tp in self.app.assignor.assigned_actives():
            if tp.topic == self.heartbeats and not self.unread(tp.partition):
                self._index_current(tp.partition)
                self.processor.ensure(tp.partition)

    @property
    def heartbeats(self) -> str:
        return self.settings.topic(INPUTS[0])

    @property
    def reading(self) -> bool:
        """Whether the memory store is still reading a partition assigned to it."""
        store: Any = self.table.data
        return isinstance(store, PartitionMemoryStore) and store.reading

    def unread(self, partition: int) -> bool:
        """Whether `partition`'s state is still being read after its assignment."""
        store: Any = self.table.data
        return isinstance(store, PartitionMemoryStore) and store.unread(partition)

    # -- what a rebalance keeps ------------------------------------------------------

    def assigned(self, partitions: Iterable[int]) -> None:
        """After an assignment: forget the indexes of the partitions handed elsewhere;
        those of the partitions kept stand until `_index_current` checks them."""
        now = set(partitions)
        indexed = set(self.processor.clocks())
        gone = indexed - now
        for partition in gone:
            self._indexed_through.pop(partition, None)
        self._kept = indexed & now
        # Dropped right after the assignment callback rather than in it: freeing the
        # indexes of half a million devices takes a tenth of a second the group would
        # wait. No record of these partitions comes before: they are not ours.
        asyncio.get_running_loop().call_soon(self.processor.revoke, sorted(gone))
        self._stored_by_partition = None
        log.info(
            "assigned partitions %s; indexes kept %s, dropped %s",
            sorted(now) or "none",
            sorted(self._kept) or "none",
            sorted(gone) or "none",
        )

    def _index_current(self, partition: int) -> None:
        """Before a partition's records are taken (or it is indexed on a timer): a kept
        index whose partition another worker wrote meanwhile is dropped, to be built
        again from the store; a partition about to be indexed is counted, with the
        changelog offset its index will reflect."""
        kept = partition in self._kept
        if kept:
            self._kept.discard(partition)
            held = self._store_offset(partition)
            if indexes_kept(self._indexed_through, {partition: held}):
                return
            log.info(
                "partition %d was written by another worker meanwhile: indexed again", partition
            )
            self.processor.revoke([partition])
        elif partition in self._indexed_through:
            return
        self._indexed_through[partition] = self._store_offset(partition)
        self.metrics.partitions_indexed.inc()

    def _store_offset(self, partition: int) -> int | None:
        changelog = self.table.changelog_topic.get_topic_name()
        store: Any = self.table.data
        offset = store.persisted_offset(TP(changelog, partition))
        return int(offset) if offset is not None else None

    def update_gauges(self) -> None:
        m = self.metrics
        store: Any = self.table.data
        read = store.partitions_read if isinstance(store, PartitionMemoryStore) else 0
        if read > self._partitions_read:
            m.partitions_read.inc(read - self._partitions_read)
            self._partitions_read = read
        if self.report_reader is not None:
            for topic, n in self.report_reader.new_unexpected_errors().items():
                m.report_errors.labels(topic).inc(n)
        m.observe_clocks(self.processor.clocks(), datetime.now(UTC))
        m.observe_device_counts(self.processor.device_counts())
        m.devices_indexed.set(self.processor.devices_indexed())
        m.observe_consumer_lag(consumer_lags(self.app, self.topic_index))

    def _assignment_timed(self, seconds: float, partitions: int) -> None:
        self.metrics.assignment_duration.observe(seconds)

    def _on_policy_change(self, org_id: str) -> None:
        self.processor.policy_changed(org_id)

    def _on_user_facts_change(self, user_id: str) -> None:
        self.processor.user_facts_changed(user_id)


class _InPartition:
    """What the RocksDB store reads of Faust's current event: `.message.partition`."""

    __slots__ = ("__weakref__", "message", "partition")

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self.message = self


def create_app(settings: Settings | None = None) -> Backupwatch:
    return Backupwatch(settings or Settings.from_env())
