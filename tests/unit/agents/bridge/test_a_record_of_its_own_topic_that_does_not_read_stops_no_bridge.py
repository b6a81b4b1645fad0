"""What the bridge published before is read back at start from its compacted topic; a
record there that does not read (another writer, a hostile one) is left out, and its
device is published again at the next poll, rather than stopping every start."""

from __future__ import annotations

from agents.bridge.crashplan import Published
from agents.bridge.crashplan.mapping import encode_published, remembered

NESTED = b"\x91" * 5_000 + b"\xc0"  # msgpack: arrays five thousand deep


def test_unreadable_records_are_left_out_and_counted() -> None:
    good = Published(True, "user-1", (1, 2), 0)
    records = [
        (b"dev-1", encode_published(good)),
        (b"dev-2", NESTED),
        (b"dev-3", b"not msgpack at all \xff"),
        (b"\xff\xfe", encode_published(good)),  # a key that is not UTF-8
        (b"dev-4", None),  # a tombstone
        (None, encode_published(good)),
    ]

    published, unreadable = remembered(records)

    assert published == {"dev-1": good}
    assert unreadable == 3


def test_a_later_record_of_a_device_wins() -> None:
    first = Published(True, "user-1", (1,), 0)
    later = Published(False, "user-2", (1, 2), 0)

    published, unreadable = remembered(
        [(b"dev-1", encode_published(first)), (b"dev-1", encode_published(later))]
    )

    assert published == {"dev-1": later}
    assert unreadable == 0
