"""A webhook with no signing secret for its org is refused (dead-lettered as `no_secret`)
unless `BACKUPWATCH_NOTIFY_WEBHOOK_UNSIGNED` says to send it unsigned; the org's own
secret wins over the default."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from standardwebhooks.webhooks import Webhook

from agents.notify.channels.webhook import WEBHOOK, WebhookChannel
from agents.notify.errors import DeliveryFailed
from agents.notify.plan import Delivery, Item
from agents.notify.settings import NotifySettings
from schemas import encode
from tests.unit.agents.notify.alerts import example_alert

ORG = "whsec_" + base64.b64encode(b"org-acme's own secret, 32 bytes!").decode()
DEFAULT = "whsec_" + base64.b64encode(b"the default secret of 32 bytes!!").decode()
ALERT = example_alert()
# The receiver is on loopback, a target refused unless named.
LOOPBACK = ("127.0.0.1",)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[tuple[str, list[web.Request], list[bytes]]]:
    seen: list[web.Request] = []
    bodies: list[bytes] = []

    async def receive(request: web.Request) -> web.Response:
        seen.append(request)
        bodies.append(await request.read())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/hook")), seen, bodies
    finally:
        await server.close()


async def send(settings: NotifySettings, url: str) -> None:
    item = Item(ALERT, encode(ALERT), "alerts", 0, 0)
    async with aiohttp.ClientSession() as session:
        await WebhookChannel(settings, session).send(Delivery(WEBHOOK, url, "lane", (item,)))


async def test_no_secret_is_refused_at_once(
    receiver: tuple[str, list[web.Request], list[bytes]],
) -> None:
    url, seen, _ = receiver
    with pytest.raises(DeliveryFailed) as failed:
        await send(NotifySettings(), url)
    assert (failed.value.reason, failed.value.permanent) == ("no_secret", True)
    assert "org-acme" in failed.value.detail
    assert seen == []


async def test_unsigned_when_told_so(receiver: tuple[str, list[web.Request], list[bytes]]) -> None:
    url, seen, _ = receiver
    await send(NotifySettings(webhook_unsigned=True, webhook_internal_hosts=LOOPBACK), url)
    (request,) = seen
    assert "webhook-id" in request.headers and "webhook-timestamp" in request.headers
    assert "webhook-signature" not in request.headers


async def test_the_org_s_own_secret_signs_not_the_default(
    receiver: tuple[str, list[web.Request], list[bytes]],
) -> None:
    url, seen, bodies = receiver
    settings = NotifySettings(
        webhook_secret=DEFAULT,
        webhook_secrets=(("org-acme", (ORG,)),),
        webhook_internal_hosts=LOOPBACK,
    )
    await send(settings, url)
    headers = dict(seen[0].headers)
    Webhook(ORG).verify(bodies[0], headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(DEFAULT).verify(bodies[0], headers)
