"""`backupwatch topics describe` prints, without connecting to anything, every topic
the processes use (partitions and configs, with the `kafka-topics.sh` command making
each) and the ACLs each process needs; creating rights only while the processes
create topics themselves."""

from __future__ import annotations

import socket

import pytest

from agents.cli import main
from agents.kafka.topics import acl_specs, internal_topic_specs, topic_specs
from agents.notify.settings import NotifySettings
from agents.notify.topics import notify_topic_specs
from agents.settings import Settings


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_every_topic_is_described_with_the_command_that_makes_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BACKUPWATCH_BOOTSTRAP_SERVERS", _closed_port())
    monkeypatch.setenv("BACKUPWATCH_TOPIC_PREFIX", "prod.")
    monkeypatch.setenv("BACKUPWATCH_PARTITIONS", "12")
    monkeypatch.setenv("BACKUPWATCH_REPLICATION_FACTOR", "3")

    assert main(["topics", "describe"]) == 0

    out = capsys.readouterr().out
    settings = Settings(topic_prefix="prod.", partitions=12, replication_factor=3)
    specs = [
        *topic_specs(settings),
        *internal_topic_specs(settings),
        *notify_topic_specs(NotifySettings(topic_prefix="prod.")),
    ]
    assert {s.name for s in specs} >= {
        "prod.heartbeats",
        "prod.alerts",
        "backupwatch-device-state-changelog",
        "backupwatch-__assignor-__leader",
        "prod.notify-delivered",
    }
    for spec in specs:
        command = (
            f"kafka-topics.sh --bootstrap-server $BOOTSTRAP --create --topic {spec.name} "
            f"--partitions {spec.partitions} --replication-factor 3"
        )
        assert command in out
    assert "--topic prod.org-policies --partitions 1 --replication-factor 3 --config " in out
    assert "cleanup.policy=compact" in out


def test_the_acls_name_each_process_and_creating_only_while_it_creates(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    creating = acl_specs(Settings(), "backupwatch-notify")
    checking = acl_specs(Settings(create_topics=False), "backupwatch-notify")

    assert {(a.process, a.resource) for a in creating if "CREATE" in a.operations} == {
        ("worker", "cluster"),
        ("notifier", "cluster"),
    }
    assert not [a for a in checking if "CREATE" in a.operations]
    groups = {(a.process, a.name) for a in checking if a.resource == "group"}
    assert groups == {("worker", "backupwatch"), ("notifier", "backupwatch-notify")}

    monkeypatch.setenv("BACKUPWATCH_CREATE_TOPICS", "false")
    monkeypatch.setenv("BACKUPWATCH_NOTIFY_GROUP", "ops-notify")
    assert main(["topics", "describe"]) == 0
    out = capsys.readouterr().out
    assert "--allow-principal User:NOTIFIER --operation Read --group ops-notify" in out
    assert "--cluster" not in out
    assert "BACKUPWATCH_CREATE_TOPICS=false: the processes create none of these." in out
