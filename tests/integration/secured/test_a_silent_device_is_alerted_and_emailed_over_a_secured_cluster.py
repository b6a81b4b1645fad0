"""Against a cluster that wants TLS and a login: a worker, its report reader and the
notifier, each with its own Kafka clients built from the BACKUPWATCH_KAFKA_* settings,
carry a silent device from the records to an email on a real SMTP server and to the
report API, over SASL_SSL (SCRAM-SHA-512, password from a file) and over mutual TLS."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from agents.notify.settings import NotifySettings
from agents.settings import Settings
from tests.kafka_harness import eventually
from tests.notify_harness import NotifierRun, SmtpRecorder
from tests.scenarios import steady_fleet
from tests.secured_kafka import SecuredBroker
from tests.unit.factories import T0
from tests.worker_harness import Pipeline, WorkerRun, free_port

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
SILENT = "dev-3"


def _listed(worker: WorkerRun) -> set[str]:
    status, body = worker.get("/api/devices?limit=100", timeout=5)
    return {row["device_id"] for row in json.loads(body)["devices"]} if status == 200 else set()


@pytest.mark.parametrize("door", ["sasl_ssl", "mutual_tls"])
async def test_a_silent_device_is_alerted_emailed_and_listed(
    door: str, secured_kafka: SecuredBroker, topic_prefix: str, tmp_path: Path
) -> None:
    env = secured_kafka.scram_env() if door == "sasl_ssl" else secured_kafka.mutual_tls_env()
    # Everything the test's processes name starts with the prefix: topics, the worker's
    # app id (its group and Faust's topics), the notifier's group.
    stem = topic_prefix.rstrip(".")
    await secured_kafka.grant_everything_under("backupwatch", stem, stem)
    settings = Settings.from_env(env, topic_prefix=topic_prefix, app_id=f"{stem}-app", partitions=4)
    assert settings.kafka.security_protocol == ("SASL_SSL" if door == "sasl_ssl" else "SSL")
    pipeline = Pipeline(settings, tmp_path)
    smtp = SmtpRecorder(free_port())
    await smtp.start()
    notifier = NotifierRun(
        NotifySettings.from_env(
            env,
            topic_prefix=topic_prefix,
            group=f"{stem}-notify",
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_tls="none",
            emails=("ops@example.com",),
            web_port=0,  # any free port: nothing here asks the notifier's web server
        ),
        tmp_path / "notify.log",
    )
    try:
        await pipeline.setup()
        worker = pipeline.worker()
        worker.start()
        worker.wait_ready()
        await notifier.start_task()

        scenario = steady_fleet(T0, hours=4 * 24, devices=6, silent_from={SILENT: T0 + DAY / 2})
        await pipeline.play(scenario.steps)

        alerts = await pipeline.wait_for_alerts(
            lambda found: any(a.device_id == SILENT for a in found),
            what=f"an alert for {SILENT}",
            timeout=120,
        )
        assert {a.device_id for a in alerts} == {SILENT}
        emailed = await eventually(
            lambda: set(smtp.alert_ids()) & {a.alert_id for a in alerts},
            what="the notifier to email the silent device's alert",
            timeout=60,
        )
        assert emailed
        listed = await eventually(
            lambda: _listed(worker) == {f"dev-{n}" for n in range(6)} or None,
            what="the report API to list the fleet",
            timeout=60,
        )
        assert listed
    finally:
        await notifier.stop_task()
        await pipeline.close()
        await smtp.stop()
