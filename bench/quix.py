"""The benchmark's Quix Streams runner: the worker's job with Quix Streams' stateful API
and its own RocksDB state (with its changelog topics), run in a process of its own by
`bench.pipeline`.

The three input topics are one `StreamingDataFrame` (`concat`, which aligns the
co-partitioned topics by timestamp); one stateful `apply` per record calls the core
for that record (`PartitionProcessor.process([envelope])`, so every runner takes the
same decisions) and returns the alerts and statuses to produce, which two branches send
with `to_topic`. Quix commits state, produced records and offsets together at each
checkpoint (at-least-once).

A record's `State` reaches only its own key. A tick decides every device of its
partition that is due, so the runner reads and writes those devices through the
partition transaction the `State` wraps (`State._transaction`, not public API), under
the same prefix (the device id) that `State` gives a record of that device.

Timed from the first record the function receives until every input record has been
processed and `Application.run` has returned (its last checkpoint committed), then the
group's committed offsets are checked against the end of every input partition.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import UTC, datetime
from typing import Any

from msgspec.structs import replace
from quixstreams import Application
from quixstreams.models.serializers import SerializationContext, Serializer
from quixstreams.state import State

from agents.kafka.topics import ALERTS, DEVICE_STATUS, INPUTS
from agents.settings import Settings
from agents.worker.ticks import TICK_HEADER
from bench.harness import committed_to_end, keyed_processor, memory_kb
from schemas.codec import encode
from streams.pipeline import Envelope
from streams.policy import Policy

__all__ = ["run_quix"]

STATE_KEY = "state"
ALERT, STATUS = 0, 1


class _ValueBytes(Serializer):
    """Outputs travel as (kind, key, value bytes); the value is the record."""

    def __call__(self, value: Any, ctx: SerializationContext) -> bytes:
        return bytes(value[2])


def run_quix(cfg: Any) -> dict[str, Any]:
    import asyncio

    settings = Settings(bootstrap_servers=cfg.bootstrap, topic_prefix=cfg.prefix)
    n = cfg.partitions
    app = Application(
        broker_address=cfg.bootstrap,
        consumer_group=cfg.group,
        auto_offset_reset="earliest",
        state_dir=cfg.state_dir,
        commit_interval=1.0,
        loglevel="WARNING",
    )
    names = [settings.topic(name) for name in INPUTS]
    topic_index = {name: i for i, name in enumerate(names)}
    inputs = [
        app.topic(name, key_deserializer="bytes", value_deserializer="bytes") for name in names
    ]
    alerts = app.topic(
        settings.topic(ALERTS), key_serializer="bytes", value_serializer=_ValueBytes()
    )
    statuses = app.topic(
        settings.topic(DEVICE_STATUS), key_serializer="bytes", value_serializer=_ValueBytes()
    )

    # The transaction of the record at hand (the partition's, in this checkpoint).
    current: list[Any] = [None]

    def load(key: str, partition: int) -> bytes | None:
        value = current[0].get_bytes(STATE_KEY, prefix=key.encode())
        return value if isinstance(value, bytes) else None

    processor = keyed_processor(n, load, Policy(max_skew=settings.max_skew))
    figures: dict[str, Any] = {"records": 0, "alerts": 0, "writes": 0, "statuses": 0}
    first: list[float] = []

    def step(
        value: bytes, key: bytes | None, timestamp: int, headers: Any, state: State
    ) -> list[tuple[int, bytes, bytes]]:
        if not first:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            first.extend([time.perf_counter(), usage.ru_utime + usage.ru_stime])
        from quixstreams import message_context

        ctx = message_context()
        transaction = state._transaction  # noqa: SLF001 - see the module's docstring
        current[0] = transaction
        envelope = Envelope(
            topic=topic_index[ctx.topic],
            partition=ctx.partition,
            offset=ctx.offset,
            key=key,
            value=value,
            timestamp=datetime.fromtimestamp(timestamp / 1000, UTC),
            tick=bool(headers) and any(h == TICK_HEADER for h, _ in headers),
        )
        result = processor.process([envelope])
        for device_id, encoded in result.writes.items():
            transaction.set_bytes(STATE_KEY, encoded, prefix=device_id.encode())
        now = datetime.now(UTC)
        out: list[tuple[int, bytes, bytes]] = [
            (ALERT, a.device_id.encode(), encode(replace(a, emitted_at=now))) for a in result.alerts
        ]
        out.extend((STATUS, s.device_id.encode(), encode(s)) for s in result.statuses)
        figures["records"] += 1
        figures["alerts"] += len(result.alerts)
        figures["writes"] += len(result.writes)
        figures["statuses"] += len(result.statuses)
        if figures["records"] >= cfg.total:
            app.stop()
        return out

    sdf = app.dataframe(inputs[0])
    for topic in inputs[1:]:
        sdf = sdf.concat(app.dataframe(topic))
    outputs = sdf.apply(step, stateful=True, metadata=True, expand=True)
    outputs.filter(lambda v: v[0] == ALERT).to_topic(alerts, key=lambda v: v[1])
    outputs.filter(lambda v: v[0] == STATUS).to_topic(statuses, key=lambda v: v[1])
    app.run()
    if figures["records"] < cfg.total:
        raise RuntimeError(f"Quix stopped after {figures['records']:,} of {cfg.total:,}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures["seconds"] = time.perf_counter() - first[0]
    figures["cpu"] = usage.ru_utime + usage.ru_stime - first[1]
    figures["hwm_kb"] = memory_kb("self", "VmHWM")
    figures["rss_kb"] = memory_kb("self", "VmRSS")
    # Quix commits on its way out of `run`; make sure it did, outside the timing.
    asyncio.run(committed_to_end(settings.kafka, cfg.group, names, n, None, timeout=30))
    print(json.dumps(figures), flush=True)
    sys.stderr.flush()
    return figures
