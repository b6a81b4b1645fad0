"""Alert delivery throughput: `backupwatch notify` against the same deliveries sent
directly, with no Kafka and no record of what was delivered.

    python -m bench.notify [--alerts N] [--devices N] [--runs N]

One invocation starts a local broker (or uses `KAFKA_BOOTSTRAP_SERVERS`), an SMTP
server (aiosmtpd) and a webhook receiver (aiohttp) on loopback in this process, and
alternates two runners, each delivering every alert as one email and one webhook:

* **direct**: this process sends the emails (aiosmtplib, one connection per message,
  4 at a time) and the signed webhooks (aiohttp, 16 at a time) straight from a list —
  the floor set by the protocols and the servers.
* **notify**: `python -m agents.cli notify` in its own process, on a topic holding the
  alerts (fresh topics and group each run). It adds reading the alerts, the
  per-device lanes, and one acknowledged `notify-delivered` record per delivery before
  the next delivery of that lane.

Both are timed from the first message the servers receive to the last (the notifier's
start and group join are logged apart, as "ready to first delivery"). Figures are
medians of `--runs` runs, in deliveries per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import aiosmtplib
from aiohttp import web
from aiokafka.admin import NewTopic
from aiosmtpd.smtp import SMTP, Envelope, Session

from agents.notify.channels.email import EMAIL, build_email
from agents.notify.plan import Delivery, Item
from agents.notify.settings import NotifySettings
from agents.notify.signing import signature_headers
from bench.harness import Broker, log
from schemas import encode
from schemas.codec import decode_as
from schemas.models import Alert

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "schemas" / "examples" / "alert.json"
# A benchmark's own key: `whsec_` and the base64 of 32 bytes.
SECRET = "whsec_YmVuY2gtc2VjcmV0LWJlbmNoLXNlY3JldC1iZW5jaC0="  # noqa: S105


class Servers:
    """Count what arrives; `done` is set once `expected` messages of each kind came."""

    def __init__(self) -> None:
        self.emails = 0
        self.hooks = 0
        self.expected = 0
        self.done = asyncio.Event()
        self.first = 0.0
        self.last = 0.0

    def _check(self) -> None:
        now = time.perf_counter()
        if not self.first:
            self.first = now
        if self.emails >= self.expected and self.hooks >= self.expected and not self.done.is_set():
            self.last = now
            self.done.set()

    def reset(self, expected: int) -> None:
        self.emails = self.hooks = 0
        self.expected = expected
        self.done = asyncio.Event()
        self.first = self.last = 0.0

    async def start(self) -> tuple[int, int]:
        servers = self

        class Handler:
            async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
                servers.emails += 1
                servers._check()
                return "250 OK"

        async def hook(request: web.Request) -> web.Response:
            await request.read()
            servers.hooks += 1
            servers._check()
            return web.Response(text="ok")

        loop = asyncio.get_running_loop()
        smtp = await loop.create_server(lambda: SMTP(Handler()), "127.0.0.1", 0)
        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        smtp_port = smtp.sockets[0].getsockname()[1]
        hook_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return int(smtp_port), int(hook_port)


def make_alerts(count: int, devices: int) -> list[Alert]:
    base = decode_as(EXAMPLE.read_bytes(), Alert)
    now = datetime.now(UTC)
    return [replace_alert(base, f"a{n:06d}", f"dev-{n % devices:05d}", now) for n in range(count)]


def replace_alert(base: Alert, alert_id: str, device: str, now: datetime) -> Alert:
    from msgspec.structs import replace as struct_replace

    return struct_replace(
        base, alert_id=alert_id, device_id=device, hostname=device, emitted_at=now
    )


async def run_direct(settings: NotifySettings, alerts: list[Alert], servers: Servers) -> float:
    servers.reset(len(alerts))
    email_slots, hook_slots = asyncio.Semaphore(4), asyncio.Semaphore(16)

    async with aiohttp.ClientSession() as session:

        async def email(alert: Alert) -> None:
            item = Item(alert, encode(alert), "alerts", 0, 0)
            message = build_email(
                Delivery(EMAIL, "ops@example.com", alert.device_id, (item,)), settings
            )
            async with email_slots:
                await aiosmtplib.send(
                    message, hostname="127.0.0.1", port=settings.smtp_port, start_tls=False
                )

        async def hook(alert: Alert) -> None:
            body = encode(alert)
            headers = {"Content-Type": "application/json"}
            headers.update(signature_headers([SECRET], alert.alert_id, datetime.now(UTC), body))
            async with (
                hook_slots,
                session.post(settings.webhook_urls[0], data=body, headers=headers) as r,
            ):
                await r.read()

        await asyncio.gather(*(email(a) for a in alerts), *(hook(a) for a in alerts))
        await servers.done.wait()
        return servers.last - servers.first


async def run_notify(
    settings: NotifySettings, alerts: list[Alert], servers: Servers, log_path: Path
) -> float:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    run_settings = replace(settings, topic_prefix=prefix, group=f"{prefix}notify")
    admin = settings.kafka.admin()
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(prefix + "alerts", 8, 1), NewTopic(prefix + "org-policies", 1, 1)]
        )
        while prefix + "alerts" not in set(await admin.list_topics()):
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    await asyncio.sleep(1.0)  # leaders elected before the first send
    producer = settings.kafka.producer(acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(prefix + "alerts", encode(a), key=a.device_id.encode())
            for a in alerts
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    servers.reset(len(alerts))
    with log_path.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "agents.cli", "notify"],
            cwd=REPO,
            env={**os.environ, **run_settings.as_env(), "BACKUPWATCH_LOG_LEVEL": "warning"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{run_settings.web_port}/healthz"
        async with aiohttp.ClientSession() as session:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the notifier exited; see {log_path}")
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        ready = time.perf_counter()
        await asyncio.wait_for(servers.done.wait(), 600)
        log(f"ready to first delivery: {servers.first - ready:.2f} s")
        return servers.last - servers.first
    finally:
        process.terminate()
        process.wait(timeout=60)


async def main_async(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    broker = Broker.start(tmp)
    try:
        servers = Servers()
        smtp_port, hook_port = await servers.start()
        settings = NotifySettings(
            bootstrap_servers=broker.bootstrap,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_tls="none",
            emails=("ops@example.com",),
            webhook_urls=(f"http://127.0.0.1:{hook_port}/hook",),
            webhook_secret=SECRET,
            # The receiver is on loopback, a target refused unless named.
            webhook_internal_hosts=("127.0.0.1",),
            web_port=_free_port(),
        )
        alerts = make_alerts(args.alerts, args.devices)
        deliveries = 2 * len(alerts)
        times: dict[str, list[float]] = {"direct": [], "notify": []}
        for run in range(1, args.runs + 1):
            for name in ("direct", "notify"):
                if name == "direct":
                    took = await run_direct(settings, alerts, servers)
                else:
                    took = await run_notify(settings, alerts, servers, tmp / "notify.log")
                times[name].append(took)
                log(f"run {run} {name}: {deliveries / took:,.0f} deliveries/s ({took:.2f} s)")
        print(
            f"\n{args.alerts} alerts × (email + webhook) = {deliveries} deliveries, "
            f"{args.devices} devices, {args.runs} runs, median; "
            f"{platform.machine()}, {os.cpu_count()} CPUs"
        )
        for name, values in times.items():
            median = statistics.median(values)
            print(f"  {name:<7} {deliveries / median:8,.0f} deliveries/s  ({median:.2f} s)")
    finally:
        broker.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
