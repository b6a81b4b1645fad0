"""Every command that talks to Kafka, given an address where no broker listens, stops
with one line naming the address it tried and exit code 2, not a traceback.

The address is a loopback port bound but not listening: connecting is refused at once,
so no broker is needed and nothing waits."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import agents.kafka.topics
from agents.cli import main
from agents.settings import Settings
from schemas import encode
from tests.unit.factories import heartbeat


@pytest.fixture
def closed_port() -> Iterator[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def heartbeats_file(tmp_path: Path) -> Path:
    path = tmp_path / "heartbeats.jsonl"
    path.write_bytes(encode(heartbeat()) + b"\n")
    return path


def _refusal(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "command",
    [
        ["topics", "create"],
        ["worker", "--store", "memory://"],
        ["alerts"],
        ["simulate", "--devices", "3", "--days", "1"],
    ],
    ids=" ".join,
)
def test_a_command_names_the_broker_it_could_not_reach(
    command: list[str], closed_port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*command, "--bootstrap-servers", closed_port])

    assert code == 2
    assert _refusal(capsys).startswith(
        f"backupwatch: cannot reach Kafka at BACKUPWATCH_BOOTSTRAP_SERVERS={closed_port}: "
    )


def test_produce_names_the_broker_it_could_not_reach(
    closed_port: str, heartbeats_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["produce", "heartbeats", str(heartbeats_file), "--bootstrap-servers", closed_port])

    assert code == 2
    assert _refusal(capsys).startswith(
        f"backupwatch: cannot reach Kafka at BACKUPWATCH_BOOTSTRAP_SERVERS={closed_port}: "
    )


def test_simulate_names_the_broker_when_it_goes_away_after_the_topics_are_checked(
    closed_port: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def topics_exist(settings: Settings) -> list[str]:
        return []

    monkeypatch.setattr(agents.kafka.topics, "ensure_topics", topics_exist)

    code = main(["simulate", "--devices", "3", "--days", "1", "--bootstrap-servers", closed_port])

    assert code == 2
    assert _refusal(capsys).startswith(
        f"backupwatch: cannot reach Kafka at BACKUPWATCH_BOOTSTRAP_SERVERS={closed_port}: "
    )
