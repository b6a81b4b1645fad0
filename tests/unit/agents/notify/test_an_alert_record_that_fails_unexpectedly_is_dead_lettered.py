"""An alert record whose reading raises an exception that is not a validation error is a
dead letter (`unexpected_error`, the exception in a header), counted and logged once; the
alerts after it are delivered, and its offset can be committed. A record nested past the
decoder's limit is an `invalid_alert` dead letter (`invalid_json`)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from agents.notify.channels.email import EMAIL
from agents.notify.plan import Target
from agents.notify.runner import Notifier
from schemas.codec import encode
from tests.unit.agents.notify.alerts import example_alert
from tests.unit.agents.notify.test_an_alert_that_cannot_be_sent_is_dead_lettered_and_its_lane_goes_on import (  # noqa: E501
    SETTINGS,
    DeliveredStore,
    Outbox,
)


class Recipients:
    """An org whose recipients cannot be worked out (a bug) among ordinary ones."""

    def targets(self, org_id: str) -> list[Target]:
        if org_id == "org-broken":
            raise KeyError("a bug in the recipients")
        return [Target(EMAIL, "ops@example.com")]


class DeadLetters:
    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []

    async def send_and_wait(
        self, topic: str, value: bytes, *, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self.headers.append({name: raw.decode() for name, raw in headers})


async def test_an_unexpected_error_reading_an_alert_dead_letters_it_and_the_next_ones_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox, dead_letters = Outbox(), DeadLetters()
    notify = Notifier(SETTINGS)
    notify._store, notify._recipients = DeliveredStore(), Recipients()  # type: ignore[assignment]
    notify._producer = dead_letters
    notify._channels[EMAIL] = outbox
    values = [
        encode(example_alert(alert_id="a0", org_id="org-broken")),
        b'{"schema":"alert/1","x":' + b"[" * 1000 + b"]" * 1000 + b"}",
        encode(example_alert(alert_id="a2")),
    ]
    for offset, value in enumerate(values):
        record: Any = SimpleNamespace(offset=offset, partition=0, key=b"dev-1", value=value)
        notify._take("alerts", 0, record)
    await asyncio.wait_for(
        asyncio.gather(*notify._lane_tasks.values(), *notify._background), timeout=5
    )

    assert [m["X-Backupwatch-Alert-Id"] for m in outbox.sent] == ["a2"]
    unexpected, nested = dead_letters.headers
    assert unexpected["reason"] == "unexpected_error"
    assert unexpected["exception"] == "KeyError: 'a bug in the recipients'"
    assert unexpected["source-offset"] == "0"
    assert (nested["reason"], nested["source-offset"]) == ("invalid_alert", "1")
    assert nested["error"].startswith("invalid_json")
    assert notify.tracker.to_commit() == {0: 3}
    m = notify.metrics
    assert m.unexpected_errors.labels("alerts")._value.get() == 1
    assert m.alerts.labels("unexpected_error")._value.get() == 1
    assert m.alerts.labels("invalid")._value.get() == 1
    [logged] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged.exc_info is not None


@pytest.mark.parametrize("alert_id", ["a\r\nBcc: x@evil", "", "with space", "é", "x" * 257])
async def test_an_alert_id_that_cannot_be_a_header_is_an_invalid_alert(alert_id: str) -> None:
    # Found by the fuzz tests: such an id failed every delivery of its alert, as an
    # unexpected error, for each recipient.
    outbox, dead_letters = Outbox(), DeadLetters()
    notify = Notifier(SETTINGS)
    notify._store, notify._recipients = DeliveredStore(), Recipients()  # type: ignore[assignment]
    notify._producer = dead_letters
    notify._channels[EMAIL] = outbox
    values = [encode(example_alert(alert_id=alert_id)), encode(example_alert(alert_id="a1"))]
    for offset, value in enumerate(values):
        record: Any = SimpleNamespace(offset=offset, partition=0, key=b"dev-1", value=value)
        notify._take("alerts", 0, record)
    await asyncio.wait_for(
        asyncio.gather(*notify._lane_tasks.values(), *notify._background), timeout=5
    )
    assert [m["X-Backupwatch-Alert-Id"] for m in outbox.sent] == ["a1"]
    [letter] = dead_letters.headers
    assert letter["reason"] == "invalid_alert"
    assert letter["error"].startswith("invalid_field: `alert_id`")
    assert "\n" not in letter["error"]
    assert notify.tracker.to_commit() == {0: 2}
