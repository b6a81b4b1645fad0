"""docker-compose.yml is valid and runs the Kafka version pinned in `.env`."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]


def _pinned_version() -> str:
    for line in (REPO / ".env").read_text().splitlines():
        if line.startswith("KAFKA_VERSION="):
            return line.split("=", 1)[1].strip()
    raise AssertionError(".env pins no KAFKA_VERSION")


def test_the_compose_file_parses_and_names_its_services() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert "kafka" in compose["services"]


def test_compose_runs_the_official_image_of_the_pinned_version() -> None:
    version = _pinned_version()
    assert re.fullmatch(r"4\.\d+\.\d+", version)
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    image = compose["services"]["kafka"]["image"]
    # The version is interpolated from .env, never written a second time.
    assert image.startswith("apache/kafka:${KAFKA_VERSION")
    assert version not in (REPO / "docker-compose.yml").read_text()


def test_the_local_broker_reads_the_same_pin() -> None:
    script = (REPO / "deploy" / "kafka" / "kafka.sh").read_text()
    pom = (REPO / "deploy" / "kafka" / "pom.xml").read_text()
    assert "KAFKA_VERSION" in script
    assert _pinned_version() not in script and _pinned_version() not in pom
