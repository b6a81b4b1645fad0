"""The report API served as a worker's reader serves it, over a fleet view filled from
encoded states, and a check of its answers against the OpenAPI document.

Admin writes go to a producer that records what it would publish. An answer is checked
against the schema the document gives for its path, method and status, with objects
closed to properties the document leaves out.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from jsonschema import Draft202012Validator

from agents.books.policies import PolicyBook
from agents.books.targets import TargetDirectory, announcement
from agents.books.users import UserBook
from agents.report.access import protect
from agents.report.api import attach_routes
from agents.report.fleet import FleetView
from agents.report.openapi import served_document
from agents.settings import Settings
from schemas.codec import encode
from schemas.models import OrgPolicy
from streams.pipeline import CLOCK_KEY_PREFIX
from streams.state import DeviceState, encode_state
from streams.users import put_on_leave
from tests.unit.factories import DAY, T0, healthy, heartbeat, progress, run

__all__ = [
    "CLOCKS",
    "DOCUMENT",
    "READER",
    "TOKEN",
    "VIEWER",
    "FakeWorker",
    "Served",
    "check_against_document",
    "fill",
    "serve",
    "stuck_at_99",
]

# The document as the API serves it.
DOCUMENT: dict[str, Any] = orjson.loads(served_document())
TOKEN = "s3cret-admin-token"  # noqa: S105 - the test's own token
VIEWER = "s3cret-viewer-token"  # noqa: S105 - the test's own token
READER = {"Authorization": f"Bearer {VIEWER}"}


def closed(node: Any) -> Any:
    """`node` with every object schema that lists properties closed to others, so that
    a field the API sends but the document leaves out fails the check."""
    if isinstance(node, dict):
        node = {key: closed(value) for key, value in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [closed(item) for item in node]
    return node


COMPONENTS = closed(copy.deepcopy(DOCUMENT["components"]))


def check_against_document(path: str, method: str, status: int, body: Any) -> None:
    """`body` is what the document promises for `status` of `method path`."""
    responses = DOCUMENT["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} answered {status}: {body}"
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    validator = Draft202012Validator(
        {**closed(schema), "components": COMPONENTS},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert errors == [], f"{method.upper()} {path} ({status})"


@dataclass
class Sent:
    topic: str
    key: bytes
    value: bytes
    partition: int | None
    timestamp: int | None
    headers: Any


@dataclass
class Producer:
    """Records what the API would publish."""

    sent: list[Sent] = field(default_factory=list)

    async def send_and_wait(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        partition: int | None = None,
        timestamp: int | None = None,
        headers: Any = None,
    ) -> None:
        self.sent.append(Sent(topic, key, value, partition, timestamp, headers))


class FakeWorker:
    """What the API uses of its process: settings, policies, a way to publish."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.policies = PolicyBook(settings)
        self.users = UserBook(settings)
        self.producer = Producer()

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        await self.producer.send_and_wait(topic, key, value)


# Partition clocks: partition 2 has read two days further than the others.
CLOCKS = {0: T0 + 6 * DAY, 1: T0 + 6 * DAY, 2: T0 + 8 * DAY}


def stuck_at_99(device: str) -> DeviceState:
    """Data flows every day but 100 % is never reached: a completion warning."""
    events: list[Any] = []
    for day in range(1, 9):
        at = T0 + day * DAY
        events.append(heartbeat(at, device, org_id="org-2"))
        events.append(
            progress(
                at,
                device,
                org_id="org-2",
                percent=99.6,
                session_state="sending",
                bytes_sent=500_000_000,
                todo_files=3,
                todo_bytes=40_000_000,
                errors={"locked": 3},
            )
        )
    state, _ = run(events, now=T0 + 8 * DAY, state=healthy(device=device))
    return state


def fleet_states() -> list[tuple[DeviceState, int]]:
    fine = healthy(T0 + 6 * DAY, device="dev-1")
    silent, _ = run([], now=T0 + 6 * DAY, state=healthy(device="dev-2"))
    return [(fine, 0), (silent, 1), (stuck_at_99("dev-3"), 2)]


def fill(view: FleetView) -> None:
    for partition, clock in CLOCKS.items():
        millis = str(int(clock.timestamp() * 1000))
        key = f"{CLOCK_KEY_PREFIX}{partition}~0".encode()
        view.take(key, f"{millis};{millis};{millis};{millis}".encode(), partition)
    for state, partition in fleet_states():
        view.take(state.device_id.encode(), encode_state(state), partition)
    view.caught_up.set()


@dataclass
class Served:
    client: TestClient[web.Request, web.Application]
    worker: FakeWorker
    view: FleetView

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = VIEWER
    ) -> tuple[int, Any]:
        """One request; with a viewer token unless `token` says otherwise (None: none)."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        data = body if isinstance(body, bytes) else orjson.dumps(body) if body is not None else None
        response = await self.client.request(method, path, data=data, headers=headers)
        raw = await response.read()
        if response.content_type == "application/json":
            return response.status, orjson.loads(raw)
        return response.status, raw


async def serve(token: str) -> AsyncIterator[Served]:
    """The API as a worker's reader serves it; `token` is the admin token, and with one
    a viewer token (VIEWER) is configured too. "" configures no token at all."""
    tokens = (VIEWER,) if token else ()
    worker = FakeWorker(Settings(api_token=token, viewer_tokens=tokens))
    # A user with facts and no device yet (a new hire's laptop not switched on).
    worker.users.apply_record(
        encode(
            put_on_leave(
                None,
                "user-on-leave",
                at=T0,
                until=T0 + 60 * DAY,
                reason="parental leave",
                updated_at=T0,
            )
        )
    )
    worker.policies.apply_record(
        encode(OrgPolicy(org_id="org-1", updated_at=T0, connection_warning_days=2.0))
    )
    view = FleetView(worker.policies.policy_for)
    fill(view)
    app = web.Application()
    protect(app, worker.settings)
    # The notifier announced one Apprise target.
    targets = TargetDirectory()
    targets.apply_record(announcement("apprise", ["ops-slack"])[1])
    attach_routes(
        app.router, worker.settings, view, worker.policies, worker.publish, targets, worker.users
    )
    async with TestClient(TestServer(app)) as client:
        yield Served(client, worker, view)
