"""`backupwatch ingest` in its own process, against the real broker and a real worker:
what it refuses publishes nothing, what it answers 202 for the worker gets, across a
worker restart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agents.ingest.settings import IngestSettings
from agents.kafka.topics import BACKUP_PROGRESS, HEARTBEATS
from schemas.codec import encode
from tests.ingest_harness import IngestRun, post
from tests.kafka_harness import log_tail
from tests.unit.factories import DAY, T0, heartbeat, progress
from tests.worker_harness import Pipeline, free_port

pytestmark = pytest.mark.integration

ANY_ORG = "any-org-token-" + "a" * 20
ORG_A = "org-a-token-" + "b" * 20
RATED = "rated-token-" + "c" * 20


def ndjson(*records: object) -> bytes:
    return b"".join(encode(r) + b"\n" for r in records)  # type: ignore[arg-type]


def start_ingest(pipeline: Pipeline, name: str, **overrides: object) -> IngestRun:
    given: dict[str, object] = {"tokens": f"{ANY_ORG},{ORG_A}:org-a", **overrides}
    settings = IngestSettings(
        bootstrap_servers=pipeline.settings.bootstrap_servers,
        topic_prefix=pipeline.settings.topic_prefix,
        web_port=free_port(),
        **given,  # type: ignore[arg-type]
    )
    return IngestRun(settings, pipeline.tmp / f"{name}.log").start()


@pytest.fixture
def ingest(pipeline: Pipeline) -> Iterator[IngestRun]:
    run = start_ingest(pipeline, "ingest", max_bytes=65536, max_records=50)
    try:
        yield run
    finally:
        run.stop()
        print(log_tail(run.log_path, 20))


def metric(text: str, outcome: str) -> float:
    prefix = f'backupwatch_ingest_requests_total{{outcome="{outcome}"}} '
    line = next(line for line in text.splitlines() if line.startswith(prefix))
    return float(line.removeprefix(prefix))


async def test_refused_requests_publish_nothing_and_each_is_counted(
    pipeline: Pipeline, ingest: IngestRun
) -> None:
    good = ndjson(heartbeat(T0, "refused-1", org_id="org-a"))
    other_org = ndjson(heartbeat(T0, "refused-2", org_id="org-b"))
    bad_line = ndjson(heartbeat(T0, "refused-3"), progress(T0, "refused-4")) + (
        b'{"schema": "heartbeat/1", "device_id": "refused-5", "user_id": "u", '
        b'"org_id": "o", "event_time": "not a time"}\n'
    )

    wrong = post(ingest.url, good, token="not-a-token-" + "x" * 20)
    missing = post(ingest.url, good, token=None)
    forbidden = post(ingest.url, other_org, token=ORG_A)
    invalid = post(ingest.url, bad_line, token=ANY_ORG)
    too_big = post(ingest.url, good * 400, token=ANY_ORG)
    too_many = post(
        ingest.url, ndjson(*[heartbeat(T0, f"refused-{i}") for i in range(51)]), token=ANY_ORG
    )

    assert wrong[0] == missing[0] == 401 and wrong[1]["WWW-Authenticate"].startswith("Bearer")
    assert forbidden[0] == 403 and forbidden[2]["org_id"] == "org-b"
    assert "org-b" in str(forbidden[2]["error"])
    assert invalid[0] == 400 and (invalid[2]["line"], invalid[2]["field"]) == (3, "event_time")
    assert too_big[0] == 413 and too_many[0] == 413

    # Then a batch that is accepted: once it is on the topics, nothing refused is.
    accepted = post(
        ingest.url,
        ndjson(heartbeat(T0, "marker", org_id="org-a"), progress(T0, "marker", org_id="org-a")),
        token=ORG_A,
    )
    assert accepted[0] == 202 and accepted[2] == {"accepted": 2}
    published = await pipeline.read(HEARTBEATS, settle=1.0) + await pipeline.read(
        BACKUP_PROGRESS, settle=0.5
    )
    assert sorted(r.key for r in published) == [b"marker", b"marker"]

    counts = ingest.metrics()
    assert metric(counts, "unauthorized") == 2
    assert (metric(counts, "forbidden"), metric(counts, "invalid")) == (1, 1)
    assert (metric(counts, "too_large"), metric(counts, "accepted")) == (2, 1)
    assert 'backupwatch_ingest_records_total{topic="heartbeats"} 1.0' in counts


async def test_a_token_over_its_rate_is_told_when_to_retry(pipeline: Pipeline) -> None:
    run = start_ingest(pipeline, "rated", tokens=RATED, rate=0.05, burst=2)
    try:
        answers = [
            post(run.url, ndjson(heartbeat(T0, f"rated-{i}")), token=RATED) for i in range(3)
        ]
        counts = run.metrics()
    finally:
        run.stop()

    assert [status for status, _, _ in answers] == [202, 202, 429]
    assert 1 <= int(answers[2][1]["Retry-After"]) <= 20
    assert metric(counts, "rate_limited") == 1


async def test_records_answered_202_reach_the_worker_across_its_restart(
    pipeline: Pipeline, ingest: IngestRun
) -> None:
    worker = pipeline.worker(store="memory://")
    worker.start()
    worker.wait_ready()
    before = [f"before-{i}" for i in range(20)]
    during = [f"during-{i}" for i in range(20)]

    for device in before:
        assert post(ingest.url, ndjson(heartbeat(T0, device)), token=ANY_ORG)[0] == 202
    await pipeline.tick(T0 + DAY / 24)
    await pipeline.caught_up(T0 + DAY / 24)
    worker.kill()
    # The endpoint does not need the worker: what it accepts waits on the topics.
    batch = ndjson(*[r for d in during for r in (heartbeat(T0, d), progress(T0, d))])
    assert post(ingest.url, batch, token=ANY_ORG)[0] == 202
    worker.start()
    worker.wait_ready(timeout=120)
    await pipeline.tick(T0 + DAY / 12)
    await pipeline.caught_up(T0 + DAY / 12)

    statuses = await pipeline.statuses()
    assert set(before + during) <= set(statuses)
    assert all(statuses[d].destinations for d in during)


async def test_records_the_broker_does_not_acknowledge_are_a_503_to_send_again(
    pipeline: Pipeline,
) -> None:
    # Topics that do not exist (the broker creates none by itself): the producer waits
    # for them past the endpoint's acknowledgement timeout.
    settings = IngestSettings(
        bootstrap_servers=pipeline.settings.bootstrap_servers,
        topic_prefix="no-such-topics-" + pipeline.settings.topic_prefix,
        web_port=free_port(),
        tokens=ANY_ORG,
        ack_timeout=1.0,
    )
    run = IngestRun(settings, pipeline.tmp / "unacknowledged.log").start()
    try:
        status, headers, body = post(run.url, ndjson(heartbeat(T0, "lost")), token=ANY_ORG)
        counts = run.metrics()
    finally:
        run.stop()

    assert status == 503 and headers["Retry-After"]
    assert "send them again" in str(body["error"])
    assert metric(counts, "unavailable") == 1 and metric(counts, "accepted") == 0
