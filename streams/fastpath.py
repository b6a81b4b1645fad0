"""What the hot path needs for speed, kept apart from the rules.

Why any of this: a worker folds hundreds of thousands of events a second into device
states that, at fleet scale, sit in memory the CPU has not touched since the device's
last event. What an event costs is then the number of distinct objects it reads and
allocates, far more than its arithmetic. So the core (a) shares one object for each
value many states hold — org and destination ids, OS names, app versions, tuples of
destination ids, day numbers — so that a state points at objects already in the CPU
cache and a comparison with one is an identity check; (b) loads a state's fields all
at once before using any, so that their cache misses overlap instead of following one
another (about 3 % of an event in `bench.core`); (c) finds a fingerprint in the
`recent` ring with one `bytes.find`; (d) copies a state with at most 14 changed
fields per call to `msgspec.structs.replace` (the common case of an event), and the
rare fields in a second call: CPython passes a call of more keywords a dict it builds
(CALL_FUNCTION_EX), which took a copy from ~0.15 to ~0.7 µs; (e) counts an event's
day with `utc_day`, which does not share the int it returns (a day is shared only
when a state stores it). The rules call these by
name and carry no other tuning; the state's layout choices (heartbeats counted apart
from the day buckets, `reached`, the ring as one bytes object) are explained where the
fields are declared.

None of this changes a result: each function returns a value equal to what it is given
or to what the plain computation gives. The sharing tables are the only module-level
state of `streams`, and they are caches: bounded, and past the bound a value is simply
not shared.
"""

from __future__ import annotations

from datetime import UTC, datetime

from msgspec.structs import astuple

__all__ = ["prefetch", "ring_holds", "shared", "shared_day", "shared_ids", "utc_day"]

_SHARED_LIMIT = 65_536
_shared: dict[str, str] = {}
_shared_ids: dict[tuple[str, ...], tuple[str, ...]] = {}
# One int object per day number. Event times lie in 2000–2100 (checked when a record is
# built) and clock instants near them, so the table holds at most one entry per day of
# that century.
_day_numbers: dict[int, int] = {}


def shared(value: str) -> str:
    """The shared copy of `value` (an equal string)."""
    found = _shared.get(value)
    if found is not None:
        return found
    if len(_shared) < _SHARED_LIMIT:
        _shared[value] = value
    return value


def shared_ids(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The shared copy of the tuple of `values` (an equal tuple of shared strings)."""
    ids = tuple(values)
    found = _shared_ids.get(ids)
    if found is not None:
        return found
    ids = tuple(shared(v) for v in values)
    if len(_shared_ids) < _SHARED_LIMIT:
        _shared_ids[ids] = ids
    return ids


def shared_day(day: int) -> int:
    """The shared int object equal to `day`."""
    return _day_numbers.setdefault(day, day)


# Load every field of a state (a msgspec Struct) at once, before any is used: the
# fields as a tuple, thrown away (the C function itself, so that it costs no call).
prefetch = astuple


def ring_holds(recent: bytes, key: bytes, found: int) -> bool:
    """Whether the ring of 4-byte words `recent` holds the word `key`, `found` being
    `recent.find(key)`, which the caller takes inline: most events are new, and that
    one search says so without a call. `find`, not `in`: `bytes.__contains__` first
    tries its argument as an int and formats and discards a TypeError for every bytes
    argument, which doubled the cost of the check."""
    # Only a match on a word boundary is a fingerprint (not the tail of one and the
    # head of the next).
    while found > 0 and found & 3:
        found = recent.find(key, found + 1)
    return found >= 0


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()


def utc_day(t: datetime) -> int:
    """Days since the epoch of `t`'s UTC date (`streams.state.day_number` without the
    sharing, for a day that is compared, or shared before it is stored). A UTC time's
    own date is its UTC date, and its ordinal is cheaper than a difference of times."""
    return t.toordinal() - _EPOCH_ORDINAL if t.tzinfo is UTC else (t - _EPOCH).days
