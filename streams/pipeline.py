"""One worker's processing of its input partitions, batch by batch — still pure.

The Faust agent hands in batches of records (as `Envelope`s) and carries out what
comes back (`BatchResult`): send alerts, wait for the broker, write device states,
send statuses, dead letters and re-routed records. Everything that decides — replay
and duplicate detection, partition clocks from ticks, which devices are due, the
state machine — lives here, so it is tested without a broker.

Time is the partition clock: the latest tick read on every input topic of a
partition (docs/architecture.md §3). Decisions are taken when a partition's clock moves.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from msgspec.structs import replace

from schemas.codec import decode
from schemas.errors import InvalidRecord
from schemas.models import Alert, DeviceCommand, DeviceStatus, InputRecord
from schemas.types import EARLIEST, LATEST, loggable
from streams.deadlines import DeadlineIndex
from streams.kinds import KIND_NAMES, kind_levels
from streams.machine import advance, apply, next_deadline, record_fingerprint
from streams.policy import Policy
from streams.state import DeviceState, Parked, decode_state, encode_state
from streams.status import device_status, to_alert
from streams.users import NO_USER_FACTS, UserTimeline

__all__ = [
    "CLOCK_KEY_PREFIX",
    "UNEXPECTED_ERROR",
    "BatchResult",
    "DeadLetter",
    "Envelope",
    "PartitionProcessor",
    "Reroute",
    "decided_clock",
]

log = logging.getLogger(__name__)

TOPIC_COUNT = 3  # heartbeats, backup-progress, device-commands
# Table keys that hold a partition's clock instead of a device (a record whose device id
# starts so is a `reserved_id` dead letter); the suffix is chosen so the key hashes to
# its partition.
CLOCK_KEY_PREFIX = "~clock~"
# The dead-letter reason of a record whose decoding or applying raised an exception that
# is not a validation error: a bug, or an input nobody foresaw. Its device's state stays
# as it was and the records after it go on, as Kafka Streams' exception handlers do: one
# such record must not stop the worker, and would again at every restart.
UNEXPECTED_ERROR = "unexpected_error"


@dataclass(slots=True)
class Envelope:
    """One input record as the agent read it."""

    topic: int  # index into the inputs: 0 heartbeats, 1 progress, 2 commands
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: datetime  # the record's timestamp (producer or broker time)
    tick: bool = False


@dataclass(slots=True)
class DeadLetter:
    envelope: Envelope
    reason: str
    message: str
    # For `unexpected_error`: the exception's type and message.
    exception: str = ""


@dataclass(slots=True)
class Reroute:
    envelope: Envelope
    partition: int


@dataclass(slots=True)
class TickReport:
    partition: int
    clock: datetime
    devices_advanced: int
    # Time the step took (the processor's stopwatch; 0 without one).
    seconds: float = 0.0


@dataclass(slots=True)
class BatchResult:
    # Encoded device states (and partition clocks) to write, one per key, and the
    # partition each belongs to (so the writer need not hash the keys again).
    writes: dict[str, bytes] = field(default_factory=dict)
    homes: dict[str, int] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    statuses: list[DeviceStatus] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    reroutes: list[Reroute] = field(default_factory=list)
    # (topic index, outcome) -> records: accepted, invalid, replayed, duplicate,
    # rerouted, tick; a parked record counts once, when it is applied
    # (normally "accepted")
    outcomes: Counter[tuple[int, str]] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    ticks: list[TickReport] = field(default_factory=list)
    # The newest event time applied per partition (for the event-lag metric).
    event_times: dict[int, datetime] = field(default_factory=dict)
    # Records read ahead of their partition's clock and parked in this batch.
    parked: int = 0
    # Exceptions that were not validation errors, by where they were raised: `record`
    # (decoding or applying an input record, which is then an `unexpected_error` dead
    # letter), `decision` (deciding a due device at a clock step: it keeps its state),
    # `stored_state` (a stored state or clock that does not decode, met while indexing
    # a partition: the partition is indexed without it). Those met while indexing a
    # partition outside `process` are counted in the next result.
    failures: Counter[str] = field(default_factory=Counter)
    # The records not processed yet, first the tick whose decisions did not fit in
    # `max_decisions`: pass them to `process` again once this result is carried out.
    rest: list[Envelope] = field(default_factory=list)


def _no_stopwatch() -> float:
    return 0.0


class _Partition:
    """What the processor knows of one assigned partition."""

    __slots__ = (
        "cache",
        "clock",
        "decided",
        "dirty",
        "devices",
        "held",
        "index",
        "latest_ticks",
        "number",
        "troubled",
        "waiting",
    )

    def __init__(self, number: int, clock: datetime | None) -> None:
        self.number = number
        self.index = DeadlineIndex()
        # Devices holding parked records, by the earliest epoch among them.
        self.waiting = DeadlineIndex()
        # The batch at hand: states read or changed, and which changed. Per partition,
        # because a device's state belongs to its home partition only, whatever a stray
        # record elsewhere says.
        self.cache: dict[str, DeviceState | None] = {}
        self.dirty: set[str] = set()
        self.devices = 0
        # Alert levels (one per kind, in the order of `KINDS`) of the devices not all
        # ok: the material of the devices-by-state gauge, small because most devices are ok.
        self.troubled: dict[str, tuple[str, ...]] = {}
        # Devices whose user's facts hold them (on leave, deactivated): a deactivated
        # user's devices have no deadline, yet must be found when the user returns.
        self.held: set[str] = set()
        self.latest_ticks: list[datetime | None] = [None] * TOPIC_COUNT
        # The clock the last decisions were taken at (persisted under the clock key).
        self.decided: datetime | None = clock
        self.clock: datetime | None = clock

    def observe_tick(self, topic: int, at: datetime) -> datetime | None:
        """Record a tick; return the partition's new clock if it moved forward."""
        latest = self.latest_ticks[topic]
        if latest is None or at > latest:
            self.latest_ticks[topic] = at
        if any(t is None for t in self.latest_ticks):
            return None
        clock = min(t for t in self.latest_ticks if t is not None)
        if self.clock is not None and clock <= self.clock:
            return None
        self.clock = clock
        return clock


