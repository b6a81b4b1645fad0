"""A BACKUPWATCH_DATA_DIR the worker cannot use stops it at start with one line naming
the variable, before Kafka is asked anything (no broker listens at the address given)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.cli import main


def _worker(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("BACKUPWATCH_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("BACKUPWATCH_DATA_DIR", str(data_dir))
    return main(["worker"])


def test_a_data_dir_whose_parent_does_not_exist_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "not-mounted" / "worker"

    code = _worker(data_dir, monkeypatch)

    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        f"backupwatch: BACKUPWATCH_DATA_DIR={data_dir}: its parent {data_dir.parent} does "
        "not exist (or is not a directory); create it, or mount the volume meant to be there\n"
    )
    assert not data_dir.parent.exists()


def test_a_data_dir_that_is_a_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "worker"
    data_dir.write_text("")

    code = _worker(data_dir, monkeypatch)

    assert code == 2
    assert capsys.readouterr().err == (
        f"backupwatch: BACKUPWATCH_DATA_DIR={data_dir} is not a directory\n"
    )


def test_a_data_dir_whose_parent_exists_is_made_and_kafka_is_asked_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "worker"

    code = _worker(data_dir, monkeypatch)

    assert code == 2
    assert data_dir.is_dir()
    # (aiokafka logs its own line about the broker before it)
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("backupwatch: cannot reach Kafka"), last
