"""docs/settings.md's tables name every variable the worker, the notifier, the ingest
endpoint, the reporters and the CrashPlan bridge read, and none that they do not."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from agents.bridge.crashplan.settings import VARIABLES as BRIDGE
from agents.ingest.settings import IngestSettings
from agents.ingest.settings import variable as ingest_variable
from agents.kafka import variables as kafka_variables
from agents.notify.settings import APPRISE_PREFIX, FILE_VARIABLES, NotifySettings, variable
from agents.reporters.settings import ReportSettings
from agents.reporters.settings import variable as report_variable
from agents.settings import Settings

SETTINGS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_every_setting_is_documented_and_every_documented_variable_is_read() -> None:
    # The Kafka connection's variables are read for both, by `KafkaConnection`.
    worker = {
        f"BACKUPWATCH_{f.name.upper()}" for f in dataclasses.fields(Settings) if f.name != "kafka"
    } | set(kafka_variables())
    notifier = {variable(f.name) for f in dataclasses.fields(NotifySettings) if f.name != "kafka"}
    ingest = {ingest_variable(f.name) for f in dataclasses.fields(IngestSettings)}
    reporters = {report_variable(f.name) for f in dataclasses.fields(ReportSettings)}
    # Secrets may be read from files, `<VARIABLE>_FILE`; Apprise targets are
    # `BACKUPWATCH_NOTIFY_APPRISE_<NAME>`, which the pattern below reads up to the `<`.
    notifier |= {f"{name}_FILE" for name in FILE_VARIABLES} | {APPRISE_PREFIX}
    documented = set(
        re.findall(r"`(BACKUPWATCH_[A-Z_]+)(?:<NAME>)?`", SETTINGS.read_text(encoding="utf-8"))
    )

    assert sorted(worker | notifier | ingest | reporters | set(BRIDGE)) == sorted(documented)