def _millis(at: datetime | None) -> str:
    return "" if at is None else str(int(at.timestamp() * 1000))


def _from_millis(text: bytes | str) -> datetime:
    return datetime.fromtimestamp(int(text) / 1000, UTC)


_EARLIEST_MS = int(EARLIEST.timestamp() * 1000)
_LATEST_MS = int(LATEST.timestamp() * 1000)


def _tick_time(value: bytes) -> datetime | None:
    """The stream time a tick stands for, or None when its value is not epoch milliseconds
    in the years an event time may be in: a tick from a ticker with a wrong clock (or in
    the wrong unit) would otherwise hold its topic's time there for good, parking every
    later record of the topic behind it."""
    try:
        millis = int(value)
    except ValueError:
        return None
    if not _EARLIEST_MS <= millis < _LATEST_MS:
        return None
    return datetime.fromtimestamp(millis / 1000, UTC)


def _encode_clock(part: _Partition) -> bytes:
    """`decided;tick0;tick1;tick2` in epoch ms: the clock and each topic's latest tick,
    so that a restart resumes the partition's time exactly where the log had it."""
    return ";".join([_millis(part.decided), *map(_millis, part.latest_ticks)]).encode()


def decided_clock(data: bytes) -> datetime | None:
    """The clock a partition's decisions were made at, from its stored clock value."""
    decided = data.decode().split(";", 1)[0]
    return _from_millis(decided) if decided else None


def _restore_clock(part: _Partition, data: bytes) -> None:
    decided, *ticks = data.decode().split(";")
    part.decided = part.clock = _from_millis(decided) if decided else None
    for topic, tick in enumerate(ticks[:TOPIC_COUNT]):
        part.latest_ticks[topic] = _from_millis(tick) if tick else None


