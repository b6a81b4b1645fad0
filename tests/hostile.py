"""Hostile records for the fuzz tests: what a producer with write rights on a topic may
send, built by hypothesis.

`hostile(schema)` draws the bytes of one record meant to break a reader of that schema:
deep nesting of arrays and objects (whole record, unknown field, known field), huge and
tiny numbers, NaN and infinities, duplicate keys, every field with every wrong type,
control and bidirectional characters in strings, truncations and byte flips of valid
records, random JSON, and valid records with extreme but legal values. The seeds are the
contract's own examples (`schemas/examples/`).

How many records each target tried is counted in `TRIED`; the session prints the counts
at its end (tests/conftest.py). `EXAMPLES` is the example budget per test: small by
default (CI), larger with `BACKUPWATCH_FUZZ_EXAMPLES` (`make fuzz`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from schemas.codec import MAX_RECORD_BYTES
from schemas.types import EARLIEST, LATEST, MAX_COUNT, MAX_ID_LENGTH
from streams.state import encode_state
from tests.unit.factories import DAY, T0, healthy, heartbeat, progress, run

__all__ = [
    "EXAMPLES",
    "SCHEMAS",
    "STATES",
    "TRIED",
    "damaged_state",
    "fuzz_settings",
    "hostile",
    "json_values",
    "legal",
    "seed",
]

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "schemas" / "examples"
SCHEMAS = (
    "heartbeat",
    "backup_progress",
    "device_command",
    "org_policy",
    "alert",
    "device_status",
)
EXAMPLES = int(os.environ.get("BACKUPWATCH_FUZZ_EXAMPLES", "150"))
# Records tried, by target (`codec`, `processor`, `policies`, ...).
TRIED: Counter[str] = Counter()


def fuzz_settings(scale: float = 1.0) -> Any:
    """The example budget; fixed examples unless a longer run asks for more (then
    random ones, so that each `make fuzz` explores anew)."""
    return settings(
        max_examples=max(1, int(EXAMPLES * scale)),
        deadline=None,
        derandomize="BACKUPWATCH_FUZZ_EXAMPLES" not in os.environ,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


def seed(schema: str) -> dict[str, Any]:
    """The contract's example record of `schema`, as a JSON object."""
    document: dict[str, Any] = json.loads((EXAMPLES_DIR / f"{schema}.json").read_bytes())
    return document


def _text(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, allow_nan=True)


def _raw(document: dict[str, Any], field: str, raw: str) -> bytes:
    """`document` with `field` set to the JSON text `raw` (which json.dumps cannot
    write: NaN, 1e999, numbers of 5,000 digits...)."""
    marker = "\u0000MARK\u0000"
    text = _text({**document, field: marker})
    return text.replace(json.dumps(marker), raw).encode()


# -- pieces ------------------------------------------------------------------------

# What a string field may hold that no sane producer sends: controls (CR, LF, NUL,
# ESC), line separators, bidirectional overrides, zero-width and non-characters,
# surrogates written as escapes.
_HOSTILE_CHARS = (
    "\r\n\x00\t\x1b\x7f\x85\u2028\u2029\u202a\u202b\u202c\u202d\u202e"
    "\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u200b\ufeff\uffff"
)
hostile_text = st.one_of(
    st.text(alphabet=st.sampled_from(_HOSTILE_CHARS + "ab-~[]{}\"\\'"), max_size=40),
    st.text(max_size=40),
    st.builds(lambda n: "x" * n, st.sampled_from([0, 1, MAX_ID_LENGTH, MAX_ID_LENGTH + 1, 5000])),
    st.sampled_from(["~clock~", "~clock~0~0", "NaN", "null", "\\u0000", "2026-13-45T99:99:99Z"]),
)

# Numbers as JSON text: past every range, past a float, past Python's digit limit, not
# numbers at all to a strict reader (NaN, Infinity).
RAW_NUMBERS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "1e-999",
    "-0",
    "-0.0",
    "0.0",
    "1" + "0" * 5000,
    "-" + "9" * 400,
    "0." + "0" * 400 + "1",
    str(2**53),
    str(2**63),
    str(-(2**63) - 1),
    str(2**64),
    str(MAX_COUNT + 1),
    "1.7976931348623157e308",
    "5e-324",
    "123456789012345678901234567890.5",
    "1E400",
    "01",
    "+1",
    ".5",
    "1.",
    "0x10",
]
# A value of every JSON type (and edge values of each).
WRONG_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    -(2**63),
    2**64 - 1,
    1.5,
    -0.0,
    1e308,
    "",
    "x",
    "1",
    "true",
    "2026-11-01T08:00:00Z",
    "x" * 300,
    [],
    [None],
    [1, 2],
    ["a"],
    {},
    {"a": 1},
    {"schema": "heartbeat/1"},
    [[[]]],
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | hostile_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=12,
)


