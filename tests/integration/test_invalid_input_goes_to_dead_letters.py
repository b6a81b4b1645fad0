"""Invalid input never stops a worker and is never lost: it goes to dead letters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agents.kafka.topics import HEARTBEATS
from schemas.codec import MAX_RECORD_BYTES
from tests.unit.factories import DAY, T0, heartbeat, progress
from tests.worker_harness import Pipeline

pytestmark = pytest.mark.integration


async def test_each_invalid_record_is_dead_lettered_with_its_reason(pipeline: Pipeline) -> None:
    worker = pipeline.worker()
    worker.start()
    worker.wait_ready()
    bad = [
        (b'{"schema": "heartbeat/1", "device_id": ', b"dev-1", "invalid_json"),
        (b'{"schema": "heartbeat/9", "device_id": "dev-1"}', b"dev-1", "unknown_schema"),
        (
            b'{"schema": "heartbeat/1", "device_id": "dev-1", "user_id": "u", "org_id": "o",'
            b' "event_time": "yesterday"}',
            b"dev-1",
            "invalid_field",
        ),
        (
            b'{"schema":"heartbeat/1","pad":"' + b"x" * MAX_RECORD_BYTES + b'"}',
            b"dev-1",
            "oversized",
        ),
        (b'{"no": "schema"}', b"dev-1", "missing_schema"),
    ]
    await pipeline.send([heartbeat(T0, "dev-1")])
    for value, key, _reason in bad:
        await pipeline.send_raw(HEARTBEATS, value, key)
    # A valid record under the wrong key: keyed records must carry their device's id.
    from schemas import encode

    await pipeline.send_raw(HEARTBEATS, encode(heartbeat(T0, "dev-2")), b"dev-9")
    await pipeline.send([heartbeat(T0 + timedelta(hours=1), "dev-3"), progress(T0, "dev-3")])
    await pipeline.tick(T0 + timedelta(hours=2))
    await pipeline.tick(T0 + 4 * DAY)

    alerts = await pipeline.wait_for_alerts(
        lambda alerts: {a.device_id for a in alerts} >= {"dev-1", "dev-3"},
        what="connection warnings for the valid devices dev-1 and dev-3",
    )
    letters = await pipeline.dead_letters()
    reasons = sorted(dict(r.headers)["reason"].decode() for r in letters)
    assert reasons == sorted([reason for *_, reason in bad] + ["wrong_key"])
    for record in letters:
        headers = dict(record.headers)
        assert headers["source-topic"].decode() == pipeline.settings.topic(HEARTBEATS)
        assert int(headers["source-offset"]) >= 0
        assert headers["error"]
    # The original bytes are kept whole.
    assert {r.value for r in letters} >= {value for value, _, _ in bad}
    assert "dev-2" not in {a.device_id for a in alerts}
    assert worker.process is not None and worker.process.poll() is None
