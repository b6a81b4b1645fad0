"""A bad `BACKUPWATCH_*` setting stops any command at start with one line naming the
variable, before Kafka is asked anything."""

from __future__ import annotations

import pytest

from agents.cli import main


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BACKUPWATCH_MAX_SKEW", "inf", "BACKUPWATCH_MAX_SKEW='inf' is not a duration"),
        ("BACKUPWATCH_TICK_INTERVAL", "1e12d", "BACKUPWATCH_TICK_INTERVAL='1e12d' is not"),
        ("BACKUPWATCH_STORE", "memory", "BACKUPWATCH_STORE must be memory:// or rocksdb://"),
        ("BACKUPWATCH_BOOTSTRAP_SERVERS", "kafka:abc", "BACKUPWATCH_BOOTSTRAP_SERVERS must be"),
    ],
)
def test_a_bad_setting_stops_topics_create_with_one_line_naming_it(
    variable: str,
    value: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # No broker listens there: a refusal that came too late would name it instead.
    monkeypatch.setenv("BACKUPWATCH_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv(variable, value)

    code = main(["topics", "create"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"backupwatch: {message}")
    assert err.count("\n") == 1
