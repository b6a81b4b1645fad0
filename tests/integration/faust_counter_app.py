"""A minimal Faust app for tests: one agent counting records per key in one table.

Run as a worker by ``test_faust_table_recovery.py``:

    python -m faust -A tests.integration.faust_counter_app worker -l info

Configured from the environment, so every test has its own app id and topics:

    COUNTER_BROKER     host:port of the Kafka broker
    COUNTER_APP_ID     Faust app id (consumer group, changelog topic prefix)
    COUNTER_TOPIC      input topic: keyed records, one count per record
    COUNTER_STORE      table store URL, ``memory://`` or ``rocksdb://``
    COUNTER_DATADIR    Faust's data directory (rocksdb files live there)
    COUNTER_SNAPSHOT   file the agent rewrites after each record: the table as JSON
    COUNTER_PARTITIONS partitions of the input topic (the table's changelog matches)

The app takes the guards backupwatch's worker adds to Faust's resume after a rebalance
(agents.worker.resume): without them stock Faust now and then drops a record it reads while
the worker resumes its streams, and the count comes out short although the table
recovered in full.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import faust

from agents.worker.resume import ResumingConsumer, hold_flow_while_streams_resume

BROKER = os.environ["COUNTER_BROKER"]
SNAPSHOT = Path(os.environ["COUNTER_SNAPSHOT"])
PARTITIONS = int(os.environ.get("COUNTER_PARTITIONS", "2"))

log = logging.getLogger(__name__)

app = faust.App(
    os.environ["COUNTER_APP_ID"],
    broker=f"kafka://{BROKER}",
    store=os.environ.get("COUNTER_STORE", "memory://"),
    datadir=os.environ["COUNTER_DATADIR"],
    topic_partitions=PARTITIONS,
    topic_replication_factor=1,
    web_enabled=False,
    # Commit often: a stopped worker must not hand records over to its successor twice.
    broker_commit_interval=0.5,
)
app.transport.Consumer = ResumingConsumer
hold_flow_while_streams_resume(app)

records = app.topic(
    os.environ["COUNTER_TOPIC"],
    key_type=str,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    partitions=PARTITIONS,
)
counts = app.Table("counts", default=int, partitions=PARTITIONS)


def write_snapshot() -> None:
    tmp = SNAPSHOT.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(counts.items()), sort_keys=True))
    os.replace(tmp, SNAPSHOT)


@app.agent(records)
async def count(stream: faust.StreamT[bytes]) -> None:
    async for event in stream.events():
        key = event.key
        counts[key] += 1
        # Which records the agent saw, for a failing test to tell a lost record from a
        # short changelog.
        message = event.message
        log.info(
            "counted %s (partition %d, offset %d): %d",
            key,
            message.partition,
            message.offset,
            counts[key],
        )
        write_snapshot()
