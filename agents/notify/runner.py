"""`backupwatch notify`: read alerts, deliver each to its recipients, once.

How a record flows:

1. An alert record is read (the notifier's own consumer group) and decoded; one that
   does not decode goes to the dead letters with the reason.
2. Its recipients come from the org's policy, or the notifier's defaults; each
   (alert id, channel, recipient) already delivered — remembered in the
   `notify-delivered` topic, read back at start — is skipped.
3. Each delivery joins a *lane*, (channel, recipient, device): a lane sends one
   delivery at a time, in order, retrying with backoff, so a device's alerts never
   overtake each other, while other lanes — other devices, the other channel — go
   on. A delivery that cannot be made after N attempts, or is refused outright, goes
   to `notify-dead-letters` with the reason.
4. A delivery is recorded in `notify-delivered` once made (or dead-lettered), and
   the record's offset is committed only when all deliveries of it and of every
   record before it on its partition are recorded.

So a crash loses nothing (uncommitted records are read again) and repeats nothing
that was recorded; the one window left is between a server accepting a message and
the record of it, and the message then carries the same Message-ID (email),
`webhook-id` (webhook) or `X-Backupwatch-Delivery` (webhook, Apprise's JSON, form and XML
targets), by which recipients can spot the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRebalanceListener

from agents.books.targets import announcement
from agents.kafka.topics import ALERTS
from agents.notify.channels import CHANNELS, Sender, build_senders, channel
from agents.notify.channels.email import EMAIL
from agents.notify.digest import DigestBuffer, next_digest_at
from agents.notify.errors import DeliveryFailed
from agents.notify.metrics import NotifyMetrics
from agents.notify.offsets import OffsetTracker
from agents.notify.plan import Delivery, Item, delivery_key
from agents.notify.recipients import RecipientBook
from agents.notify.retry import retry_delay
from agents.notify.settings import NotifySettings
from agents.notify.store import DeliveredStore
from agents.notify.topics import (
    NOTIFY_DEAD_LETTERS,
    NOTIFY_DELIVERED,
    NOTIFY_TARGETS,
    ensure_notify_topics,
)
from agents.notify.web import start_web
from agents.serving import serving_limits
from agents.webhook_targets import TargetResolver
from schemas.codec import decode_as
from schemas.errors import InvalidRecord
from schemas.models import Alert
from schemas.recipients import shown_target
from schemas.types import loggable

__all__ = ["Notifier"]

log = logging.getLogger(__name__)

# Records read but not yet done, past which reading pauses (the partitions stay
# assigned: a paused consumer still polls, so the group keeps it).
MAX_OPEN_RECORDS = 2000
_COMMIT_EVERY = 0.5
_LAG_EVERY = 5.0

Waiter = tuple[int, int, int]
# The dead-letter reason of a record, or a delivery, that failed in a way nobody foresaw.
UNEXPECTED_ERROR = "unexpected_error"
# What an alert id may be made of: it is sent as a header value.
_ALERT_ID = re.compile(r"[!-~]{1,256}")


class Notifier:
    def __init__(
        self,
        settings: NotifySettings,
        *,
        metrics: NotifyMetrics | None = None,
        draw: Callable[[], float] = random.random,  # noqa: S311 - jitter, not secrets
    ) -> None:
        self.settings = settings
        self.metrics = metrics or NotifyMetrics()
        self.tracker = OffsetTracker()
        self.ready = False
        self._draw = draw
        self._stopping = asyncio.Event()
        # Set (and replaced) to wake deliveries sleeping in backoff: on stop, on revoke.
        self._wake = asyncio.Event()
        self._channels: dict[str, Sender] = {}
        # Attempts under way at once, per channel (its `slots`).
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._lanes: dict[tuple[str, str, str], deque[Delivery]] = {}
        self._lane_tasks: dict[tuple[str, str, str], asyncio.Task[None]] = {}
        self._inflight: dict[bytes, Delivery] = {}
        self._digest = DigestBuffer()
        self._digest_waiters: dict[bytes, list[Waiter]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._store: DeliveredStore | None = None
        self._recipients: RecipientBook | None = None
        self._producer: Any = None
        self._assigned: list[int] = []

    # -- running ------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Deliver until `stop` is set; then finish the attempts under way, commit, close."""
        import aiohttp

        stop = stop or asyncio.Event()
        s = self.settings
        created = await ensure_notify_topics(s)
        if created:
            log.info("created topics: %s", ", ".join(created))
        async with contextlib.AsyncExitStack() as stack:
            web = await start_web(
                s.web_host,
                s.web_port,
                self.metrics.registry,
                self.health,
                serving_limits(s.web_max_connections),
            )
            stack.push_async_callback(web.cleanup)
            self._producer = s.kafka.producer(acks="all", linger_ms=5)
            await s.kafka.start(self._producer)
            stack.push_async_callback(self._producer.stop)
            # The API refuses a policy naming a target this notifier does not have.
            for named in (c for c in CHANNELS if c.target.named):
                key, value = announcement(named.name, list(named.names(s)))
                await self._producer.send_and_wait(s.topic(NOTIFY_TARGETS), value, key=key)
            self._store = DeliveredStore(
                s.kafka,
                s.topic(NOTIFY_DELIVERED),
                self._producer,
                self.metrics.unexpected_errors.labels(NOTIFY_DELIVERED).inc,
            )
            await self._store.start()
            stack.push_async_callback(self._store.stop)
            self._recipients = RecipientBook(s, self.metrics)
            await self._recipients.start()
            stack.push_async_callback(self._recipients.stop)
            # Webhook hosts resolving to loopback or link-local addresses are refused
            # when connecting (agents.webhook_targets).
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=TargetResolver(s.webhook_internal_hosts))
            )
            stack.push_async_callback(session.close)
            self._channels = build_senders(s, session)
            consumer = s.kafka.consumer(
                group_id=s.group,
                enable_auto_commit=False,
                # A new group starts at the oldest alert kept: the notifier may well
                # start after the workers have emitted their first alerts.
                auto_offset_reset="earliest",
                max_poll_records=500,
                session_timeout_ms=10_000,
                heartbeat_interval_ms=3_000,
            )
            consumer.subscribe([s.topic(ALERTS)], listener=_Rebalance(self, consumer))
            await consumer.start()
            stack.push_async_callback(consumer.stop)
            self.ready = True
            log.info(
                "notifier ready: %d deliveries known, reading %s as group %s",
                len(self._store),
                s.topic(ALERTS),
                s.group,
            )
            try:
                await self._consume(consumer, stop)
            finally:
                self.ready = False
                await self._drain_for_stop()
                await self._commit(consumer)

    async def _consume(self, consumer: Any, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        last_commit = last_lag = loop.time()
        minutes = self.settings.digest_minutes
        next_digest = next_digest_at(datetime.now(UTC), minutes) if minutes else None
        paused = False
        while not stop.is_set():
            full = self.tracker.open_records() >= MAX_OPEN_RECORDS
            if full != paused:
                assigned = consumer.assignment()
                (consumer.pause if full else consumer.resume)(*assigned)
                paused = full
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            for tp, records in batches.items():
                for record in records:
                    self._take(tp.topic, tp.partition, record)
            now = loop.time()
            if now - last_commit >= _COMMIT_EVERY:
                await self._commit(consumer)
                last_commit = now
            if now - last_lag >= _LAG_EVERY:
                await self._update_lag(consumer)
                last_lag = now
            if next_digest is not None and datetime.now(UTC) >= next_digest:
                self.flush_digests()
                next_digest = next_digest_at(datetime.now(UTC), minutes)

    async def _drain_for_stop(self) -> None:
        """Let attempts under way finish (their outcome is recorded), drop the rest."""
        self._stopping.set()
        self._wake.set()
        tasks = list(self._lane_tasks.values())
        if tasks:
            await asyncio.wait(tasks, timeout=self.settings.timeout + 5)
        for task in [*self._lane_tasks.values(), *self._background]:
            task.cancel()
        await asyncio.gather(*self._lane_tasks.values(), *self._background, return_exceptions=True)

    def health(self) -> dict[str, Any]:
        return {
            "ok": self.ready,
            "assigned_partitions": self._assigned,
            "open_records": self.tracker.open_records(),
            "pending_deliveries": sum(len(q) for q in self._lanes.values()),
            "digest_held": len(self._digest),
            "known_deliveries": len(self._store) if self._store is not None else 0,
        }

    def _started(self) -> tuple[DeliveredStore, RecipientBook]:
        if self._store is None or self._recipients is None:
            raise RuntimeError("the notifier takes records only once started")
        return self._store, self._recipients

    # -- taking records -------------------------------------------------------------

    def _take(self, topic: str, partition: int, record: Any) -> None:
        store, recipients = self._started()
        waiter: Waiter = (partition, record.offset, self.tracker.epoch(partition))
        raw: bytes = record.value or b""
        try:
            alert = decode_as(raw, Alert)
            if not _ALERT_ID.fullmatch(alert.alert_id):
                # The id goes into the headers of every delivery (and into the delivery
                # keys): one with a line break would fail each of them. The workers'
                # ids are hex digests.
                raise InvalidRecord(
                    "invalid_field",
                    f"`alert_id` {alert.alert_id[:300]!r} is not printable ASCII"
                    " of 1 to 256 characters",
                )
            targets = recipients.targets(alert.org_id)
        except InvalidRecord as err:
            self.metrics.alerts.labels("invalid").inc()
            self._dead_letter_now(
                waiter, record, "invalid_alert", f"{err.reason}: {err.message}", topic
            )
            return
        except Exception as err:  # noqa: BLE001 - one record must not stop the notifier
            # An alert nobody foresaw (or a bug): the alerts after it go on, as a
            # delivery's unexpected error lets the lane's next alerts go on.
            exception = f"{type(err).__name__}: {err}"
            log.error(
                "alert record %d of partition %d failed unexpectedly (%s); sent to %s",
                record.offset,
                partition,
                loggable(exception),
                self.settings.topic(NOTIFY_DEAD_LETTERS),
                exc_info=err,
            )
            self.metrics.alerts.labels(UNEXPECTED_ERROR).inc()
            self.metrics.unexpected_errors.labels(ALERTS).inc()
            self._dead_letter_now(
                waiter,
                record,
                UNEXPECTED_ERROR,
                f"the record could not be read: {exception}",
                topic,
                exception=exception,
            )
            return
        item = Item(alert, raw, topic, partition, record.offset)
        if not targets:
            self.metrics.alerts.labels("no_recipients").inc()
            self._dead_letter_now(
                waiter,
                record,
                "no_recipients",
                f"org {alert.org_id} has no recipients and the notifier "
                "has no defaults (BACKUPWATCH_NOTIFY_EMAILS, BACKUPWATCH_NOTIFY_WEBHOOK_URLS)",
                topic,
            )
            return
        self.metrics.alerts.labels("accepted").inc()
        self.tracker.add(partition, record.offset, len(targets))
        digest = self.settings.digest_minutes > 0
        for target in targets:
            key = delivery_key(alert.alert_id, target.channel, target.recipient)
            held = self._digest_waiters.get(key)
            under_way = self._inflight.get(key)
            if key in store or held is not None or under_way is not None:
                # A duplicate of the record (a worker's retry) or a re-read after a
                # rebalance: the first copy's delivery stands for both.
                self.metrics.deliveries.labels(target.channel, "duplicate").inc()
                if held is not None:
                    held.append(waiter)
                elif under_way is not None:
                    under_way.waiters.append(waiter)
                else:
                    self.tracker.finish(*waiter)
                continue
            if digest and target.channel == EMAIL:
                self._digest.add(target.recipient, item)
                self._digest_waiters[key] = [waiter]
                continue
            delivery = Delivery(
                target.channel, target.recipient, alert.device_id, (item,), waiters=[waiter]
            )
            self._inflight[key] = delivery
            self._enqueue(delivery)

    def flush_digests(self) -> int:
        """Hand every held digest to its lane; returns how many."""
        groups = self._digest.take()
        for org_id, recipient, items in groups:
            keys = [delivery_key(i.alert.alert_id, EMAIL, recipient) for i in items]
            waiters = [w for key in keys for w in self._digest_waiters.pop(key, [])]
            delivery = Delivery(
                EMAIL, recipient, f"digest:{org_id}", items, digest_org=org_id, waiters=waiters
            )
            for key in keys:
                self._inflight[key] = delivery
            self._enqueue(delivery)
        return len(groups)

    # -- lanes ------------------------------------------------------------------------

    def _enqueue(self, delivery: Delivery) -> None:
        lane = (delivery.channel, delivery.recipient, delivery.lane)
        self.metrics.pending.labels(delivery.channel).inc()
        queue = self._lanes.get(lane)
        if queue is not None:
            queue.append(delivery)
            return
        queue = self._lanes[lane] = deque([delivery])
        self._lane_tasks[lane] = asyncio.create_task(self._drain(lane, queue))

    async def _drain(self, lane: tuple[str, str, str], queue: deque[Delivery]) -> None:
        try:
            while queue and not self._stopping.is_set():
                head = queue[0]
                if not head.dropped and not await self._deliver(head):
                    return
                if head.dropped and not head.settled:
                    self._discard(head)
                queue.popleft()
        finally:
            if self._lanes.get(lane) is queue:
                del self._lanes[lane]
                del self._lane_tasks[lane]

    async def _deliver(self, delivery: Delivery) -> bool:
        """Deliver or dead-letter `delivery`; False when stopped before either."""
        s = self.settings
        sender = self._channels.get(delivery.channel)
        attempt = 0
        while True:
            attempt += 1
            try:
                if sender is None:
                    known = channel(delivery.channel)
                    raise DeliveryFailed(
                        "not_configured",
                        f"no {delivery.channel} server is configured "
                        f"({known.unconfigured if known else 'an unknown channel'})",
                        permanent=True,
                    )
                slots = self._slots.get(delivery.channel)
                if slots is None:
                    slots = self._slots[delivery.channel] = asyncio.Semaphore(sender.slots)
                async with slots:
                    if delivery.dropped:
                        return True
                    delivery.attempting = True
                    await _attempt(sender, delivery)
            except DeliveryFailed as failure:
                if failure.permanent or attempt >= s.max_attempts:
                    reason = failure.reason if failure.permanent else "attempts_exhausted"
                    log.error(
                        "%s to %s undeliverable after %d attempt(s) (%s): %s",
                        delivery.channel,
                        loggable(self._shown(delivery)),
                        attempt,
                        reason,
                        failure.detail,
                    )
                    delivery.attempting = True
                    await self._dead_letter_delivery(delivery, reason, failure, attempt)
                    await self._settle(delivery, "dead_letter")
                    return True
                delivery.attempting = False
                self.metrics.retries.labels(delivery.channel, failure.reason).inc()
                delay = retry_delay(
                    attempt,
                    base=s.retry_base,
                    cap=s.retry_max,
                    draw=self._draw(),
                    retry_after=failure.retry_after,
                )
                log.warning(
                    "%s to %s failed (attempt %d/%d, %s: %s); retrying in %.1fs",
                    delivery.channel,
                    loggable(self._shown(delivery)),
                    attempt,
                    s.max_attempts,
                    failure.reason,
                    failure.detail,
                    delay,
                )
                await self._backoff(delivery, delay)
                if self._stopping.is_set():
                    return False
                if delivery.dropped:
                    return True
                continue
            await self._settle(delivery, "delivered")
            now = datetime.now(UTC)
            for item in delivery.items:
                waited = (now - item.alert.emitted_at).total_seconds()
                self.metrics.latency.labels(delivery.channel).observe(max(0.0, waited))
            if delivery.digest_org is not None:
                self.metrics.digests.inc()
            return True

    async def _backoff(self, delivery: Delivery, delay: float) -> None:
        """Sleep `delay` seconds, or less if stopping or the delivery is dropped."""
        loop = asyncio.get_running_loop()
        until = loop.time() + delay
        while not (self._stopping.is_set() or delivery.dropped):
            left = until - loop.time()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), left)

    async def _settle(self, delivery: Delivery, outcome: str) -> None:
        store, _ = self._started()
        keys = delivery.keys
        try:
            await store.record(keys, outcome)
        finally:
            delivery.attempting = False
        delivery.settled = True
        for key in keys:
            self._inflight.pop(key, None)
        self.metrics.deliveries.labels(delivery.channel, outcome).inc()
        self.metrics.pending.labels(delivery.channel).dec()
        for waiter in delivery.waiters:
            self.tracker.finish(*waiter)

    def _discard(self, delivery: Delivery) -> None:
        delivery.settled = True
        for key in delivery.keys:
            if self._inflight.get(key) is delivery:
                del self._inflight[key]
        self.metrics.pending.labels(delivery.channel).dec()

    async def revoke(self, consumer: Any, partitions: set[int]) -> None:
        """Partitions move to another notifier of the group.

        It reads their records again from the last commit, so deliveries not yet
        begun are dropped here (else both would send them), attempts under way are
        let finish and recorded first (so that it finds them done), and what is done
        is committed.
        """
        for queue in self._lanes.values():
            for delivery in queue:
                if delivery.digest_org is None and delivery.partition in partitions:
                    if not delivery.attempting and not delivery.settled:
                        # Forgotten at once: the record, read again before the lane
                        # reaches this delivery, must start a delivery of its own.
                        delivery.dropped = True
                        self._discard(delivery)
        for recipient, item in self._digest.drop(partitions):
            self._digest_waiters.pop(delivery_key(item.alert.alert_id, EMAIL, recipient), None)
        self._wake.set()
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.timeout + 2
        while loop.time() < deadline and any(
            d.attempting and d.partition in partitions
            for queue in self._lanes.values()
            for d in queue
        ):
            await asyncio.sleep(0.02)
        await self._commit(consumer)
        self.tracker.revoke(partitions)

    # -- dead letters -------------------------------------------------------------------

    async def _send_dead_letter(
        self, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        topic = self.settings.topic(NOTIFY_DEAD_LETTERS)
        delay = 0.5
        while True:
            try:
                await self._producer.send_and_wait(topic, value, key=key, headers=headers)
                return
            except Exception as err:  # noqa: BLE001 - any producer failure: try again
                log.warning("could not write a dead letter to %s (%s); retrying", topic, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _dead_letter_now(
        self,
        waiter: Waiter,
        record: Any,
        reason: str,
        error: str,
        topic: str,
        *,
        exception: str = "",
    ) -> None:
        """A record that makes no delivery at all: dead-letter it, then let it commit."""
        self.tracker.add(waiter[0], waiter[1], 1)
        headers = [
            ("reason", reason.encode()),
            ("error", error.encode()[:4096]),
            ("source-topic", topic.encode()),
            ("source-partition", str(record.partition).encode()),
            ("source-offset", str(record.offset).encode()),
        ]
        if exception:
            headers.append(("exception", exception.encode()[:4096]))

        async def write() -> None:
            await self._send_dead_letter(record.key, record.value or b"", headers)
            self.metrics.dead_letters.labels("none", reason).inc()
            self.tracker.finish(*waiter)

        self._spawn(write())

    async def _dead_letter_delivery(
        self, delivery: Delivery, reason: str, failure: DeliveryFailed, attempts: int
    ) -> None:
        for item in delivery.items:
            headers = [
                ("reason", reason.encode()),
                ("error", failure.detail.encode()[:4096]),
                ("failure", failure.reason.encode()),
                ("channel", delivery.channel.encode()),
                ("recipient", self._shown(delivery).encode()),
                ("attempts", str(attempts).encode()),
                ("alert-id", item.alert.alert_id.encode()),
                ("source-topic", item.topic.encode()),
                ("source-partition", str(item.partition).encode()),
                ("source-offset", str(item.offset).encode()),
            ]
            await self._send_dead_letter(item.alert.device_id.encode(), item.raw, headers)
            self.metrics.dead_letters.labels(delivery.channel, reason).inc()

    def _shown(self, delivery: Delivery) -> str:
        """A recipient as logs and dead letters may show it (no token)."""
        return shown_target(delivery.channel, delivery.recipient)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- offsets ------------------------------------------------------------------------

    async def _commit(self, consumer: Any) -> None:
        from aiokafka import TopicPartition
        from aiokafka.errors import KafkaError

        positions = self.tracker.to_commit()
        if not positions:
            return
        topic = self.settings.topic(ALERTS)
        try:
            await consumer.commit({TopicPartition(topic, p): o for p, o in positions.items()})
        except KafkaError as err:
            # The next commit carries the same or later positions; a rebalance that
            # caused this re-reads from the last commit, and the store skips repeats.
            log.warning("commit of %s failed: %s", positions, err)
            return
        self.tracker.committed(positions)

    async def _update_lag(self, consumer: Any) -> None:
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is None:
                continue
            position = self.tracker.position(tp.partition)
            if position is None:
                position = await consumer.position(tp)
            self.metrics.consumer_lag.labels(str(tp.partition)).set(max(0, end - position))


async def _attempt(sender: Sender, delivery: Delivery) -> None:
    """One attempt. An error the channel did not foresee (a bug, a message the email
    library will not write) counts as a refusal: another attempt would meet it again, and the
    lane's later alerts would wait behind it for good."""
    try:
        await sender.send(delivery)
    except DeliveryFailed:
        raise
    except Exception as err:
        log.exception(
            "%s to %s failed unexpectedly",
            delivery.channel,
            loggable(shown_target(delivery.channel, delivery.recipient)),
        )
        raise DeliveryFailed(
            UNEXPECTED_ERROR, f"{type(err).__name__}: {err}", permanent=True
        ) from err


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commit what is done before partitions move; forget what was read of them."""

    def __init__(self, notifier: Notifier, consumer: Any) -> None:
        self.notifier = notifier
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.notifier.revoke(self.consumer, {tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.notifier._assigned = sorted(tp.partition for tp in assigned)
