"""`backupwatch simulate` refuses arguments it cannot simulate before Kafka is asked
anything: a bad value is named by its option (argparse, exit code 2), a period Kafka or
the records cannot carry in one line saying what to change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.cli import build_parser, main

# No broker listens there: a refusal that came too late would name it instead.
NOWHERE = ["--bootstrap-servers", "127.0.0.1:1"]


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (["--devices", "0"], "--devices"),
        (["--devices", "many"], "--devices"),
        (["--days", "0"], "--days"),
        (["--days", "-1"], "--days"),
        (["--days", "inf"], "--days"),
        (["--days", "nan"], "--days"),
        (["--days", "3651"], "--days"),
        (["--speed", "0"], "--speed"),
        (["--speed", "inf"], "--speed"),
        (["--tick-minutes", "0"], "--tick-minutes"),
        (["--tick-minutes", "1441"], "--tick-minutes"),
        (["--start", "garbage"], "--start"),
        (["--start", "2026-13-01"], "--start"),
        (["--start", "0001-01-01T00:00:00+01:00"], "--start"),
    ],
)
def test_an_invalid_value_is_refused_naming_its_option(
    arguments: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["simulate", *arguments, *NOWHERE])

    assert exited.value.code == 2
    assert f"backupwatch simulate: error: argument {option}: " in capsys.readouterr().err


@pytest.mark.parametrize(
    ("start", "days", "message"),
    [
        (datetime.now(UTC) + timedelta(days=1), "1", "in the future"),
        (datetime.now(UTC) - timedelta(days=1), "2", "in the future"),
        (datetime(9999, 12, 1, tzinfo=UTC), "30", "in the future"),
        (datetime(1999, 6, 1, tzinfo=UTC), "30", "before 2000-01-01"),
    ],
)
def test_a_period_the_records_cannot_carry_is_refused_in_one_line(
    start: datetime, days: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["simulate", "--start", start.isoformat(), "--days", days, *NOWHERE])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("backupwatch: ")
    assert err.count("\n") == 1
    assert message in err
    assert "--start" in err
    assert "record_timestamps" not in err


@pytest.mark.parametrize(
    "text", ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00", "2026-01-01 00:00:00+00:00"]
)
def test_a_start_with_an_offset_is_read_as_that_instant(text: str) -> None:
    parsed = build_parser().parse_args(["simulate", "--start", text])

    assert parsed.start == datetime(2026, 1, 1, tzinfo=UTC)
