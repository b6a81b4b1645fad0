"""Real servers on loopback for the notifier's tests, and a notifier to run against them.

* `SmtpRecorder`: an aiosmtpd SMTP server that records each message it accepts. It
  can be down (nothing listening), accept everything, or hold every message past the
  first N without answering — a delivery caught in the middle, for crash tests.
* `WebhookReceiver`: an aiohttp server that checks each request's signature the way a
  real receiver would (the `standardwebhooks` verifier), answers scripted statuses
  first (500, 500, …) and 200 after, and records the requests it accepted.
* `HttpRecorder`: an aiohttp server standing in for a chat or paging service that
  Apprise posts to (its `json://`, `form://`, `ntfy://`, `mmost://` plugins let the host
  be set): it answers scripted statuses, then 200, and records every request.
* `NotifierRun`: `backupwatch notify` in this process (a task) or, for crash tests, as
  a subprocess killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from agents.notify.runner import Notifier
from agents.notify.settings import NotifySettings
from schemas import encode
from schemas.models import Alert, OrgPolicy
from tests.kafka_harness import REPO, log_tail

__all__ = [
    "HttpRecorder",
    "NotifierRun",
    "SmtpRecorder",
    "WebhookReceiver",
    "produce_alerts",
    "publish_policy",
    "read_topic",
]


@dataclass
class SmtpRecorder:
    port: int
    # Messages past this many are held (never answered) while `hold_after` is set.
    hold_after: int | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    held: int = 0
    # TLS: a server context for STARTTLS (required), or for TLS from the first byte.
    tls: ssl.SSLContext | None = None
    implicit_tls: bool = False
    # (login, password) the server requires, when set.
    credentials: tuple[str, str] | None = None
    logins: list[str] = field(default_factory=list)
    # Seconds each message takes to be accepted (a slow relay).
    delay: float = 0.0
    _server: asyncio.Server | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    # Messages accepted or being accepted (what `hold_after` counts).
    _taken: int = 0

    async def start(self) -> None:
        recorder = self
        self._release = asyncio.Event()

        class Handler:
            async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
                if recorder.hold_after is not None and recorder._taken >= recorder.hold_after:
                    recorder.held += 1
                    await recorder._release.wait()
                    # The client that sent this is gone by now: refuse, record nothing.
                    return "451 4.3.0 held by the test"
                # Counted before the first await: concurrent deliveries must not all pass
                # the check above before any of them is recorded.
                recorder._taken += 1
                await asyncio.sleep(recorder.delay)
                raw = envelope.content if isinstance(envelope.content, bytes) else b""
                recorder.messages.append(message_from_bytes(raw, policy=default))  # type: ignore[arg-type]
                recorder.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos)))
                return "250 OK"

        def authenticate(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            login, password = data.login.decode(), data.password.decode()
            self.logins.append(login)
            return AuthResult(success=(login, password) == self.credentials, handled=False)

        options: dict[str, Any] = {"hostname": "localhost"}
        if self.tls is not None and not self.implicit_tls:
            options.update(tls_context=self.tls, require_starttls=True)
        if self.credentials is not None:
            options.update(
                authenticator=authenticate,
                auth_required=True,
                # With TLS from the first byte the server has no STARTTLS to check for.
                auth_require_tls=not self.implicit_tls,
            )
        loop = asyncio.get_running_loop()

        def session() -> SMTP:
            with warnings.catch_warnings():
                # TLS from the first byte is TLS, which aiosmtpd cannot tell.
                warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
                return SMTP(Handler(), **options)

        self._server = await loop.create_server(
            session,
            "127.0.0.1",
            self.port,
            ssl=self.tls if self.implicit_tls else None,
        )

    async def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.close()
            self._server = None

    def release(self) -> None:
        """Stop holding: held messages are refused, new ones accepted."""
        self.hold_after = None
        self._release.set()

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    def alert_ids(self) -> list[str]:
        return [str(m["X-Backupwatch-Alert-Id"]) for m in self.messages]


@dataclass
class WebhookReceiver:
    port: int
    secret: str
    # Statuses answered to the first requests, before answering 200.
    script: list[int] = field(default_factory=list)
    accepted: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    bad_signatures: int = 0
    # Seconds each request takes to be answered.
    delay: float = 0.0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/backupwatch?token=T0KEN"

    async def start(self) -> None:
        async def receive(request: web.Request) -> web.Response:
            body = await request.read()
            try:
                # What a receiver writes: the library's verifier, its own secret.
                Webhook(self.secret).verify(body, dict(request.headers))
                ok = True
            except WebhookVerificationError:
                ok = False
            if not ok:
                self.bad_signatures += 1
                self.answered.append(401)
                return web.Response(status=401, text="bad signature")
            await asyncio.sleep(self.delay)
            status = self.script.pop(0) if self.script else 200
            self.answered.append(status)
            if status == 200:
                self.accepted.append((dict(request.headers), body))
            return web.Response(status=status, text="ok" if status == 200 else "failing")

        app = web.Application()
        app.router.add_post("/hooks/backupwatch", receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def alert_ids(self) -> list[str]:
        return [h["X-Backupwatch-Alert-Id"] for h, _ in self.accepted]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    form: dict[str, str]


@dataclass
class HttpRecorder:
    """Any request to any path: the scripted status first, then 200; all recorded."""

    port: int
    script: list[int] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    # HTTPS, for plugins that only speak it (Microsoft Teams workflows).
    tls: ssl.SSLContext | None = None
    # Requests past this many are held unanswered until `release()`, then refused with a
    # 503 (their sender is gone by then): a delivery caught in the middle.
    hold_after: int | None = None
    # The JSON body of every answer (the service's documented shape), when set.
    reply: dict[str, Any] | None = None
    held: int = 0
    _taken: int = 0
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        async def receive(request: web.Request) -> web.Response:
            body = await request.read()
            form: dict[str, str] = {}
            if request.content_type == "application/x-www-form-urlencoded":
                form = {k: str(v) for k, v in (await request.post()).items()}
            elif request.content_type.startswith("multipart/"):
                form = {k: str(v) for k, v in (await request.post()).items()}
            if self.hold_after is not None and self._taken >= self.hold_after:
                self.held += 1
                await self._release.wait()
                return web.json_response({"ok": False}, status=503)
            self._taken += 1
            self.requests.append(
                Request(request.method, request.path_qs, dict(request.headers), body, form)
            )
            status = self.script.pop(0) if self.script else 200
            self.answered.append(status)
            document = self.reply if self.reply is not None else {"ok": status == 200}
            return web.json_response(document, status=status)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.tls).start()

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def release(self) -> None:
        """Stop holding: held requests are refused, new ones answered."""
        self.hold_after = None
        self._release.set()

    def accepted(self) -> list[Request]:
        return [r for r, status in zip(self.requests, self.answered, strict=True) if status == 200]


async def publish_policy(bootstrap: str, topic: str, policy: OrgPolicy) -> None:
    """Write an org policy to the policy topic, keyed by its org, and wait for the ack."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, encode(policy), key=policy.org_id.encode())
    finally:
        await producer.stop()


