"""The whole fleet in every worker, for the status report API and the dashboard.

Each worker owns the states of its own partitions only, but an admin may ask any worker
about any device. Every state a worker writes also goes to the table's changelog topic,
so each worker follows that changelog (all partitions, no consumer group) and keeps one
report row per device plus the encoded state for the device detail. This costs the
pipeline nothing extra to write, and a row is as current as the alerts: a worker writes
a state only after the alerts it decided are acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING

import msgspec

from agents.kafka.follower import TopicFollower
from schemas.types import loggable
from streams.diagnosis import Hints, appeared_as_it_went_quiet, newer_device_hint
from streams.kinds import any_open
from streams.pipeline import CLOCK_KEY_PREFIX, decided_clock
from streams.policy import Policy
from streams.report import DeviceRow, ReportContext, device_row, sibling
from streams.state import DeviceState, decode_state

if TYPE_CHECKING:
    from agents.settings import Settings

__all__ = ["FleetView"]

log = logging.getLogger(__name__)


class FleetView:
    """Report rows of every device, kept current from the device-state changelog."""

    def __init__(self, policy_for: Callable[[str], Policy]) -> None:
        self.policy_for = policy_for
        # Each row holds the encoded state it was cut from, for the device detail.
        self._rows: dict[str, DeviceRow] = {}
        # Devices known only from commands sent before their first report (no row:
        # nothing to report yet), with their partition.
        self._known: dict[str, tuple[DeviceState, int]] = {}
        # The newest changelog value of each device not yet made a row (None: deleted),
        # and its partition. Rows are cut when someone reads them, not per record: a
        # device written many times between two reads is decoded once, and a worker
        # replaying a backlog with no reader decodes nothing (a row costs 10–15 µs,
        # a third of what the worker spends on an event).
        self._pending: dict[str, tuple[bytes | None, int]] = {}
        # How old rows may be when read (seconds). The worker allows a little, so that
        # a dashboard and scripts polling it cut each device's row at most once per
        # interval while the pipeline writes it many times; 0 = always current.
        self.max_staleness = 0.0
        self._refreshed_at = float("-inf")
        self._by_org = _Index()
        self._by_user = _Index()
        self.clocks: dict[int, datetime] = {}
        # The newest event time seen: the stream time of partitions with no clock yet.
        self._latest_seen: datetime | None = None
        # Set once the changelog was read up to where it ended when the view started.
        self.caught_up = asyncio.Event()
        self.records_read = 0
        # Changelog records that raised an exception (a state or clock that does not
        # decode, or a row that cannot be cut): skipped, the rest of the fleet goes on.
        self.unexpected_errors = 0
        # Counts the changes readers can see (rows cut, clocks moved): an answer computed
        # at one generation is the answer for as long as the generation stays.
        self.generation = 0

    # -- taking changelog records ---------------------------------------------------

    def take(self, key: bytes | None, value: bytes | None, partition: int) -> None:
        """One changelog record: a device's new state, a tombstone, or a partition clock."""
        if key is None:
            return
        self.records_read += 1
        device_id = key.decode("utf-8", "replace")
        if device_id.startswith(CLOCK_KEY_PREFIX):
            try:
                clock = decided_clock(value) if value else None
            except Exception as err:  # noqa: BLE001 - a record must not stop the reader
                self._failed(f"the clock of partition {partition}", err)
                return
            if clock is not None and clock != self.clocks.get(partition):
                self.clocks[partition] = clock
                self.generation += 1
            return
        self._pending[device_id] = (value, partition)

    async def refresh(self, chunk: int = 5000) -> None:
        """Make rows of what was taken since the last read, a chunk at a time, letting
        the worker's agent run in between: after a long backlog the first request must
        not stall the pipeline for the whole catch-up."""
        if self._fresh_enough():
            return
        while len(self._pending) > chunk:
            self._refresh(chunk)
            await asyncio.sleep(0)
        self._refresh()

    def _fresh_enough(self) -> bool:
        return time.monotonic() - self._refreshed_at < self.max_staleness

    def _refresh(self, limit: int | None = None) -> None:
        """Make rows of the changelog values taken since the last read (the oldest
        `limit` of them), unless the rows are younger than `max_staleness`."""
        if not self._pending or (limit is None and self._fresh_enough()):
            return
        self.generation += 1
        if limit is None or limit >= len(self._pending):
            self._refreshed_at = time.monotonic()
            pending, self._pending = self._pending, {}
        else:
            pending = dict(islice(self._pending.items(), limit))
            for device_id in pending:
                del self._pending[device_id]
        for device_id, (value, partition) in pending.items():
            if value is None:
                self._forget(device_id)
                continue
            try:
                self._store(decode_state(value), value, partition)
            except Exception as err:  # noqa: BLE001 - a record must not stop the reader
                # A state this version cannot read, or a row that cannot be cut from it:
                # the device keeps the row it had (if any), the others go on.
                self._failed(f"the state of device {device_id}", err)

    def _store(self, state: DeviceState, value: bytes, partition: int) -> None:
        device_id = state.device_id
        if not state.reporting:
            self._known[device_id] = (state, partition)
            return
        # Cut first: a row that cannot be cut leaves everything as it was.
        row = self._cut(state, value, partition)
        self._known.pop(device_id, None)
        previous = self._rows.get(device_id)
        if previous is not None and (
            previous.org_id != state.org_id or previous.user_id != state.user_id
        ):
            self._unindex(previous)
        seen = state.last_heartbeat or state.first_seen
        if self._latest_seen is None or seen > self._latest_seen:
            self._latest_seen = seen
        self._rows[device_id] = row
        self._by_org.add(row.org_id, device_id)
        self._by_user.add(row.user_id, device_id)
        self._recut_replaced(row, previous)

    def _cut(self, state: DeviceState, value: bytes, partition: int) -> DeviceRow:
        """The device's row, judged at its partition's clock."""
        now = self.clocks.get(partition) or state.last_heartbeat or state.first_seen
        policy = self.policy_for(state.org_id)
        row = device_row(state, now, policy, partition, value, self._hints(state, now, policy))
        self._share_user_id(row)
        return row

    def _hints(self, state: DeviceState, now: datetime, policy: Policy) -> Hints | None:
        """What the user's other devices say of a device in trouble: a newer one that
        replaced it (`newer_device_hint`), among those known when the row is cut."""
        if not any_open(state):
            return None
        rows = self._rows
        siblings = [
            sibling(rows[other])
            for other in self._by_user.members(state.user_id)
            if other != state.device_id and other in rows
        ]
        return newer_device_hint(state, siblings, now, policy) if siblings else None

    def _recut_replaced(self, row: DeviceRow, previous: DeviceRow | None) -> None:
        """Cut again the rows of the user's devices in trouble that `row`'s device may
        just have become the replacement of, cut before it was known. Once per pair:
        when the device first appears as such, not on its every heartbeat."""
        candidate = sibling(row)
        before = sibling(previous) if previous is not None else None
        for other in self._by_user.members(row.user_id):
            troubled = self._rows.get(other)
            if (
                troubled is None
                or other == row.device_id
                or troubled.worst_state == "ok"
                or troubled.top_cause == "replaced_by_newer_device"
            ):
                continue
            quiet = sibling(troubled)
            heard = quiet.last_heartbeat or quiet.first_seen
            policy = self.policy_for(troubled.org_id)
            if not appeared_as_it_went_quiet(candidate, quiet.first_seen, heard, policy) or (
                before is not None
                and appeared_as_it_went_quiet(before, quiet.first_seen, heard, policy)
            ):
                continue
            try:
                state = decode_state(troubled.encoded_state)
                self._rows[other] = self._cut(state, troubled.encoded_state, troubled.partition)
            except Exception as err:  # noqa: BLE001 - its row stays as it was
                self._failed(f"the row of device {other}", err)

    def _failed(self, what: str, err: BaseException) -> None:
        self.unexpected_errors += 1
        log.error(
            "fleet view: %s failed unexpectedly (%s: %s); skipped",
            loggable(what),
            type(err).__name__,
            loggable(str(err)),
            exc_info=err,
        )

    def _share_user_id(self, row: DeviceRow) -> None:
        """Let `row` hold the user id string of the user's other devices: decoding gave
        it a copy of its own, ~60 bytes for every device but a user's first."""
        for other in self._by_user.members(row.user_id):
            if other != row.device_id:
                user_id = self._rows[other].user_id
                # The row is new and not yet seen by anyone: setting it is still making it.
                msgspec.structs.force_setattr(row, "user_id", user_id)
                return

    def _unindex(self, row: DeviceRow) -> None:
        self._by_org.discard(row.org_id, row.device_id)
        self._by_user.discard(row.user_id, row.device_id)

    def _forget(self, device_id: str) -> None:
        self._known.pop(device_id, None)
        row = self._rows.pop(device_id, None)
        if row is not None:
            self._unindex(row)

    # -- reading --------------------------------------------------------------------

    @property
    def rows(self) -> dict[str, DeviceRow]:
        """Every device's row, by device id (current as of this call)."""
        self._refresh()
        return self._rows

    def state(self, device_id: str) -> DeviceState | None:
        self._refresh()
        row = self._rows.get(device_id)
        return decode_state(row.encoded_state) if row is not None else None

    def known(self, device_id: str) -> tuple[DeviceState, int] | None:
        """A device known only from commands sent before its first report, and its
        partition."""
        self._refresh()
        return self._known.get(device_id)

    def of_org(self, org_id: str) -> list[DeviceRow]:
        rows = self.rows
        return [rows[d] for d in self._by_org.members(org_id)]

    def of_user(self, user_id: str) -> list[DeviceRow]:
        rows = self.rows
        return [rows[d] for d in self._by_user.members(user_id)]

    def orgs(self) -> Iterable[str]:
        self._refresh()
        return self._by_org.keys()

    def stream_time(self) -> datetime | None:
        """The fleet's stream time: the latest partition clock (or event, before any)."""
        self._refresh()
        if self.clocks:
            return max(self.clocks.values())
        return self._latest_seen

    def now_of_partition(self, partition: int) -> datetime:
        clock = self.clocks.get(partition)
        if clock is not None:
            return clock
        return self.stream_time() or datetime.now(UTC)

    def context(self) -> ReportContext:
        """What queries need: each device is judged at its own partition's clock."""
        clocks = dict(self.clocks)
        fallback = self.stream_time() or datetime.now(UTC)

        def now_of(row: DeviceRow) -> datetime:
            return clocks.get(row.partition, fallback)

        return ReportContext(now_of=now_of, policy_of=self.policy_for)

    # -- following the changelog ----------------------------------------------------

    async def follow(self, settings: Settings, topic: str) -> None:
        """Read `topic` from the beginning, then follow it, until cancelled (Faust
        creates the changelog when the worker starts, maybe after this task)."""
        follower = TopicFollower(
            settings.kafka,
            topic,
            lambda record: self.take(record.key, record.value, record.partition),
            caught_up=self.caught_up,
            max_records=5000,
            fetch_max_wait_ms=100,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await follower.run()


class _Index:
    """Device ids by a key (org, user), compact for keys with few devices.

    Most users have one or two devices, and a set costs 216 bytes even for one: a key
    holds its only device id itself, a tuple of a few, and a set only once it has many
    (a tuple is copied on every change, so large ones would cost quadratic time).
    """

    # Past this many devices a key's ids move from a tuple to a set.
    TUPLE_MAX = 8

    def __init__(self) -> None:
        self._ids: dict[str, str | tuple[str, ...] | set[str]] = {}

    def add(self, key: str, device_id: str) -> None:
        ids = self._ids.get(key)
        if ids is None:
            self._ids[key] = device_id
        elif isinstance(ids, set):
            ids.add(device_id)
        elif isinstance(ids, str):
            if ids != device_id:
                self._ids[key] = (ids, device_id)
        elif device_id not in ids:
            self._ids[key] = (*ids, device_id) if len(ids) < self.TUPLE_MAX else {*ids, device_id}

    def discard(self, key: str, device_id: str) -> None:
        ids = self._ids.get(key)
        if ids is None:
            return
        if isinstance(ids, set):
            ids.discard(device_id)
            if not ids:
                del self._ids[key]
        elif isinstance(ids, str):
            if ids == device_id:
                del self._ids[key]
        elif device_id in ids:
            rest = tuple(d for d in ids if d != device_id)
            self._ids[key] = rest[0] if len(rest) == 1 else rest

    def members(self, key: str) -> Iterable[str]:
        ids = self._ids.get(key, ())
        return (ids,) if isinstance(ids, str) else ids

    def keys(self) -> Iterable[str]:
        return self._ids.keys()
