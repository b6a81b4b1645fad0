"""`backupwatch produce` given a file it cannot read stops with one line naming the file
and why, exit code 2, before Kafka is asked anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.cli import main


@pytest.mark.parametrize(
    ("name", "why"),
    [("missing.jsonl", "No such file or directory"), (".", "Is a directory")],
)
def test_produce_names_the_file_it_cannot_read(
    name: str, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name

    code = main(["produce", "heartbeats", str(path), "--bootstrap-servers", "127.0.0.1:1"])

    assert code == 2
    assert capsys.readouterr().err == f"backupwatch: cannot read {path}: {why}\n"