async def produce_alerts(bootstrap: str, topic: str, alerts: Iterable[Alert | bytes]) -> None:
    """Send alerts (or raw bytes) keyed by device, in order, and wait for the acks."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for alert in alerts:
            if isinstance(alert, bytes):
                await producer.send_and_wait(topic, alert, key=b"garbage")
            else:
                await producer.send_and_wait(topic, encode(alert), key=alert.device_id.encode())
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, *, settle: float = 1.0) -> list[Any]:
    """Every record of `topic`, once none came for `settle` seconds."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - quiet_since < settle:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
                quiet_since = time.monotonic()
    finally:
        await consumer.stop()
    return records


class NotifierRun:
    """One notifier: in this process (`start_task`) or as a subprocess (`start_process`)."""

    def __init__(self, settings: NotifySettings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.notifier: Notifier | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.process: subprocess.Popen[bytes] | None = None

    async def start_task(self) -> Notifier:
        self._stop = asyncio.Event()
        self.notifier = Notifier(self.settings)
        self._task = asyncio.create_task(self.notifier.run(self._stop))
        deadline = time.monotonic() + 60
        while not self.notifier.ready:
            if self._task.done():
                self._task.result()
            if time.monotonic() > deadline:
                raise AssertionError("the notifier was not ready within 60 s")
            await asyncio.sleep(0.05)
        return self.notifier

    async def stop_task(self) -> None:
        if self._task is not None:
            self._stop.set()
            await asyncio.wait_for(self._task, 60)
            self._task = None

    def start_process(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agents.cli", "notify"],
            cwd=REPO,
            env={**os.environ, **self.settings.as_env()},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill_process(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"the notifier exited:\n{log_tail(self.log_path)}")

    async def _get(self, path: str) -> tuple[int, str]:
        # Asynchronous: a notifier running as a task in this loop must answer.
        import aiohttp

        self._check_alive()
        url = f"http://{self.settings.web_host}:{self.settings.web_port}{path}"
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response,
            ):
                return response.status, await response.text()
        except (aiohttp.ClientError, OSError):
            return 0, ""

    async def metrics_text(self) -> str:
        status, text = await self._get("/metrics")
        if status != 200:
            raise AssertionError(f"/metrics answered {status}")
        return text

    async def metric(self, name: str, **labels: str) -> float:
        return metric_value(await self.metrics_text(), name, **labels)

    async def healthy(self) -> bool:
        status, _ = await self._get("/healthz")
        return status == 200


def metric_value(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def assert_each_once_in_order(
    alerts: list[Alert], smtp: SmtpRecorder, webhook: WebhookReceiver, devices: Iterable[str]
) -> None:
    """Every alert reached both channels exactly once, each device's in its order."""
    want = Counter(a.alert_id for a in alerts)
    assert Counter(smtp.alert_ids()) == want
    assert Counter(webhook.alert_ids()) == want
    for device in devices:
        own = [a.alert_id for a in alerts if a.device_id == device]
        assert [i for i in smtp.alert_ids() if i.startswith(device + "-")] == own
        assert [i for i in webhook.alert_ids() if i.startswith(device + "-")] == own
