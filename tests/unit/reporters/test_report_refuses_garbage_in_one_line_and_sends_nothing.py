"""Bad input stops `backupwatch report` before anything is sent: the URL below has no
server behind it, so a report that tried to send would say it cannot reach it."""

from __future__ import annotations

import io
import socket
import sys
from pathlib import Path

import pytest

from agents.cli import main
from tests.cli_check import cli_refusal


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/api/ingest"


@pytest.mark.parametrize("tool", ["restic", "borg"])
@pytest.mark.parametrize("given", [b"", b"\n\n", b"garbage\n", b"\x00\xff\xfe", b'{"a": 1}'])
def test_garbage_or_nothing_on_stdin_is_one_line_and_exit_2(
    tool: str,
    given: bytes,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(given)))
    monkeypatch.setenv("BACKUPWATCH_REPORT_TOKEN", "t" * 32)

    code = main(["report", tool, "--repo", "/srv/repo", "--url", closed_port_url()])

    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("backupwatch: ") and "\n" not in err
    assert "reach" not in err and "Traceback" not in err


def test_a_url_without_a_token_is_refused_before_reading(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BACKUPWATCH_REPORT_TOKEN", raising=False)
    monkeypatch.delenv("BACKUPWATCH_REPORT_TOKEN_FILE", raising=False)

    code = main(["report", "heartbeat", "--url", closed_port_url()])

    assert code == 2
    assert "BACKUPWATCH_REPORT_TOKEN" in capsys.readouterr().err


def test_a_tool_that_cannot_be_run_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "restic", "--repo", "/r", "--", "/no/such/restic", "backup"])

    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("backupwatch: cannot run /no/such/restic")


@pytest.mark.parametrize(
    "args",
    [
        ["report", "restic", "--interval", "0"],
        ["report", "borg", "--interval", "forever"],
        ["report", "heartbeat", "--at", "yesterday"],
        ["watch", "restic", "--every", "-5m"],
    ],
)
def test_bad_options_are_refused_by_argparse(args: list[str]) -> None:
    assert cli_refusal(args) is not None


@pytest.mark.parametrize(
    "args",
    [
        ["report", "restic", "--repo", "r", "--", "restic", "backup", "--json", "/home"],
        ["report", "borg", "--exit-code", "1"],
        ["report", "heartbeat", "--reachable", "r1", "--reachable", "r2"],
        ["watch", "restic", "--repo", "/srv/restic", "--once"],
        ["watch", "borg", "--repo", "/srv/borg", "--every", "1h"],
        ["ingest", "--web-port", "6069"],
    ],
)
def test_the_documented_command_lines_parse(args: list[str]) -> None:
    assert cli_refusal(args) is None


def test_a_failed_tool_run_is_one_line_with_its_exit_code_and_its_last_word(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RESTIC_PASSWORD", "any")
    code = main(
        [
            "report",
            "restic",
            "--repo",
            str(tmp_path / "none"),
            "--url",
            closed_port_url(),
            "--",
            "restic",
            "snapshots",
            "--json",
            "--no-cache",
            "--repo",
            str(tmp_path / "none"),
        ]
    )

    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2
    assert last.startswith("backupwatch: restic failed (exit 1): ")
