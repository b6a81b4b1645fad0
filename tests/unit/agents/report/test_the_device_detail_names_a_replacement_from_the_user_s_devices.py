"""The device detail diagnoses a silent device against its user's other devices: a newer
one in use has replaced it (`streams.diagnosis.newer_device_hint`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio

from streams.state import encode_state
from tests.unit.agents.report.served_report_api import TOKEN, Served, serve
from tests.unit.factories import DAY, T0, heartbeat, progress, run

NOW = T0 + 6 * DAY  # the clock of partition 0 in the served fleet


@pytest_asyncio.fixture
async def api() -> AsyncIterator[Served]:
    async for served in serve(TOKEN):
        old, _ = run(
            [
                heartbeat(T0 - DAY, "dev-old", user_id="user-9"),
                heartbeat(T0, "dev-old", user_id="user-9"),
                progress(T0, "dev-old", user_id="user-9"),
            ],
            now=NOW,
        )
        new, _ = run(
            [
                heartbeat(T0 + DAY, "dev-new", user_id="user-9"),
                heartbeat(NOW - timedelta(hours=1), "dev-new", user_id="user-9"),
                progress(NOW - timedelta(hours=1), "dev-new", user_id="user-9"),
            ],
            now=NOW,
        )
        for state in (old, new):
            served.view.take(state.device_id.encode(), encode_state(state), 0)
        yield served


async def test_a_silent_device_whose_user_has_a_newer_one_in_use_reads_as_replaced(
    api: Served,
) -> None:
    status, body = await api.call("GET", "/api/devices/dev-old", token=TOKEN)

    assert status == 200
    connection = next(a for a in body["open_alerts"] if a["kind"] == "connection")
    first = connection["diagnosis"][0]
    assert first["code"] == "replaced_by_newer_device"
    assert first["evidence"]["newer_device_id"] == "dev-new"
    assert body["top_cause"] == "replaced_by_newer_device"


async def test_the_newer_device_is_not_said_to_be_replaced(api: Served) -> None:
    status, body = await api.call("GET", "/api/devices/dev-new", token=TOKEN)

    assert status == 200
    assert (body["worst_state"], body["open_alerts"], body["top_cause"]) == ("ok", [], None)


async def test_the_device_list_names_the_replacement_too(api: Served) -> None:
    # dev-old's row was cut before dev-new's was known (in the order the changelog
    # gave them): dev-new's first row cuts it again.
    status, body = await api.call("GET", "/api/devices?user=user-9&sort=device_id", token=TOKEN)

    assert status == 200
    assert {d["device_id"]: d["top_cause"] for d in body["devices"]} == {
        "dev-new": None,
        "dev-old": "replaced_by_newer_device",
    }
