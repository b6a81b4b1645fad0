"""Fixtures for tests against a real Kafka broker.

* ``kafka_bootstrap`` (session): ``"host:port"`` of the broker. ``KAFKA_BOOTSTRAP_SERVERS``
  when set; otherwise a broker started by ``deploy/kafka/kafka.sh`` on free ports
  with its own state directory, only once a test asks for it (``pytest tests/unit``
  starts none), and stopped at the end of the session. A broker that cannot start
  fails the tests that need it, with its log tail; they are never skipped.
* ``secured_kafka`` (session): a second broker with SASL_SSL (SCRAM), mutual TLS and
  ACLs (``tests/secured_kafka.py``), started only once a test asks for it.
* ``topic_prefix`` / ``consumer_group``: a fresh topic name prefix and consumer
  group id per test, so tests never see each other's records or offsets.
* ``make_topics``: creates topics under ``topic_prefix`` and returns their names.

Tests that use ``kafka_bootstrap`` are marked ``integration`` automatically unless
they are marked ``e2e``; mark them explicitly all the same, it reads better.
Helpers for polling with a deadline are in ``tests/kafka_harness.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tests.kafka_harness import (
    BrokerStartError,
    MakeTopics,
    create_topics,
    fresh_name,
    start_local_broker,
)
from tests.secured_kafka import SecuredBroker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        needs_kafka = "kafka_bootstrap" in fixtures or "secured_kafka" in fixtures
        if needs_kafka and not any(item.iter_markers("e2e")):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of the session's Kafka broker."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        yield external
        return
    state_dir = tmp_path_factory.mktemp("kafka")
    try:
        broker = start_local_broker(state_dir)
    except BrokerStartError as exc:
        failure = str(exc)
    else:
        failure = ""
    if failure:
        pytest.fail(
            f"could not start the local Kafka broker for the tests:\n{failure}", pytrace=False
        )
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def secured_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    """The session's secured broker (SASL_SSL with SCRAM, mutual TLS, ACLs on)."""
    state_dir = tmp_path_factory.mktemp("kafka-secured")
    try:
        broker = start_local_broker(state_dir, secured=True)
    except BrokerStartError as exc:
        failure = str(exc)
    else:
        failure = ""
    if failure:
        pytest.fail(
            f"could not start the secured Kafka broker for the tests:\n{failure}", pytrace=False
        )
    try:
        yield SecuredBroker.from_state(broker.bootstrap, state_dir)
    finally:
        broker.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A topic name prefix of this test only, like ``t-1a2b3c4d.``."""
    return fresh_name("t-") + "."


@pytest.fixture
def consumer_group() -> str:
    """A consumer group id of this test only, like ``g-1a2b3c4d``."""
    return fresh_name("g-")


@pytest.fixture
def make_topics(kafka_bootstrap: str, topic_prefix: str) -> MakeTopics:
    """``await make_topics("events", "alerts", partitions=4)`` -> the full topic names.

    The names get this test's ``topic_prefix``; the call returns once the broker
    lists them.
    """

    async def make(
        *names: str, partitions: int = 1, config: Mapping[str, str] | None = None
    ) -> list[str]:
        full = [topic_prefix + name for name in names]
        return await create_topics(kafka_bootstrap, full, partitions=partitions, config=config)

    return make


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many hostile records the fuzz tests tried (tests/hostile.py), by target."""
    hostile = sys.modules.get("tests.hostile")
    tried = getattr(hostile, "TRIED", None)
    if tried:
        counts = ", ".join(f"{target} {n:,}" for target, n in sorted(tried.items()))
        terminalreporter.write_line(f"hostile records tried: {sum(tried.values()):,} ({counts})")
