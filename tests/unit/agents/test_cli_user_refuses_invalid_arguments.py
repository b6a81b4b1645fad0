"""`backupwatch user` refuses an action it cannot take before Kafka is asked anything:
one line, exit 2."""

from __future__ import annotations

import pytest

from agents.cli import main

# No broker listens there: a refusal that came too late would name it instead.
NOWHERE = ["--bootstrap-servers", "127.0.0.1:1"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["user-1", "leave"], "a leave needs --until"),
        (
            ["user-1", "leave", "--until", "2026-01-01T00:00:00Z", "--at", "2026-02-01T00:00:00Z"],
            "is not after",
        ),
        (["user-1", "deactivate", "--reason", "x" * 1025], "longer than 1024"),
    ],
)
def test_a_user_action_that_cannot_be_taken_is_refused_in_one_line(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["user", *arguments, *NOWHERE]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("backupwatch: ") and message in err
    assert "\n" not in err


@pytest.mark.parametrize(
    ("arguments", "option"),
    [(["user-1", "nap"], "action"), (["user-1", "leave", "--until", "soon"], "--until")],
)
def test_a_bad_value_is_named_by_argparse(
    arguments: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["user", *arguments, *NOWHERE])
    assert exited.value.code == 2
    assert f"argument {option}: " in capsys.readouterr().err
