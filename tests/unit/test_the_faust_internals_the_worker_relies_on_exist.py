"""The worker relies on parts of faust-streaming that are not its public API (named in
agents/worker/app.py, store.py, intake.py, resume.py, web.py and consumer_lag.py). pyproject.toml
bounds faust-streaming from above for that reason; this test is what to run before
raising the bound: each part it names missing fails with what uses it."""

from __future__ import annotations

import inspect
from contextvars import ContextVar
from importlib.metadata import version
from typing import Any

import faust
import faust.assignor.partition_assignor as assignor
import faust.streams
import faust.tables.base
import faust.tables.manager
import faust.tables.recovery
import faust.transport.conductor
import faust.transport.consumer
import faust.transport.drivers.aiokafka as aiokafka_driver
import faust.web.base
import faust.web.drivers.aiohttp
import mode
import pytest
from faust.stores.base import SerializedStore

FAUST = version("faust-streaming")


def _source(obj: Any) -> str:
    return inspect.getsource(obj)


# (what, how to tell it is there, what relies on it)
INTERNALS: list[tuple[str, Any, str]] = [
    (
        "faust.streams._current_event, the context variable of the current event",
        lambda: isinstance(faust.streams._current_event, ContextVar),
        "agents/worker/app.py tells the table which partition a write of the batch is for",
    ),
    (
        "aiokafka driver Consumer.seek_to_committed(), _thread.earliest_offsets / seek_wait",
        lambda: (
            inspect.iscoroutinefunction(aiokafka_driver.Consumer.seek_to_committed)
            and hasattr(aiokafka_driver.AIOKafkaConsumerThread, "earliest_offsets")
            and hasattr(aiokafka_driver.AIOKafkaConsumerThread, "seek_wait")
        ),
        "agents/worker/resume.py rewinds partitions with no committed offset",
    ),
    (
        "Consumer._drain_messages(fetcher), _add_gap, _read_offset, _committed_offset",
        lambda: (
            list(inspect.signature(faust.transport.consumer.Consumer._drain_messages).parameters)
            == ["self", "fetcher"]
            and inspect.iscoroutinefunction(faust.transport.consumer.Consumer._add_gap)
            and "self._read_offset = " in _source(faust.transport.consumer.Consumer.__init__)
            and "self._committed_offset = " in _source(faust.transport.consumer.Consumer.__init__)
        ),
        "agents/worker/intake.py takes input records in bulk;"
        " agents/worker/consumer_lag.py reads lag",
    ),
    (
        "Consumer._wait_next_records(timeout) -> (records by TP, active partitions),"
        " perform_seek, and the acknowledgement bookkeeping: _acked, _acked_index, _n_acked,"
        " _unacked_messages, _waiting_for_ack, _buffered_partitions",
        lambda: (
            list(inspect.signature(faust.transport.consumer.Consumer._wait_next_records).parameters)
            == ["self", "timeout"]
            and inspect.iscoroutinefunction(faust.transport.consumer.Consumer.perform_seek)
            and all(
                f"self.{name} = " in _source(faust.transport.consumer.Consumer.__init__)
                for name in ("_acked", "_acked_index", "_unacked_messages", "_buffered_partitions")
            )
            and "self._n_acked += 1" in _source(faust.transport.consumer.Consumer.ack)
            and "notify(self._waiting_for_ack)" in _source(faust.transport.consumer.Consumer.ack)
            and "message.acked"
            in _source(faust.transport.consumer.Consumer._clean_unacked_messages)
        ),
        "agents/worker/intake.py takes each fetch whole and acknowledges it per partition",
    ),
    (
        "Consumer._commit_offsets(offsets, start_new_transaction), which every commit takes",
        lambda: (
            list(inspect.signature(faust.transport.consumer.Consumer._commit_offsets).parameters)
            == ["self", "offsets", "start_new_transaction"]
            and "self._commit_offsets(" in _source(faust.transport.consumer.Consumer._commit_tps)
            and "self.app.producer.flush()"
            in _source(faust.transport.consumer.Consumer._commit_offsets)
        ),
        "agents/worker/intake.py writes the state cache before offsets are committed",
    ),
    (
        "Consumer.stop_flow() and App.on_rebalance_complete",
        lambda: (
            callable(faust.transport.consumer.Consumer.stop_flow)
            and hasattr(faust.App, "on_rebalance_complete")
        ),
        "agents/worker/resume.py stops the flow while streams resume",
    ),
    (
        "the aiokafka driver's Producer._ensure_producer()",
        lambda: callable(aiokafka_driver.Producer._ensure_producer),
        "agents/worker/app.py sends a batch as aiokafka record batches",
    ),
    (
        "web BlueprintManager._enabled, a list of (prefix, blueprint)",
        lambda: "self._enabled = " in _source(faust.web.base.BlueprintManager.__init__),
        "agents/worker/web.py removes Faust's table and router pages",
    ),
    (
        "the aiohttp web driver's web_app",
        lambda: "self.web_app" in _source(faust.web.drivers.aiohttp.Web.__init__),
        "agents/worker/web.py adds the API and dashboard routes",
    ),
    (
        "Recovery.completed and TableManager.actives_ready",
        lambda: (
            "self.completed = " in _source(faust.tables.recovery.Recovery.__init__)
            and "self.actives_ready = " in _source(faust.tables.manager.TableManager.__init__)
        ),
        "agents/worker/app.py and web.py: /readyz and the partition index wait for recovery",
    ),
    (
        "PartitionAssignor.assigned_actives() and assigned_standbys()",
        lambda: (
            callable(assignor.PartitionAssignor.assigned_actives)
            and callable(assignor.PartitionAssignor.assigned_standbys)
        ),
        "agents/worker/app.py, store.py, consumer_lag.py: which partitions this worker holds",
    ),
    (
        "Conductor.acks_enabled_for(topic)",
        lambda: callable(faust.transport.conductor.Conductor.acks_enabled_for),
        "agents/worker/resume.py tells stream partitions from changelogs",
    ),
    (
        "Table._new_store_by_url(url)",
        lambda: (
            list(inspect.signature(faust.tables.base.Collection._new_store_by_url).parameters)
            == ["self", "url"]
        ),
        "agents/worker/store.py puts in its memory:// store",
    ),
    (
        "SerializedStore's _iteritems, _size, _contains, _clear, persisted_offset, "
        "set_persisted_offset, on_rebalance",
        lambda: all(
            hasattr(SerializedStore, name)
            for name in (
                "_iteritems",
                "_size",
                "_contains",
                "_clear",
                "_get",
                "_set",
                "_del",
                "persisted_offset",
                "set_persisted_offset",
                "on_rebalance",
            )
        ),
        "agents/worker/store.py's PartitionMemoryStore implements them",
    ),
    (
        "Consumer.on_partitions_assigned(assigned, generation_id)",
        lambda: (
            list(
                inspect.signature(
                    faust.transport.consumer.Consumer.on_partitions_assigned
                ).parameters
            )
            == ["self", "assigned", "generation_id"]
        ),
        "agents/worker/intake.py times the assignment callback",
    ),
    (
        "the aiokafka driver's Consumer.highwaters(*partitions)",
        lambda: inspect.iscoroutinefunction(aiokafka_driver.Consumer.highwaters),
        "agents/worker/store.py asks the changelog's end offsets at an assignment",
    ),
    (
        "mode's Worker(logging_config=...)",
        lambda: "logging_config" in inspect.signature(mode.Worker.__init__).parameters,
        "agents/cli.py logs Faust's lines as JSON",
    ),
]


@pytest.mark.parametrize(("what", "present", "used_by"), INTERNALS, ids=[i[0] for i in INTERNALS])
def test_an_internal_the_worker_relies_on_is_there(what: str, present: Any, used_by: str) -> None:
    try:
        there = bool(present())
    except (AttributeError, TypeError, OSError) as err:
        there, why = False, f" ({type(err).__name__}: {err})"
    else:
        why = ""
    assert there, (
        f"faust-streaming {FAUST} no longer has {what}{why}; {used_by}. Adapt that code "
        "before raising the upper bound of faust-streaming in pyproject.toml."
    )
