"""A webhook may not point at this machine or at a link-local address (the cloud
metadata service) unless its host is named in BACKUPWATCH_WEBHOOK_INTERNAL_HOSTS: the
API refuses such a policy (400), the notifier such a default (at start), and a delivery
to such a URL, or to a name that resolves to such an address, is refused outright."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestClient, TestServer

from agents.errors import ConfigError
from agents.notify.channels.webhook import WebhookChannel
from agents.notify.errors import DeliveryFailed
from agents.notify.settings import NotifySettings
from agents.report.api import attach_routes
from agents.report.fleet import FleetView
from agents.settings import Settings
from agents.webhook_targets import TargetResolver, refusal
from tests.unit.agents.notify.alerts import example_alert
from tests.unit.agents.report.served_report_api import TOKEN, FakeWorker, Served, fill, serve

SECRET = "whsec_" + base64.b64encode(b"a signing secret of 32 bytes!!!!").decode()
REFUSED = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://127.0.0.1:6067/metrics",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f.0.0.1/",
    "http://0.0.0.0:6066/api/orgs/x/policy",
    "http://[::1]:8080/",
    "http://[::ffff:127.0.0.1]/",
    "http://[fe80::1]/",
    "http://localhost:9092/",
    "http://LOCALHOST./",
    "http://kafka-ui.localhost/",
]
ALLOWED = [
    "https://hooks.slack.example/services/T0/B0/TOKEN",
    "http://10.0.0.5/hook",
    "https://192.168.1.20/hook",
]


@pytest.mark.parametrize("url", REFUSED)
def test_loopback_and_link_local_targets_are_refused(url: str) -> None:
    assert refusal(url, ()) is not None


@pytest.mark.parametrize("url", ALLOWED)
def test_other_targets_are_not(url: str) -> None:
    assert refusal(url, ()) is None


def test_a_named_internal_host_is_allowed() -> None:
    assert refusal("http://127.0.0.1:8080/hook", ("127.0.0.1",)) is None
    assert refusal("http://LocalHost:8080/hook", ("localhost",)) is None
    assert refusal("http://[::1]:8080/hook", ("[::1]",)) is None
    assert refusal("http://169.254.169.254/", ("127.0.0.1",)) is not None


@pytest_asyncio.fixture
async def api() -> AsyncIterator[Served]:
    async for served in serve(TOKEN):
        yield served


async def test_the_api_refuses_a_policy_webhook_at_the_metadata_service(api: Served) -> None:
    body = {"webhook_urls": ["https://hooks.example/x", "http://169.254.169.254/latest/"]}

    status, answer = await api.call("PUT", "/api/orgs/org-1/policy", body, token=TOKEN)

    assert status == 400
    assert answer["parameter"] == "webhook_urls"
    assert "169.254.169.254 is a link-local address" in answer["error"]
    assert "BACKUPWATCH_WEBHOOK_INTERNAL_HOSTS" in answer["error"]
    assert api.worker.producer.sent == []


async def test_the_api_refuses_it_as_a_recipient_too(api: Served) -> None:
    body = {"recipients": [{"channel": "webhook", "target": "http://[::1]:6067/metrics"}]}

    status, answer = await api.call("PUT", "/api/orgs/org-1/policy", body, token=TOKEN)

    assert status == 400
    assert answer["parameter"] == "recipients"
    assert "::1 is a loopback address" in answer["error"]
    assert api.worker.producer.sent == []


async def test_the_api_accepts_it_for_a_named_internal_host() -> None:
    worker = FakeWorker(Settings(api_token=TOKEN, webhook_internal_hosts=("127.0.0.1",)))
    view = FleetView(worker.policies.policy_for)
    fill(view)
    app = web.Application()
    attach_routes(app.router, worker.settings, view, worker.policies, worker.publish)
    async with TestClient(TestServer(app)) as client:
        served = Served(client, worker, view)
        body = {"webhook_urls": ["http://127.0.0.1:9000/hook"]}
        status, answer = await served.call("PUT", "/api/orgs/org-1/policy", body, token=TOKEN)

    assert status == 202, answer
    assert len(worker.producer.sent) == 1


def test_the_notifier_refuses_such_a_default_webhook_at_start() -> None:
    with pytest.raises(ConfigError, match="BACKUPWATCH_NOTIFY_WEBHOOK_URLS.*169.254.169.254"):
        NotifySettings(webhook_secret=SECRET, webhook_urls=("http://169.254.169.254/x",))
    NotifySettings(
        webhook_secret=SECRET,
        webhook_urls=("http://127.0.0.1:9000/x",),
        webhook_internal_hosts=("127.0.0.1",),
    )


def test_the_variable_is_read_by_the_worker_and_the_notifier_alike() -> None:
    env = {"BACKUPWATCH_WEBHOOK_INTERNAL_HOSTS": "hooks.internal, 127.0.0.1"}
    assert Settings.from_env(env).webhook_internal_hosts == ("hooks.internal", "127.0.0.1")
    assert NotifySettings.from_env(env).webhook_internal_hosts == ("hooks.internal", "127.0.0.1")
    settings = Settings(webhook_internal_hosts=("a", "b"))
    assert Settings.from_env(settings.as_env()) == settings


# -- at delivery -----------------------------------------------------------------------


class HostsFile(AbstractResolver):
    """Resolves names as an /etc/hosts or a DNS zone would: here, an internal-sounding
    name that points at this machine."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = self.names[host.rstrip(".")]
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A webhook receiver on loopback, recording what it is sent."""
    received: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1], received
    finally:
        await runner.cleanup()


async def _deliver(url: str, allowed: tuple[str, ...]) -> None:
    from agents.notify.channels.webhook import WEBHOOK
    from agents.notify.plan import Delivery, Item

    settings = NotifySettings(webhook_secret=SECRET, webhook_internal_hosts=allowed, timeout=5)
    resolver = TargetResolver(allowed, inner=HostsFile({"hooks.corp.example": "127.0.0.1"}))
    alert = example_alert()
    item: Any = Item(alert, b"{}", "alerts", 0, 0)
    delivery = Delivery(WEBHOOK, url, alert.device_id, (item,), waiters=[])
    connector = aiohttp.TCPConnector(resolver=resolver)
    async with aiohttp.ClientSession(connector=connector) as session:
        await WebhookChannel(settings, session).send(delivery)


async def test_a_name_resolving_to_loopback_is_refused_when_delivering(
    receiver: tuple[int, list[bytes]],
) -> None:
    port, received = receiver

    with pytest.raises(DeliveryFailed) as refused:
        await _deliver(f"http://hooks.corp.example:{port}/hook", ())

    assert refused.value.reason == "refused_target"
    assert refused.value.permanent
    assert "hooks.corp.example resolves to 127.0.0.1" in refused.value.detail
    assert received == []


async def test_an_address_url_is_refused_before_connecting(
    receiver: tuple[int, list[bytes]],
) -> None:
    port, received = receiver

    with pytest.raises(DeliveryFailed) as refused:
        await _deliver(f"http://127.0.0.1:{port}/hook", ())

    assert refused.value.reason == "refused_target"
    assert received == []


async def test_a_named_internal_host_is_delivered_to(receiver: tuple[int, list[bytes]]) -> None:
    port, received = receiver

    await _deliver(f"http://hooks.corp.example:{port}/hook", ("hooks.corp.example",))
    await _deliver(f"http://127.0.0.1:{port}/hook", ("127.0.0.1",))

    assert received == [b"{}", b"{}"]