class PartitionProcessor:
    """Applies batches of input records to device states, partition by partition.

    `load(key, partition)` reads a stored value (a device state or a clock) from the
    partition's store; `items_of(partition)`
    lists the stored (key, value) pairs of one partition, to rebuild its deadline index
    after an assignment; `partition_for(key)` is the producers' partitioner; `policy_for`
    gives an org's policy; `user_facts_for`, the facts about a user (leave, deactivation).
    """

    def __init__(
        self,
        partitions: int,
        *,
        load: Callable[[str, int], bytes | None],
        items_of: Callable[[int], Iterable[tuple[str, bytes]]],
        partition_for: Callable[[bytes], int],
        policy_for: Callable[[str], Policy],
        user_facts_for: Callable[[str], UserTimeline] | None = None,
        stopwatch: Callable[[], float] | None = None,
    ) -> None:
        self.partitions = partitions
        # Measures how long a clock step takes (a metric); handed in, so the core
        # itself reads no clock.
        self._stopwatch = stopwatch or _no_stopwatch
        self._load = load
        self._items_of = items_of
        self._partition_for = partition_for
        self._policy_for = policy_for
        self._user_facts_for = user_facts_for or _no_user_facts
        self._assigned: dict[int, _Partition] = {}
        self._clock_keys: dict[int, str] = {}
        self._reevaluate: dict[int, set[str]] = {}
        self._reevaluate_users: dict[int, set[str]] = {}
        # Decisions this `process` call may still make (None: no limit), and the tick
        # left unfinished by the last call, with what it had done so far.
        self._decisions_left: int | None = None
        self._unfinished: tuple[Envelope, datetime, int, float] | None = None
        # Failures not yet handed out in a result (see `BatchResult.failures`).
        self._failures: Counter[str] = Counter()
        # While one record is taken: what its device's cache entry was before it (the
        # entry, or `_ABSENT`, and whether it was to be written), to undo on a failure.
        self._journal: dict[str, tuple[DeviceState | None | object, bool]] | None = None

    # -- assignment -------------------------------------------------------------

    def clock_key(self, partition: int) -> str:
        """The table key holding `partition`'s clock: one that hashes to it."""
        key = self._clock_keys.get(partition)
        if key is None:
            n = 0
            while True:
                candidate = f"{CLOCK_KEY_PREFIX}{partition}~{n}"
                if self._partition_for(candidate.encode()) == partition:
                    break
                n += 1
            key = self._clock_keys[partition] = candidate
        return key

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget partitions handed to another worker; they are rebuilt if they return."""
        for partition in partitions:
            self._assigned.pop(partition, None)
            self._reevaluate.pop(partition, None)
            self._reevaluate_users.pop(partition, None)

    def revoke_all(self) -> None:
        self._assigned.clear()
        self._reevaluate.clear()
        self._reevaluate_users.clear()

    def ensure(self, partition: int) -> None:
        """Index `partition` now if it is not yet (after an assignment)."""
        self._partition(partition)

    def _partition(self, partition: int) -> _Partition:
        state = self._assigned.get(partition)
        if state is None:
            state = self._rebuild(partition)
        return state

    def _rebuild(self, partition: int) -> _Partition:
        """Index a newly assigned partition from its stored states (after recovery)."""
        clock_key = self.clock_key(partition)
        part = _Partition(partition, None)
        stored_clock = self._load(clock_key, partition)
        if stored_clock:
            try:
                _restore_clock(part, stored_clock)
            except Exception as err:  # noqa: BLE001 - any stored value that does not read
                # The partition starts with no clock, as a new one: its next ticks set it.
                self._failed("stored_state", f"the clock of partition {partition}", err)
                part = _Partition(partition, None)
        devices = 0
        for key, value in self._items_of(partition):
            if key.startswith(CLOCK_KEY_PREFIX):
                continue
            try:
                device = decode_state(value)
                deadline = self._deadline(device)
                waiting = min(p.epoch for p in device.parked) if device.parked else None
                tracking = _tracking(device)
            except Exception as err:  # noqa: BLE001 - any stored value that does not read
                # Left out of the index: the device's records are dead letters (they
                # cannot be applied to a state that cannot be read), the others go on.
                self._failed("stored_state", f"the stored state of device {key}", err)
                continue
            part.index.schedule(key, deadline)
            if waiting is not None:
                part.waiting.schedule(key, waiting)
            _track(part, key, tracking)
            devices += device.reporting
        part.devices = devices
        self._assigned[partition] = part
        log.info(
            "partition %d: indexed %d devices, clock %s", partition, devices, part.clock or "-"
        )
        return part

    def clock(self, partition: int) -> datetime | None:
        part = self._assigned.get(partition)
        return part.clock if part is not None else None

    def clocks(self) -> dict[int, datetime | None]:
        return {p: part.clock for p, part in self._assigned.items()}

    def devices_indexed(self) -> int:
        return sum(len(part.index) for part in self._assigned.values())

    def device_counts(self) -> dict[tuple[str, str], int]:
        """(kind, state) -> devices of the assigned partitions; deactivated count as ok."""
        counts: Counter[tuple[str, str]] = Counter()
        total = 0
        for part in self._assigned.values():
            total += part.devices
            for levels in part.troubled.values():
                for kind, level in zip(KIND_NAMES, levels, strict=True):
                    counts[(kind, level)] += 1
        for kind in KIND_NAMES:
            counts[(kind, "ok")] = total - counts[(kind, "warning")] - counts[(kind, "critical")]
        return dict(counts)

    def policy_changed(self, org_id: str) -> None:
        """Re-evaluate the org's devices at each partition's next decision."""
        for partition in self._assigned:
            self._reevaluate.setdefault(partition, set()).add(org_id)

    def user_facts_changed(self, user_id: str) -> None:
        """Re-evaluate the user's devices at each partition's next decision (docs/
        architecture.md §7): which of the facts hold is decided there, at its clock."""
        for partition in self._assigned:
            self._reevaluate_users.setdefault(partition, set()).add(user_id)

    def _deadline(self, state: DeviceState) -> datetime | None:
        return next_deadline(
            state, self._policy_for(state.org_id), self._user_facts_for(state.user_id)
        )

    # -- processing -------------------------------------------------------------

    def process(self, batch: Sequence[Envelope], max_decisions: int | None = None) -> BatchResult:
        """Process `batch` in order. With `max_decisions`, a tick that would decide more
        devices than that stops there and the result's `rest` holds the records from that
        tick on: a tick that makes the whole fleet due is carried out in slices, each
        holding its decided states, statuses and writes, rather than all of them at once
        (about 3 KB per device). The clock is the same for every slice, so the decisions
        are too, and no later record is applied before the tick is done."""
        result = BatchResult()
        self._decisions_left = max_decisions
        touched: dict[int, _Partition] = {}
        for position, envelope in enumerate(batch):
            part = touched.get(envelope.partition)
            if part is None:
                part = touched[envelope.partition] = self._partition(envelope.partition)
            if envelope.tick:
                if not self._tick(envelope, part, result):
                    result.rest = list(batch[position:])
                    break
            else:
                self._isolated(envelope, part, result)
        for part in touched.values():
            for device_id in part.dirty:
                state = part.cache[device_id]
                if state is not None:
                    result.writes[device_id] = encode_state(state)
                    result.homes[device_id] = part.number
            part.cache.clear()
            part.dirty.clear()
        result.failures, self._failures = self._failures, Counter()
        return result

    def _failed(self, where: str, what: str, err: BaseException) -> None:
        """Count and log (once, with its traceback) an exception met on `what`."""
        self._failures[where] += 1
        log.error(
            "%s failed unexpectedly (%s: %s); going on without it",
            loggable(what),
            type(err).__name__,
            loggable(str(err)),
            exc_info=err,
        )

    def _isolated(self, envelope: Envelope, part: _Partition, result: BatchResult) -> None:
        """Take one input record; one that raises an exception that is not a validation
        error becomes an `unexpected_error` dead letter, its device's state unchanged."""
        alerts, statuses = len(result.alerts), len(result.statuses)
        journal = self._journal = {}
        try:
            self._record(envelope, part, result)
        except Exception as err:  # noqa: BLE001 - isolating any failure is the point
            # What the record changed before it failed is undone. (`_apply` computes
            # everything that may fail before it changes anything, so this is rarely
            # more than nothing.)
            del result.alerts[alerts:], result.statuses[statuses:]
            _undo(part, journal)
            self._dead_letter_failure(envelope, result, err)
        finally:
            self._journal = None

    def _dead_letter_failure(
        self, envelope: Envelope, result: BatchResult, err: BaseException
    ) -> None:
        where = (
            f"record {envelope.offset} of input topic {envelope.topic}"
            f" partition {envelope.partition}"
        )
        self._failed("record", where, err)
        result.outcomes[(envelope.topic, "invalid")] += 1
        result.invalid[UNEXPECTED_ERROR] += 1
        exception = f"{type(err).__name__}: {err}"
        result.dead_letters.append(
            DeadLetter(
                envelope,
                UNEXPECTED_ERROR,
                f"the record could not be processed: {exception}",
                exception,
            )
        )

    def _state(self, device_id: str, part: _Partition) -> DeviceState | None:
        cache = part.cache
        if device_id in cache:
            return cache[device_id]
        stored = self._load(device_id, part.number)
        state = decode_state(stored) if stored is not None else None
        cache[device_id] = state
        return state

    def _put(self, part: _Partition, state: DeviceState) -> None:
        device_id = state.device_id
        journal = self._journal
        if journal is not None and device_id not in journal:
            journal[device_id] = (part.cache.get(device_id, _ABSENT), device_id in part.dirty)
        part.cache[device_id] = state
        part.dirty.add(device_id)

    def _record(
        self,
        envelope: Envelope,
        part: _Partition,
        result: BatchResult,
    ) -> None:
        topic = envelope.topic
        try:
            event = decode(envelope.value)
        except InvalidRecord as err:
            result.outcomes[(topic, "invalid")] += 1
            result.invalid[err.reason] += 1
            result.dead_letters.append(DeadLetter(envelope, err.reason, err.message))
            return
        device_id = event.device_id
        if device_id.startswith(CLOCK_KEY_PREFIX):
            # The table keeps each partition's clock under such a key: a device of that
            # name would overwrite a clock, or be skipped when the partition is indexed.
            result.outcomes[(topic, "invalid")] += 1
            result.invalid["reserved_id"] += 1
            result.dead_letters.append(
                DeadLetter(
                    envelope,
                    "reserved_id",
                    f"device ids starting with {CLOCK_KEY_PREFIX} are reserved"
                    " (the partition clocks are stored under them)",
                )
            )
            return
        if envelope.key is None or envelope.key.decode("utf-8", "replace") != device_id:
            reason = "missing key" if envelope.key is None else "key differs from device_id"
            result.outcomes[(topic, "invalid")] += 1
            result.invalid["wrong_key"] += 1
            result.dead_letters.append(
                DeadLetter(envelope, "wrong_key", f"{reason}: records are keyed by device_id")
            )
            return
        # A device whose state this partition holds is at home, whatever the partitioner
        # says now (it changes its mind when partitions are added): its state is never
        # split. Any other device's home is the partitioner's, so that a mis-keying
        # producer cannot split a device's state either.
        state = self._state(device_id, part)
        if state is None:
            home = self._partition_for(envelope.key)
            if home != envelope.partition:
                result.outcomes[(topic, "rerouted")] += 1
                result.reroutes.append(Reroute(envelope, home))
                return
        if state is not None and envelope.offset <= state.offsets[topic]:
            result.outcomes[(topic, "replayed")] += 1
            return
        epoch = part.latest_ticks[topic]
        if (
            state is not None
            and epoch is not None
            and part.clock is not None
            and (epoch > part.clock or state.parked)
        ):
            # Read ahead of the clock (or behind other parked records of the device).
            offsets = list(state.offsets)
            offsets[topic] = envelope.offset
            parked = Parked(epoch, topic, envelope.offset, envelope.value)
            self._put(part, replace(state, parked=(*state.parked, parked), offsets=tuple(offsets)))
            part.waiting.schedule(device_id, min(p.epoch for p in (*state.parked, parked)))
            result.parked += 1
            return
        self._apply(part, envelope, event, state, epoch, result)

    def _apply(
        self,
        part: _Partition,
        envelope: Envelope,
        event: InputRecord,
        state: DeviceState | None,
        epoch: datetime | None,
        result: BatchResult,
    ) -> None:
        """Apply one record (read now, or unparked) to its device's state."""
        device_id = event.device_id
        topic, offset = envelope.topic, envelope.offset
        if isinstance(event, DeviceCommand):
            org_id, event_time = (state.org_id if state else ""), event.issued_at
        else:
            org_id, event_time = event.org_id, event.event_time
        policy = self._policy_for(org_id)
        # The record was appended after the latest tick of its own topic: that tick, not
        # the slowest topic's, bounds how far ahead its device may claim to be.
        now = epoch or part.clock
        if now is None:
            # No tick read on this partition yet (a new topic): the record's own timestamp
            # stands in, unless the producer's clock is ahead of the event (a simulator
            # replaying the past writes records "now" about events of last month).
            now = min(envelope.timestamp, event_time + policy.max_skew)
        # Telemetry is fingerprinted by its bytes (a producer's retry sends the same
        # bytes), cheaper than re-encoding; commands by their id.
        fp = None if isinstance(event, DeviceCommand) else record_fingerprint(envelope.value)
        new, transitions = apply(state, event, now, policy, fp)
        if new is None:  # pragma: no cover - `apply` keeps every event's device
            raise AssertionError(f"no state for {device_id}")
        if new is state:
            result.outcomes[(topic, "duplicate")] += 1
            return
        if offset > new.offsets[topic]:
            offsets = list(new.offsets)
            offsets[topic] = offset
            new = replace(new, offsets=tuple(offsets))
        # Everything that may fail is worked out before anything changes (see
        # `_isolated`): then the state, the outputs and the counts, together.
        deadline = next_deadline(new, policy, self._user_facts_for(new.user_id))
        alerts = [to_alert(t, new, now, policy) for t in transitions] if transitions else []
        # Deactivation decides at once; readers see the device's new status now.
        status = device_status(new, now, policy) if transitions else None
        tracking = _tracking(new) if transitions else None
        if new.reporting and (state is None or not state.reporting):
            part.devices += 1
        self._put(part, new)
        result.outcomes[(topic, "accepted")] += 1
        result.event_times[part.number] = event_time
        self._emitted(alerts, result)
        if status is not None:
            result.statuses.append(status)
        if tracking is not None:
            _track(part, device_id, tracking)
        part.index.schedule(device_id, deadline)

    def _tick(
        self,
        envelope: Envelope,
        part: _Partition,
        result: BatchResult,
    ) -> bool:
        """Take a tick; False when its decisions stopped at `max_decisions`."""
        resumed, self._unfinished = self._unfinished, None
        clock_key = self.clock_key(envelope.partition)
        if resumed is not None and resumed[0] is envelope and resumed[1] == part.clock:
            # The rest of a tick: counted, and its clock observed, when first taken. (A
            # partition rebuilt from the table in between knows an older clock: the
            # tick is then taken afresh.)
            _, clock, advanced, took = resumed
        else:
            advanced, took = 0, 0.0
            at = _tick_time(envelope.value)
            if at is None:
                result.outcomes[(envelope.topic, "invalid")] += 1
                result.invalid["invalid_tick"] += 1
                message = (
                    "tick value is not epoch milliseconds"
                    f" from {EARLIEST.year} to {LATEST.year - 1}"
                )
                result.dead_letters.append(DeadLetter(envelope, "invalid_tick", message))
                return True
            result.outcomes[(envelope.topic, "tick")] += 1
            before = part.latest_ticks[envelope.topic]
            observed = part.observe_tick(envelope.topic, at)
            if observed is None or (part.decided is not None and observed <= part.decided):
                if part.latest_ticks[envelope.topic] != before:
                    result.writes[clock_key] = _encode_clock(part)
                    result.homes[clock_key] = part.number
                return True
            clock = observed
        started = self._stopwatch()
        # Records parked at an earlier tick of their topic came before this tick there:
        # they belong before its decisions, and applied at their epoch they leave their
        # device due at once if its facts changed. (Taken when the tick is first taken:
        # a resumed slice finds none left.)
        for device_id in part.waiting.pop_before(clock):
            self._unpark(device_id, part, clock, result, inclusive=False)
        orgs = self._reevaluate.pop(envelope.partition, None)
        if orgs:
            # A policy changed: the org's devices are due now (their revision differs).
            # Those without a deadline (every alert critical, no reminders) are not in
            # the index, but are among the troubled.
            for device_id in dict.fromkeys([*part.index.scheduled, *part.troubled]):
                self._reschedule(device_id, part, lambda state: state.org_id in orgs)
        users = self._reevaluate_users.pop(envelope.partition, None)
        if users:
            # A user's facts changed: their devices are due now (the revision of their
            # user's record differs). Those held by the user's deactivation have no
            # deadline: they are among the held.
            for device_id in dict.fromkeys([*part.index.scheduled, *part.troubled, *part.held]):
                self._reschedule(device_id, part, lambda state: state.user_id in users)
        for device_id in part.index.pop_due(clock):
            advanced += self._decide(device_id, part, clock, result)
            if self._decisions_left is not None:
                self._decisions_left -= 1
                if self._decisions_left <= 0 and part.index.due_by(clock):
                    # The partition's clock and decided mark stay as they are until
                    # the rest of the tick's devices are decided.
                    took += self._stopwatch() - started
                    self._unfinished = (envelope, clock, advanced, took)
                    return False
        # Records parked at this very tick of their topic follow its decisions.
        for device_id in part.waiting.pop_due(clock):
            self._unpark(device_id, part, clock, result, inclusive=True)
        part.decided = clock
        result.writes[clock_key] = _encode_clock(part)
        result.homes[clock_key] = part.number
        result.ticks.append(
            TickReport(envelope.partition, clock, advanced, took + self._stopwatch() - started)
        )
        return True

    def _reschedule(
        self, device_id: str, part: _Partition, concerned: Callable[[DeviceState], bool]
    ) -> None:
        """Schedule the device anew if `concerned` by a change of policy or user facts."""
        try:
            state = self._state(device_id, part)
            if state is None or not concerned(state):
                return
            deadline = self._deadline(state)
        except Exception as err:  # noqa: BLE001 - one device must not stop the clock
            self._failed("decision", f"re-evaluating device {device_id}", err)
            return
        part.index.schedule(device_id, deadline)

    def _unpark(
        self,
        device_id: str,
        part: _Partition,
        clock: datetime,
        result: BatchResult,
        *,
        inclusive: bool,
    ) -> None:
        """Apply the device's records parked at an epoch before `clock` (or at it too,
        with `inclusive`), in epoch order; the others stay parked."""
        try:
            state = self._state(device_id, part)
        except Exception as err:  # noqa: BLE001 - one device must not stop the clock
            self._failed("decision", f"releasing the parked records of {device_id}", err)
            return
        if state is None or not state.parked:
            return

        def ready(parked: Parked) -> bool:
            return parked.epoch < clock or (inclusive and parked.epoch == clock)

        due = sorted(
            (p for p in state.parked if ready(p)),
            key=lambda p: (p.epoch, p.topic, p.offset),
        )
        rest = tuple(p for p in state.parked if not ready(p))
        self._put(part, replace(state, parked=rest))
        for parked in due:
            envelope = Envelope(
                parked.topic,
                part.number,
                parked.offset,
                device_id.encode(),
                parked.value,
                parked.epoch,
            )
            alerts, statuses = len(result.alerts), len(result.statuses)
            journal = self._journal = {}
            try:
                # It decoded when it was parked, unless it was parked by a version whose
                # codec differs.
                event = decode(parked.value)
                self._apply(part, envelope, event, part.cache[device_id], parked.epoch, result)
            except InvalidRecord as err:
                result.outcomes[(envelope.topic, "invalid")] += 1
                result.invalid[err.reason] += 1
                result.dead_letters.append(DeadLetter(envelope, err.reason, err.message))
            except Exception as err:  # noqa: BLE001 - as in `_isolated`
                del result.alerts[alerts:], result.statuses[statuses:]
                _undo(part, journal)
                self._dead_letter_failure(envelope, result, err)
            finally:
                self._journal = None
        if rest:
            part.waiting.schedule(device_id, min(p.epoch for p in rest))

    def _decide(
        self,
        device_id: str,
        part: _Partition,
        clock: datetime,
        result: BatchResult,
    ) -> int:
        try:
            state = self._state(device_id, part)
            if state is None:
                return 0
            policy = self._policy_for(state.org_id)
            user = self._user_facts_for(state.user_id)
            new, transitions = advance(state, clock, policy, user=user)
            deadline = next_deadline(new, policy, user)
            if new is not state:
                alerts = [to_alert(t, new, clock, policy) for t in transitions]
                status = device_status(new, clock, policy)
                tracked = transitions or new.user_hold != state.user_hold
                tracking = _tracking(new) if tracked else None
        except Exception as err:  # noqa: BLE001 - one device must not stop the clock
            # The device keeps its state and leaves the index (it was popped as due):
            # deciding it again at every step would fail again. Its next record
            # schedules it anew.
            self._failed("decision", f"deciding device {device_id} at {clock.isoformat()}", err)
            return 0
        part.index.schedule(device_id, deadline)
        if new is state:
            return 0
        self._put(part, new)
        self._emitted(alerts, result)
        if tracking is not None:
            _track(part, device_id, tracking)
        result.statuses.append(status)
        return 1

    @staticmethod
    def _emitted(alerts: list[Alert], result: BatchResult) -> None:
        for alert in alerts:
            result.alerts.append(alert)
            result.transitions[(alert.kind, alert.transition)] += 1


