"""Small real clients of the topics: follow alerts, produce JSON lines."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import BinaryIO

# A policy's recipients are checked against the notifier's channels.
import agents.notify.channels  # noqa: F401 - registers the channels
from agents.kafka.topics import ALERTS, INPUTS, ORG_POLICIES
from agents.logs import say
from agents.settings import Settings
from schemas.codec import decode, decode_as, encode
from schemas.errors import InvalidRecord
from schemas.models import Alert, OrgPolicy
from schemas.types import loggable
from streams.kinds import KIND_OF

__all__ = ["describe_alert", "follow_alerts", "produce_lines"]

_MARK = {"critical": "CRITICAL", "warning": "WARNING ", "ok": "RESOLVED"}


def describe_alert(alert: Alert) -> str:
    """One readable line: when, severity, device, what, why."""
    # Ids and the hostname come from producers: escaped, so that the line stays one.
    where = f" on {loggable(alert.destination_id)}" if alert.destination_id else ""
    what = KIND_OF[alert.kind].headline.format(on=where)
    mark = _MARK[alert.to_state]
    if alert.transition == "reminder":
        mark = "REMINDER"
    days = f"{alert.days_observed:.1f} d"
    if alert.threshold_days is not None:
        days += f" (threshold {alert.threshold_days:g} d)"
    cause = f" — {alert.diagnosis[0].summary}" if alert.diagnosis else ""
    if alert.to_state == "ok":
        cause = f" — {alert.reason}"
    host = loggable(alert.hostname or alert.device_id)
    owner = loggable(f"{alert.org_id}/{alert.user_id}")
    return (
        f"{alert.decided_at:%Y-%m-%d %H:%M} {mark} {host} [{owner}] "
        f"{alert.kind}: {what}, {days}{loggable(cause)}"
    )


async def follow_alerts(
    settings: Settings, *, as_json: bool = False, from_beginning: bool = False
) -> int:
    consumer = settings.kafka.consumer(
        settings.topic(ALERTS),
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    await settings.kafka.start(consumer)
    try:
        async for record in consumer:
            try:
                alert = decode_as(record.value or b"", Alert)
            except InvalidRecord as err:
                say(f"(unreadable alert at offset {record.offset}: {err})", logging.WARNING)
                continue
            print(encode(alert).decode() if as_json else describe_alert(alert), flush=True)
    finally:
        await consumer.stop()
    return 0


def _validate(topic: str, line: bytes) -> tuple[bytes, bytes]:
    """(key, value) for a line, or raise InvalidRecord."""
    if topic == ORG_POLICIES:
        policy = decode_as(line, OrgPolicy)
        return policy.org_id.encode(), encode(policy)
    record = decode(line)
    return record.device_id.encode(), encode(record)


async def produce_lines(settings: Settings, topic: str, source: BinaryIO | Iterable[bytes]) -> int:
    """Validate every line first; send nothing if any line is invalid."""
    if topic not in (*INPUTS, ORG_POLICIES):
        say(
            f"backupwatch: unknown topic {topic!r}; one of {', '.join((*INPUTS, ORG_POLICIES))}",
            logging.ERROR,
        )
        return 2
    records: list[tuple[bytes, bytes]] = []
    errors = 0
    for number, raw in enumerate(source, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            records.append(_validate(topic, line))
        except InvalidRecord as err:
            errors += 1
            say(f"line {number}: {err.reason}: {err.message}", logging.ERROR)
    if errors:
        say(f"backupwatch: {errors} invalid line(s); nothing was sent", logging.ERROR)
        return 1
    producer = settings.kafka.producer(acks="all", linger_ms=5)
    await settings.kafka.start(producer)
    try:
        futures = [
            await producer.send(settings.topic(topic), value, key=key) for key, value in records
        ]
        for future in futures:
            await future
    finally:
        await producer.stop()
    say(f"sent {len(records)} record(s) to {settings.topic(topic)}")
    return 0
