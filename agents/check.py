"""`backupwatch check-config`: this machine's settings validated as the processes would
at their start, and the Kafka they name reached — before anything is deployed.

Settings are the worker's (read access included: a worker beyond loopback with no
token refuses to start) and the notifier's. Kafka must answer; the project's topics
may still be missing (`backupwatch topics create`, or a worker, makes them), but input
topics whose partition count differs from BACKUPWATCH_PARTITIONS would stop a worker.
"""

from __future__ import annotations

import logging

from agents.errors import TopicLayoutError
from agents.kafka.topics import INPUTS, topic_specs
from agents.settings import Settings

__all__ = ["check_config"]

log = logging.getLogger(__name__)


async def check_config(settings: Settings) -> list[str]:
    """Lines saying what was checked; raises `ConfigError`, `KafkaUnreachable` or
    `TopicLayoutError` with the reason when a process would not start."""
    from agents.notify.settings import NotifySettings

    settings.check_read_access()
    notify = NotifySettings.from_env()
    lines = [
        "settings: the worker's and the notifier's are valid",
        f"reads: {_reads(settings)}",
    ]
    admin = settings.kafka.admin()
    await settings.kafka.start(admin)
    try:
        cluster = await admin.describe_cluster()
        brokers = len(cluster.get("brokers", []))
        lines.append(f"kafka: reached {settings.bootstrap_servers} ({brokers} broker(s))")
        if max(settings.replication_factor, notify.replication_factor) > brokers:
            raise TopicLayoutError(
                f"BACKUPWATCH_REPLICATION_FACTOR={settings.replication_factor} needs that "
                f"many brokers; the cluster has {brokers}"
            )
        existing = set(await admin.list_topics())
        wanted = [spec.name for spec in topic_specs(settings)]
        missing = [name for name in wanted if name not in existing]
        inputs = [settings.topic(name) for name in INPUTS if settings.topic(name) in existing]
        counts = {}
        if inputs:
            counts = {d["topic"]: len(d["partitions"]) for d in await admin.describe_topics(inputs)}
        wrong = {topic: n for topic, n in counts.items() if n != settings.partitions}
        if wrong:
            layout = ", ".join(f"{topic}={n}" for topic, n in sorted(wrong.items()))
            raise TopicLayoutError(
                f"BACKUPWATCH_PARTITIONS is {settings.partitions} but the input topics have "
                f"other partition counts: {layout}"
            )
        present = len(wanted) - len(missing)
        lines.append(
            f"topics: {present} of {len(wanted)} present"
            + (f"; missing {', '.join(missing)} (backupwatch topics create)" if missing else "")
        )
    finally:
        await admin.close()
    return lines


def _reads(settings: Settings) -> str:
    if settings.reads_need_a_token:
        return "need a viewer or the admin token"
    return f"open to anyone who reaches {settings.web_host}:{settings.web_port}"
