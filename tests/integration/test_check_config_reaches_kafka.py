"""`backupwatch check-config` against the session's real broker: settings valid and Kafka
reached is exit 0 with what it found; input topics with another partition count than
BACKUPWATCH_PARTITIONS is exit 2 with one line saying so (a JSON object when logs are
JSON, as every line the command writes then)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.kafka_harness import REPO, MakeTopics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def check_config(bootstrap: str, prefix: str, **env: str) -> subprocess.CompletedProcess[str]:
    variables = {
        **os.environ,
        "BACKUPWATCH_BOOTSTRAP_SERVERS": bootstrap,
        "BACKUPWATCH_TOPIC_PREFIX": prefix,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "agents.cli", "check-config"],
        cwd=REPO,
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_check_config_reaches_kafka_and_names_a_partition_mismatch(
    kafka_bootstrap: str, topic_prefix: str, make_topics: MakeTopics
) -> None:
    fresh = check_config(kafka_bootstrap, topic_prefix, BACKUPWATCH_PARTITIONS="3")
    assert fresh.returncode == 0, fresh.stderr
    assert f"kafka: reached {kafka_bootstrap} (1 broker(s))" in fresh.stdout
    needed = re.search(r"topics: 0 of (\d+) present; missing", fresh.stdout)
    assert needed, fresh.stdout
    assert "reads: open to anyone who reaches 127.0.0.1:6066" in fresh.stdout

    await make_topics("heartbeats", "backup-progress", "device-commands", partitions=3)
    matching = check_config(
        kafka_bootstrap, topic_prefix, BACKUPWATCH_PARTITIONS="3", BACKUPWATCH_API_TOKEN="t"
    )
    assert matching.returncode == 0, matching.stderr
    assert f"topics: 3 of {needed[1]} present" in matching.stdout
    assert "reads: need a viewer or the admin token" in matching.stdout

    other = check_config(
        kafka_bootstrap, topic_prefix, BACKUPWATCH_PARTITIONS="4", BACKUPWATCH_LOG_FORMAT="json"
    )
    assert other.returncode == 2
    lines = [json.loads(line) for line in other.stderr.splitlines()]
    refusal = [entry for entry in lines if entry["level"] == "error"]
    assert len(refusal) == 1, lines
    assert refusal[0]["message"].startswith("BACKUPWATCH_PARTITIONS is 4 but the input topics")
    assert f"{topic_prefix}heartbeats=3" in refusal[0]["message"]