_ABSENT = object()


def _undo(part: _Partition, journal: dict[str, tuple[DeviceState | None | object, bool]]) -> None:
    """Put back the cache entries a failed record changed."""
    for device_id, (before, dirty) in journal.items():
        if before is _ABSENT:
            part.cache.pop(device_id, None)
        else:
            part.cache[device_id] = before  # type: ignore[assignment]
        if not dirty:
            part.dirty.discard(device_id)


def _no_user_facts(user_id: str) -> UserTimeline:
    return NO_USER_FACTS


# What the partition tracks of a device: its alert levels (`kind_levels`), and whether
# its user's facts hold it.
_Tracking = tuple[tuple[str, ...], bool]
_ALL_OK = ("ok",) * len(KIND_NAMES)


def _tracking(state: DeviceState) -> _Tracking:
    return kind_levels(state), state.user_hold is not None


def _track(part: _Partition, device_id: str, tracking: _Tracking) -> None:
    levels, held = tracking
    if held:
        part.held.add(device_id)
    else:
        part.held.discard(device_id)
    if levels == _ALL_OK:
        part.troubled.pop(device_id, None)
    else:
        part.troubled[device_id] = levels


def stored_items(
    data: Mapping[str, bytes], partition: int, partition_for: Callable[[bytes], int]
) -> Iterable[tuple[str, bytes]]:
    """The (key, value) pairs of `data` that belong to `partition` by the partitioner.

    For stores that cannot list one partition's keys (a memory store also holds the
    standby copies of other workers' partitions): filter by the partitioner.
    """
    for key, value in data.items():
        if partition_for(key.encode()) == partition:
            yield key, value
