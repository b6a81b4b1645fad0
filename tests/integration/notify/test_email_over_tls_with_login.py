"""Email over STARTTLS and over TLS from the first byte, with a login; the server's
certificate is checked (against a test CA), and a wrong password is retried, never
sent in the clear."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
import trustme

from agents.notify.settings import NotifySettings
from agents.notify.topics import NOTIFY_DEAD_LETTERS
from tests.integration.notify.alerts import alert
from tests.kafka_harness import eventually
from tests.notify_harness import SmtpRecorder, produce_alerts, read_topic
from tests.worker_harness import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def ca(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """A CA this process trusts (through SSL_CERT_FILE, as an operator's bundle would be)."""
    authority = trustme.CA()
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    return authority


def server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    return context


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_email_goes_over_tls_after_logging_in(
    mode: str, ca: trustme.CA, notifiers: Any, notify_settings: NotifySettings
) -> None:
    server = SmtpRecorder(
        free_port(),
        tls=server_context(ca),
        implicit_tls=mode == "tls",
        credentials=("alerts", "correct horse"),
    )
    await server.start()
    try:
        run = notifiers(
            notify_settings,
            smtp_host="localhost",
            smtp_port=server.port,
            smtp_tls=mode,
            smtp_username="alerts",
            smtp_password="correct horse",  # noqa: S106
        )
        await run.start_task()
        sent = alert(1)
        s = run.settings
        await produce_alerts(s.bootstrap_servers, s.topic("alerts"), [sent])
        await eventually(lambda: server.messages, what=f"an email over {mode}")
        assert server.alert_ids() == [sent.alert_id]
        assert server.logins == ["alerts"]
        await run.stop_task()
    finally:
        await server.stop()


async def test_a_wrong_password_is_retried_then_dead_lettered(
    ca: trustme.CA, notifiers: Any, notify_settings: NotifySettings
) -> None:
    server = SmtpRecorder(free_port(), tls=server_context(ca), credentials=("alerts", "right"))
    await server.start()
    try:
        run = notifiers(
            notify_settings,
            smtp_host="localhost",
            smtp_port=server.port,
            smtp_tls="starttls",
            smtp_username="alerts",
            smtp_password="wrong",  # noqa: S106
            max_attempts=3,
            webhook_urls=(),
        )
        await run.start_task()
        s = run.settings
        await produce_alerts(s.bootstrap_servers, s.topic("alerts"), [alert(1)])

        async def dead_letter() -> list[Any]:
            return await read_topic(s.bootstrap_servers, s.topic(NOTIFY_DEAD_LETTERS), settle=0.3)

        (record,) = await eventually(dead_letter, what="the email dead-lettered")
        headers = {k: v.decode() for k, v in record.headers}
        assert (headers["reason"], headers["failure"], headers["attempts"]) == (
            "attempts_exhausted",
            "smtp_auth",
            "3",
        )
        # Each attempt logs in (the client tries each mechanism the server offers).
        assert server.messages == [] and len(server.logins) >= 3
        assert set(server.logins) == {"alerts"}
        retries = await run.metric(
            "backupwatch_notify_retries_total", channel="email", failure="smtp_auth"
        )
        assert retries == 2
        await run.stop_task()
    finally:
        await server.stop()