def _nested(depth: int, kind: str) -> str:
    if kind == "arrays":
        return "[" * depth + "]" * depth
    if kind == "objects":
        return '{"a":' * depth + "1" + "}" * depth
    if kind == "mixed":
        return '[{"a":' * (depth // 2) + "[]" + "}]" * (depth // 2)
    return "[" * depth  # never closed


# -- records -----------------------------------------------------------------------


@st.composite
def _deeply_nested(draw: st.DrawFn, schema: str) -> bytes:
    document = seed(schema)
    depth = draw(st.sampled_from([33, 64, 200, 999, 1000, 1001, 5000, 20_000]))
    nested = _nested(depth, draw(st.sampled_from(["arrays", "objects", "mixed", "open"])))
    where = draw(st.sampled_from(["record", "unknown", "known"]))
    if where == "record":
        return nested.encode()
    field = "x" if where == "unknown" else draw(st.sampled_from(sorted(document)))
    return _raw(document, field, nested)


@st.composite
def _wrong_type(draw: st.DrawFn, schema: str) -> bytes:
    document = seed(schema)
    field = draw(st.sampled_from(sorted(document)))
    if draw(st.booleans()):
        return _raw(document, field, draw(st.sampled_from(RAW_NUMBERS)))
    value = draw(st.sampled_from(WRONG_VALUES) | json_values)
    inner = document.get(field)
    if isinstance(inner, dict) and inner and draw(st.booleans()):
        # A field of a nested object (file_errors, a cause's evidence...).
        key = draw(st.sampled_from(sorted(inner)))
        value = {**inner, key: value}
    elif isinstance(inner, list) and inner and draw(st.booleans()):
        value = [value, *inner[1:]]
    return _text({**document, field: value}).encode()


@st.composite
def _missing_or_extra(draw: st.DrawFn, schema: str) -> bytes:
    document = seed(schema)
    gone = draw(st.sets(st.sampled_from(sorted(document))))
    extra = draw(st.dictionaries(hostile_text, json_values, max_size=3))
    return _text({**{k: v for k, v in document.items() if k not in gone}, **extra}).encode()


@st.composite
def _duplicate_keys(draw: st.DrawFn, schema: str) -> bytes:
    document = seed(schema)
    field = draw(st.sampled_from(sorted(document)))
    again = draw(st.sampled_from([*WRONG_VALUES, "heartbeat/1", "alert/1", "org_policy/1"]))
    text = _text(document)
    pair = f"{json.dumps(field)}: {_text(again)}"
    if draw(st.booleans()):
        return ("{" + pair + ", " + text[1:]).encode()
    return (text[:-1] + ", " + pair + "}").encode()


@st.composite
def _hostile_strings(draw: st.DrawFn, schema: str) -> bytes:
    document = seed(schema)
    fields = [k for k, v in document.items() if isinstance(v, str) and k != "schema"]
    changed = {k: draw(hostile_text) for k in draw(st.sets(st.sampled_from(fields), min_size=1))}
    return _text({**document, **changed}).encode()


@st.composite
def _damaged(draw: st.DrawFn, schema: str) -> bytes:
    data = bytearray(_text(seed(schema)).encode())
    how = draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
    if how == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        if how == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif len(data) > 1:
            del data[at]
    return bytes(data)


@st.composite
def _oversized(draw: st.DrawFn, schema: str) -> bytes:
    size = draw(
        st.sampled_from([MAX_RECORD_BYTES - 200, MAX_RECORD_BYTES + 1, 3 * MAX_RECORD_BYTES])
    )
    return _text({**seed(schema), "x": "y" * size}).encode()


def _millis(at: Any) -> int:
    return int(at.timestamp() * 1000)


EXTREME_TIMES = [
    EARLIEST.isoformat(),
    "2000-01-01T00:00:00+14:00",
    "2099-12-31T23:59:59.999999Z",
    "2099-12-31T23:59:59-12:00",
    "2100-01-01T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00+00:01",
    "2026-11-01T08:00:00+23:59",
    "2026-11-01T08:00:00",
    _millis(EARLIEST),
    _millis(LATEST) - 1,
    _millis(LATEST),
    0,
    -1,
]
EXTREME_VALUES: dict[str, list[Any]] = {
    "percent_complete": [0, 100, 0.0, 5e-324, 99.99999999999999, 100.00000000000001, -0.0],
    "selected_files": [0, MAX_COUNT, MAX_COUNT + 1],
    "selected_bytes": [0, MAX_COUNT, MAX_COUNT + 1],
    "todo_files": [0, MAX_COUNT],
    "todo_bytes": [0, MAX_COUNT],
    "bytes_sent": [0, MAX_COUNT, MAX_COUNT + 1],
    "backup_interval_s": [60, 31 * 86400, 59, 31 * 86400 + 1],
    "cpu_limit_percent": [1, 100, 0, 101],
    "network_limit_kbps": [1, MAX_COUNT, None, 0],
    "connection_warning_days": [5e-324, 3650, 0.001, 3650.0000001],
    "connection_critical_days": [5e-324, 3650, 0.002],
    "backup_warning_days": [5e-324, 3650],
    "backup_critical_days": [5e-324, 3650],
    "completion_warning_days": [5e-324, 3650],
    "completion_critical_days": [5e-324, 3650],
    "online_window_minutes": [5e-324, 1440],
    "reminder_hours": [5e-324, 8760, None],
    "days_observed": [0, 1e308, -1e308, 5e-324],
    "threshold_days": [0, 1e308, None],
}


@st.composite
def legal(draw: st.DrawFn, schema: str) -> bytes:
    """A record of `schema` at the edges of what it allows (and just past them)."""
    document = seed(schema)
    for field in sorted(document):
        if not draw(st.booleans()):
            continue
        if field in EXTREME_VALUES:
            document[field] = draw(st.sampled_from(EXTREME_VALUES[field]))
        elif field.endswith(("_time", "_at", "_until", "episode_start", "first_seen")):
            document[field] = draw(st.sampled_from(EXTREME_TIMES))
        elif field.endswith("_id") and field != "alert_id":
            document[field] = draw(
                st.sampled_from(["x" * MAX_ID_LENGTH, "x" * (MAX_ID_LENGTH + 1), "é" * 256, "-"])
            )
    if schema == "device_command":
        document["action"] = draw(
            st.sampled_from(
                ["deactivate", "reactivate", "snooze", "unsnooze", "set_user", "replaced"]
                + ["user_left_org"]
            )
        )
    if schema == "heartbeat" and draw(st.booleans()):
        document["reachable_destinations"] = draw(
            st.lists(st.sampled_from(["cloud", "nas", "x" * 256, "cloud"]), max_size=40)
        )
    if schema == "backup_progress" and draw(st.booleans()):
        document["destination_id"] = draw(st.sampled_from(["cloud", "nas", "d" * 256]))
    return _text(document).encode()


def hostile(schema: str) -> st.SearchStrategy[bytes]:
    """One hostile record of `schema`, of any of the kinds above."""
    return st.one_of(
        _deeply_nested(schema),
        _wrong_type(schema),
        _missing_or_extra(schema),
        _duplicate_keys(schema),
        _hostile_strings(schema),
        _damaged(schema),
        _oversized(schema),
        legal(schema),
        st.binary(max_size=64),
        json_values.map(lambda v: _text(v).encode()),
    )


# -- device states (the changelog) ---------------------------------------------------------


def _states(device: str = "dev-1") -> list[bytes]:
    quiet, _ = run([], now=T0 + 9 * DAY, state=healthy(device=device))
    busy, _ = run([heartbeat(T0, device), progress(T0, device, percent=40.0)], now=T0 + DAY)
    return [encode_state(s) for s in (healthy(device=device), quiet, busy)]


STATES = _states()


@st.composite
def damaged_state(draw: st.DrawFn, device: str = "dev-1") -> bytes:
    """A real encoded state of `device`, damaged: bits flipped, cut short, brackets,
    nulls and huge numbers put in."""
    data = bytearray(draw(st.sampled_from(STATES if device == "dev-1" else _states(device))))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["flip", "cut", "insert"]))
        if how == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif how == "cut":
            del data[at:]
            if not data:
                break
        else:
            data[at:at] = draw(st.sampled_from([b"[", b"]", b"null", b"1e999", b'"\\u0000"']))
    return bytes(data)
