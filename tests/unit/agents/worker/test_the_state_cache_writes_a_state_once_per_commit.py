"""The state cache (agents/worker/cache.py) holds a carried-out batch's state writes until
the commit, the newest per key, and writes them then: store first, changelog second."""

from __future__ import annotations

import asyncio

from agents.worker.cache import StateCache


class Sinks:
    """A store and a changelog that record what reached them, in order."""

    def __init__(self) -> None:
        self.store: dict[int, dict[bytes, bytes]] = {}
        self.changelog: list[tuple[int, bytes, bytes]] = []
        self.events: list[str] = []
        # Set to hold the changelog sends until released (a broker slow to acknowledge).
        self.release: asyncio.Event | None = None

    def write_store(self, partition: int, items: list[tuple[bytes, bytes]]) -> None:
        self.store.setdefault(partition, {}).update(items)
        self.events.append(f"store {partition}")

    async def send_changelog(self, partition: int, items: list[tuple[bytes, bytes]]) -> None:
        self.events.append(f"send {partition}")
        if self.release is not None:
            await self.release.wait()
        self.changelog.extend((partition, key, value) for key, value in items)
        self.events.append(f"acked {partition}")


def cache_of(sinks: Sinks, limit: int = 100) -> StateCache:
    return StateCache(sinks.write_store, sinks.send_changelog, limit)


async def test_a_key_changed_by_several_batches_is_written_once_with_its_newest_state() -> None:
    sinks = Sinks()
    cache = cache_of(sinks)

    cache.put({"dev-1": b"v1", "dev-2": b"a1"}, {"dev-1": 0, "dev-2": 1})
    cache.put({"dev-1": b"v2"}, {"dev-1": 0})
    cache.put({"dev-1": b"v3", "~clock~0~0": b"c"}, {"dev-1": 0, "~clock~0~0": 0})

    assert len(cache) == 3
    assert cache.get(0, b"dev-1") == b"v3"
    assert sinks.store == {} and sinks.changelog == []  # nothing written before the flush
    assert await cache.flush() == 3
    assert sinks.store == {0: {b"dev-1": b"v3", b"~clock~0~0": b"c"}, 1: {b"dev-2": b"a1"}}
    assert sorted(sinks.changelog) == [
        (0, b"dev-1", b"v3"),
        (0, b"~clock~0~0", b"c"),
        (1, b"dev-2", b"a1"),
    ]
    assert (cache.puts, cache.flushed, len(cache)) == (5, 3, 0)
    assert cache.get(0, b"dev-1") is None  # read from the store from now on


async def test_a_flush_writes_the_whole_store_before_it_sends_to_the_changelog() -> None:
    sinks = Sinks()
    cache = cache_of(sinks)
    cache.put({"dev-1": b"v1", "dev-2": b"a1"}, {"dev-1": 0, "dev-2": 1})

    await cache.flush()

    assert sinks.events[:2] == ["store 0", "store 1"]
    assert sorted(sinks.events[2:]) == ["acked 0", "acked 1", "send 0", "send 1"]


async def test_a_state_taken_by_a_flush_is_in_the_store_while_the_changelog_waits() -> None:
    sinks = Sinks()
    sinks.release = asyncio.Event()
    cache = cache_of(sinks)
    cache.put({"dev-1": b"v1"}, {"dev-1": 0})

    flushing = asyncio.create_task(cache.flush())
    await asyncio.sleep(0)
    # The next batch reads dev-1 meanwhile: the cache no longer has it, the store does.
    assert cache.get(0, b"dev-1") is None
    assert sinks.store[0][b"dev-1"] == b"v1"
    cache.put({"dev-1": b"v2"}, {"dev-1": 0})
    assert not flushing.done()  # returns only once the broker acknowledged
    sinks.release.set()
    assert await flushing == 1
    assert cache.get(0, b"dev-1") == b"v2"


async def test_flushes_run_one_after_the_other_so_the_newest_state_is_last_in_the_changelog() -> (
    None
):
    sinks = Sinks()
    sinks.release = asyncio.Event()
    cache = cache_of(sinks)
    cache.put({"dev-1": b"v1"}, {"dev-1": 0})
    first = asyncio.create_task(cache.flush())
    await asyncio.sleep(0)
    cache.put({"dev-1": b"v2"}, {"dev-1": 0})
    second = asyncio.create_task(cache.flush())
    await asyncio.sleep(0)

    assert sinks.events == ["store 0", "send 0"]  # the second waits for the first
    sinks.release.set()
    await asyncio.gather(first, second)

    assert [value for _, key, value in sinks.changelog if key == b"dev-1"] == [b"v1", b"v2"]
    assert sinks.store[0][b"dev-1"] == b"v2"


def test_the_cache_says_when_it_holds_its_limit_of_keys() -> None:
    cache = cache_of(Sinks(), limit=3)
    cache.put({"dev-1": b"v1", "dev-2": b"v1"}, {"dev-1": 0, "dev-2": 0})
    cache.put({"dev-1": b"v2"}, {"dev-1": 0})  # coalesced: still two keys
    assert not cache.full
    cache.put({"dev-3": b"v1"}, {"dev-3": 1})
    assert cache.full


async def test_dropped_partitions_are_never_written() -> None:
    sinks = Sinks()
    cache = cache_of(sinks)
    cache.put({"dev-1": b"v1", "dev-2": b"a1"}, {"dev-1": 0, "dev-2": 1})

    assert cache.drop([1]) == 1
    assert await cache.flush() == 1
    assert sinks.store == {0: {b"dev-1": b"v1"}}
    assert cache.pending(1) == {}
