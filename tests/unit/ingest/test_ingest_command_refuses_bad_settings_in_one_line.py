from __future__ import annotations

import pytest

from agents.cli import main


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "no ingest token"),
        (
            {"BACKUPWATCH_INGEST_TOKENS": "x" * 20, "BACKUPWATCH_INGEST_WEB_PORT": "70000"},
            "WEB_PORT",
        ),
        (
            {"BACKUPWATCH_INGEST_TOKENS": "x" * 20, "BACKUPWATCH_BOOTSTRAP_SERVERS": "nope:port"},
            "BACKUPWATCH_BOOTSTRAP_SERVERS",
        ),
    ],
)
def test_a_bad_setting_stops_the_endpoint_before_it_starts(
    env: dict[str, str],
    says: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("BACKUPWATCH_INGEST_TOKENS", "BACKUPWATCH_INGEST_TOKENS_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    code = main(["ingest"])

    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("backupwatch: ") and says in err and "\n" not in err
    assert "x" * 20 not in err
