"""Support for tests against a real Kafka broker.

The broker is the project's own (``deploy/kafka/kafka.sh``), started once per test
session by the ``kafka_bootstrap`` fixture in ``tests/conftest.py``, or an existing
one named by ``KAFKA_BOOTSTRAP_SERVERS``. This module has the parts that are not
fixtures: starting and stopping that broker, creating topics, consuming a known
number of records, and waiting for a condition with a deadline instead of sleeping.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

__all__ = [
    "KAFKA_SH",
    "REPO",
    "BrokerStartError",
    "LocalBroker",
    "MakeTopics",
    "consume",
    "create_topics",
    "eventually",
    "fresh_name",
    "log_tail",
    "start_local_broker",
    "wait_until",
]

REPO = Path(__file__).resolve().parents[1]
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"

# A cold start downloads ~45 MB of jars with Maven first; a warm one takes seconds.
START_TIMEOUT_S = float(os.environ.get("BACKUPWATCH_TEST_KAFKA_START_TIMEOUT", "600"))

T = TypeVar("T")

# The type of the ``make_topics`` fixture: ``await make_topics("events", partitions=4)``.
MakeTopics = Callable[..., Awaitable[list[str]]]


class BrokerStartError(RuntimeError):
    """The local broker could not be started; the message carries the log tail."""


def fresh_name(prefix: str) -> str:
    """A name no other test uses: ``prefix`` plus 8 hex digits."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def log_tail(path: Path, lines: int = 60) -> str:
    """The last ``lines`` of a log file, headed by its path."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc.strerror})"
    tail = text.splitlines()[-lines:]
    return f"--- last {len(tail)} lines of {path} ---\n" + "\n".join(tail)


@dataclass(frozen=True)
class LocalBroker:
    """A broker started by ``kafka.sh`` in its own state directory."""

    state_dir: Path
    bootstrap: str

    @property
    def log_path(self) -> Path:
        return self.state_dir / "kafka.log"

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.log_path, lines)

    def stop(self) -> None:
        subprocess.run(
            ["bash", str(KAFKA_SH), "stop", "--state-dir", str(self.state_dir)],
            env=_script_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def _script_env() -> dict[str, str]:
    # The test broker is always the script's own: a developer's KAFKA_PORT (for the
    # `make kafka-up` broker) must not pin it, nor may KAFKA_BOOTSTRAP_SERVERS make
    # the script skip starting it.
    env = dict(os.environ)
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_PORT", "BACKUPWATCH_STATE"):
        env.pop(name, None)
    return env


def start_local_broker(state_dir: Path, *, secured: bool = False) -> LocalBroker:
    """Start a broker with its state in ``state_dir``, on free ports (``secured``: with
    the SASL_SSL and mutual-TLS listeners and ACLs of ``kafka.sh start --secured``).

    The broker is tied to this process: should the test session die without
    stopping it, the script's watchdog stops it.
    """
    command = [
        "bash",
        str(KAFKA_SH),
        "start",
        "--state-dir",
        str(state_dir),
        "--owner-pid",
        str(os.getpid()),
        *(["--secured"] if secured else []),
    ]
    try:
        done = subprocess.run(
            command,
            env=_script_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        subprocess.run(
            ["bash", str(KAFKA_SH), "stop", "--state-dir", str(state_dir)],
            env=_script_env(),
            capture_output=True,
            check=False,
        )
        raise BrokerStartError(
            f"{KAFKA_SH} start did not finish within {START_TIMEOUT_S:.0f}s\n"
            f"{_text(exc.stderr)}\n{_broker_log(state_dir)}"
        ) from exc
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        # kafka.sh prints the log tail itself when the broker died or hung.
        broker_log = "" if "--- last " in done.stderr else _broker_log(state_dir)
        raise BrokerStartError(
            f"{KAFKA_SH} start failed (exit {done.returncode}):\n{done.stderr.strip()}\n"
            f"{broker_log}"
        )
    return LocalBroker(state_dir=state_dir, bootstrap=lines[-1].strip())


def _broker_log(state_dir: Path) -> str:
    log = state_dir / "kafka.log"
    return log_tail(log) if log.exists() else ""


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    what: str,
    timeout: float = 30.0,
    interval: float = 0.1,
) -> T:
    """Call ``check`` until it returns something truthy, and return that.

    On timeout the test fails with ``what`` (what was expected) and the last value
    seen, or the last exception ``check`` raised.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            last = result
            if result:
                return result
        except Exception as exc:  # a check may fail (or assert) while the system is not ready
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")
        await asyncio.sleep(interval)


def wait_until(
    check: Callable[[], T],
    *,
    what: str,
    timeout: float = 30.0,
    interval: float = 0.1,
) -> T:
    """``eventually`` for code that is not async."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


async def create_topics(
    bootstrap: str,
    names: Iterable[str],
    *,
    partitions: int = 1,
    config: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> list[str]:
    """Create topics and return once the broker serves metadata for all of them.

    The broker runs with ``auto.create.topics.enable=false``: a test produces only
    to topics it created (or that its Faust app declared).
    """
    wanted = list(names)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=partitions,
                    replication_factor=1,
                    topic_configs=dict(config or {}),
                )
                for name in wanted
            ],
            timeout_ms=int(timeout * 1000),
        )

        async def all_listed() -> bool:
            return set(wanted) <= set(await admin.list_topics())

        await eventually(all_listed, what=f"topics {wanted} to be listed", timeout=timeout)
    finally:
        await admin.close()
    return wanted


async def consume(
    bootstrap: str,
    topics: str | Iterable[str],
    count: int,
    *,
    group_id: str | None = None,
    timeout: float = 30.0,
    **consumer_options: Any,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``count`` records from the beginning of ``topics``, or fail at the deadline.

    Raises ``AssertionError`` naming how many records arrived out of how many
    were expected, so a test failure says what went missing.
    """
    names = [topics] if isinstance(topics, str) else list(topics)
    consumer = AIOKafkaConsumer(
        *names,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **consumer_options,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"timed out after {timeout:g}s waiting for {count} records on {names}; "
                    f"got {len(records)}: {records[:5]!r}"
                )
            batches = await consumer.getmany(timeout_ms=int(min(left, 1.0) * 1000))
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records
