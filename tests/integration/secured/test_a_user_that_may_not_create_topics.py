"""A Kafka user that may not create topics, with BACKUPWATCH_CREATE_TOPICS=false: given
exactly the ACLs `backupwatch topics describe` lists, the worker and the notifier work
on topics an admin created; a topic missing or made differently stops them with one
line naming it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from agents.kafka.topics import acl_specs
from agents.notify.settings import NotifySettings
from agents.settings import Settings
from tests.integration.secured.cli import backupwatch
from tests.notify_harness import NotifierRun, SmtpRecorder
from tests.scenarios import steady_fleet
from tests.secured_kafka import SecuredBroker
from tests.unit.factories import T0
from tests.worker_harness import Pipeline, free_port

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
SILENT = "dev-2"


def _env(broker: SecuredBroker, topic_prefix: str, user: str) -> dict[str, str]:
    stem = topic_prefix.rstrip(".")
    return {
        **broker.scram_env(user),
        "BACKUPWATCH_TOPIC_PREFIX": topic_prefix,
        "BACKUPWATCH_APP_ID": f"{stem}-app",
        "BACKUPWATCH_PARTITIONS": "2",
        "BACKUPWATCH_NOTIFY_GROUP": f"{stem}-notify",
    }


async def _created_by_an_admin(broker: SecuredBroker, env: dict[str, str]) -> None:
    admin = {**env, **broker.scram_env("admin")}
    made = await asyncio.to_thread(backupwatch, "topics", "create", env=admin)
    assert made.code == 0, made.err


async def test_with_the_listed_acls_the_worker_and_notifier_work_on_existing_topics(
    secured_kafka: SecuredBroker, topic_prefix: str, tmp_path: Path
) -> None:
    env = _env(secured_kafka, topic_prefix, "limited")
    await _created_by_an_admin(secured_kafka, env)
    settings = Settings.from_env({**env, "BACKUPWATCH_CREATE_TOPICS": "false"})
    smtp = SmtpRecorder(free_port())
    await smtp.start()
    notify = NotifySettings.from_env(
        {**env, "BACKUPWATCH_CREATE_TOPICS": "false"},
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_tls="none",
        emails=("ops@example.com",),
        web_port=0,  # any free port: nothing here asks the notifier's web server
    )
    # `limited` may do what describe lists for the two processes, and nothing else.
    assert not [a for a in acl_specs(settings, notify.group) if a.resource == "cluster"]
    await secured_kafka.grant("limited", acl_specs(settings, notify.group))
    pipeline = Pipeline(settings, tmp_path)
    notifier = NotifierRun(notify, tmp_path / "notify.log")
    try:
        await pipeline.setup()
        worker = pipeline.worker()
        worker.start()
        worker.wait_ready()
        await notifier.start_task()
        scenario = steady_fleet(T0, hours=4 * 24, devices=4, silent_from={SILENT: T0 + DAY / 2})
        await pipeline.play(scenario.steps)
        alerts = await pipeline.wait_for_alerts(
            lambda found: any(a.device_id == SILENT for a in found),
            what=f"an alert for {SILENT}",
            timeout=120,
        )
        assert {a.device_id for a in alerts} == {SILENT}
    finally:
        await notifier.stop_task()
        await pipeline.close()
        await smtp.stop()


@pytest.mark.parametrize("command", [["worker", "--store", "memory://"], ["notify"]])
async def test_a_missing_topic_stops_the_process_with_one_line_naming_it(
    command: list[str], secured_kafka: SecuredBroker, topic_prefix: str
) -> None:
    env = _env(secured_kafka, topic_prefix, "limited")
    await _created_by_an_admin(secured_kafka, env)
    settings = Settings.from_env(env)
    notify = NotifySettings.from_env(env)
    await secured_kafka.grant("limited", acl_specs(settings, notify.group))
    missing = "notify-dead-letters" if command == ["notify"] else "dead-letters"
    admin = secured_kafka.scram("admin")
    client = admin.admin()
    await admin.start(client)
    try:
        await client.delete_topics([f"{topic_prefix}{missing}"])
    finally:
        await client.close()

    run = await asyncio.to_thread(
        backupwatch,
        *command,
        env={**env, "BACKUPWATCH_CREATE_TOPICS": "false", "BACKUPWATCH_WEB_PORT": "0"},
    )

    assert run.code == 2, run.err
    assert "Traceback" not in run.err
    assert run.last_line == (
        "backupwatch: BACKUPWATCH_CREATE_TOPICS=false and the topics are not as needed: "
        f"{topic_prefix}{missing} is missing (`backupwatch topics describe` lists them)"
    )
