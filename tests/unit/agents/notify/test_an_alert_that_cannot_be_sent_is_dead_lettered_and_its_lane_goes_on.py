"""An error no channel foresaw (a bug, a message the email library refuses to write)
dead-letters the one alert it struck; the alerts after it in its lane are still sent,
and every record's offset can be committed, so a restart does not meet it again."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from types import SimpleNamespace
from typing import Any

from agents.notify.channels.email import EMAIL, build_email
from agents.notify.plan import Delivery, Target
from agents.notify.runner import Notifier
from agents.notify.settings import NotifySettings
from schemas.codec import encode
from tests.unit.agents.notify.alerts import example_alert

SETTINGS = NotifySettings(smtp_host="smtp.example.com", retry_base=0.01, retry_max=0.01)


class DeliveredStore:
    def __init__(self) -> None:
        self.outcomes: dict[bytes, str] = {}

    def __contains__(self, key: bytes) -> bool:
        return key in self.outcomes

    def __len__(self) -> int:
        return len(self.outcomes)

    async def record(self, keys: list[bytes], outcome: str) -> None:
        self.outcomes.update(dict.fromkeys(keys, outcome))


class Recipients:
    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    def targets(self, org_id: str) -> list[Target]:
        return [Target(EMAIL, address) for address in self.addresses]


class DeadLetters:
    """The producer, as far as dead letters go: their headers, by alert id."""

    def __init__(self) -> None:
        self.headers: dict[str, dict[str, str]] = {}

    async def send_and_wait(
        self, topic: str, value: bytes, *, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        shown = {name: raw.decode() for name, raw in headers}
        self.headers[shown["alert-id"]] = shown


class Outbox:
    """The email channel up to the wire; it fails on the alerts named in `broken`."""

    name = EMAIL
    slots = 4

    def __init__(self, broken: frozenset[str] = frozenset()) -> None:
        self.broken = broken
        self.sent: list[EmailMessage] = []

    def shown(self, recipient: str) -> str:
        return recipient

    async def send(self, delivery: Delivery) -> None:
        if delivery.items[0].alert.alert_id in self.broken:
            raise RuntimeError("a bug in building the message")
        self.sent.append(build_email(delivery, SETTINGS))


def notifier(channel: Outbox, *recipients: str) -> tuple[Notifier, DeliveredStore, DeadLetters]:
    store, dead_letters = DeliveredStore(), DeadLetters()
    notify = Notifier(SETTINGS)
    notify._store, notify._recipients = store, Recipients(*recipients)
    notify._producer = dead_letters
    notify._channels[EMAIL] = channel
    return notify, store, dead_letters


async def take_and_drain(notify: Notifier, alert_ids: list[str]) -> None:
    for offset, alert_id in enumerate(alert_ids):
        record: Any = SimpleNamespace(
            offset=offset,
            partition=0,
            key=b"dev-000123",
            value=encode(example_alert(alert_id=alert_id)),
        )
        notify._take("alerts", 0, record)
    await asyncio.wait_for(asyncio.gather(*notify._lane_tasks.values()), timeout=5)


async def test_an_unexpected_error_dead_letters_that_alert_and_the_next_ones_are_sent() -> None:
    outbox = Outbox(broken=frozenset({"a0"}))
    notify, store, dead_letters = notifier(outbox, "ops@example.com")

    await take_and_drain(notify, ["a0", "a1", "a2"])

    assert [m["X-Backupwatch-Alert-Id"] for m in outbox.sent] == ["a1", "a2"]
    assert set(dead_letters.headers) == {"a0"}
    headers = dead_letters.headers["a0"]
    assert headers["reason"] == "unexpected_error"
    assert headers["error"] == "RuntimeError: a bug in building the message"
    assert headers["attempts"] == "1"
    assert sorted(store.outcomes.values()) == ["dead_letter", "delivered", "delivered"]
    assert notify.tracker.to_commit() == {0: 3}


async def test_a_policy_address_with_a_line_break_is_dead_lettered_and_the_others_get_it() -> None:
    outbox = Outbox()
    notify, _store, dead_letters = notifier(
        outbox, "it@example.com\nBcc: x@evil", "ops@example.com"
    )

    await take_and_drain(notify, ["a0", "a1"])

    assert [m["To"] for m in outbox.sent] == ["ops@example.com", "ops@example.com"]
    assert set(dead_letters.headers) == {"a0", "a1"}
    for headers in dead_letters.headers.values():
        assert headers["reason"] == "unexpected_error"
        assert headers["recipient"] == "it@example.com\nBcc: x@evil"
        assert "linefeed" in headers["error"]
    assert notify.tracker.to_commit() == {0: 2}
