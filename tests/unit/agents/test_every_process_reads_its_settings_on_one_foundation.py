"""agents/environment.py, which every process's settings are built on: a field is read
from its variable by its type, a secret may come from `<VARIABLE>_FILE` (never both) and
is masked when printed, and each refusal is one line naming the variable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from agents.environment import EnvSettings, setting
from agents.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Example(EnvSettings):
    PREFIX: ClassVar[str] = "BACKUPWATCH_EXAMPLE_"

    name: str = "plain"
    count: int = setting(3, within=(1, 10))
    ratio: float = 0.5
    enabled: bool = False
    every: timedelta = setting(
        timedelta(minutes=1), within=(timedelta(0), timedelta(hours=1)), accepted="0 to 1h"
    )
    hosts: tuple[str, ...] = ()
    where: Path = Path("var")
    mode: str = setting("fast", choices=("fast", "slow"), case="lower")
    shared: str = setting("", variable="BACKUPWATCH_SHARED", fallback=("OTHER_SHARED",))
    password: str = setting("", secret=True, from_file=True)

    def __post_init__(self) -> None:
        self.check_fields()

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Example:
        return cls(**cls.read_env(env))


def test_each_field_is_read_by_its_type() -> None:
    example = Example.from_env(
        {
            "BACKUPWATCH_EXAMPLE_NAME": " spaced ",
            "BACKUPWATCH_EXAMPLE_COUNT": "7",
            "BACKUPWATCH_EXAMPLE_RATIO": "0.25",
            "BACKUPWATCH_EXAMPLE_ENABLED": "Yes",
            "BACKUPWATCH_EXAMPLE_EVERY": "5m",
            "BACKUPWATCH_EXAMPLE_HOSTS": "a, b,,c",
            "BACKUPWATCH_EXAMPLE_WHERE": "/data",
            "BACKUPWATCH_EXAMPLE_MODE": "SLOW",
            "BACKUPWATCH_SHARED": "shared",
            "BACKUPWATCH_EXAMPLE_PASSWORD": " pass word \n",
        }
    )

    assert example == Example(
        name="spaced",
        count=7,
        ratio=0.25,
        enabled=True,
        every=timedelta(minutes=5),
        hosts=("a", "b", "c"),
        where=Path("/data"),
        mode="slow",
        shared="shared",
        password=" pass word ",  # a secret is taken as given, but for its newline
    )


def test_an_empty_variable_is_an_unset_one_and_a_fallback_is_read_then() -> None:
    example = Example.from_env(
        {"BACKUPWATCH_EXAMPLE_COUNT": " ", "BACKUPWATCH_SHARED": "", "OTHER_SHARED": "x"}
    )
    assert (example.count, example.shared) == (3, "x")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "BACKUPWATCH_EXAMPLE_COUNT",
            "three",
            "BACKUPWATCH_EXAMPLE_COUNT='three' is not a valid int",
        ),
        ("BACKUPWATCH_EXAMPLE_COUNT", "11", "BACKUPWATCH_EXAMPLE_COUNT must be 1..10, got 11"),
        (
            "BACKUPWATCH_EXAMPLE_RATIO",
            "half",
            "BACKUPWATCH_EXAMPLE_RATIO='half' is not a valid float",
        ),
        (
            "BACKUPWATCH_EXAMPLE_ENABLED",
            "maybe",
            "BACKUPWATCH_EXAMPLE_ENABLED='maybe' is not true or false",
        ),
        (
            "BACKUPWATCH_EXAMPLE_EVERY",
            "soon",
            "BACKUPWATCH_EXAMPLE_EVERY='soon' is not a duration of 0 to 1h: ",
        ),
        ("BACKUPWATCH_EXAMPLE_EVERY", "2h", "BACKUPWATCH_EXAMPLE_EVERY must be 0 to 1h, got 7200s"),
        (
            "BACKUPWATCH_EXAMPLE_MODE",
            "lazy",
            "BACKUPWATCH_EXAMPLE_MODE must be fast or slow, got 'lazy'",
        ),
    ],
)
def test_a_bad_value_is_refused_in_one_line_naming_its_variable(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        Example.from_env({variable: value})
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


def test_a_secret_may_come_from_its_file_but_not_from_both(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-a-file\n")
    env = {"BACKUPWATCH_EXAMPLE_PASSWORD_FILE": str(secret)}

    assert Example.from_env(env).password == "from-a-file"
    with pytest.raises(ConfigError, match="not both"):
        Example.from_env({**env, "BACKUPWATCH_EXAMPLE_PASSWORD": "given"})
    missing = tmp_path / "missing"
    with pytest.raises(ConfigError, match=f"BACKUPWATCH_EXAMPLE_PASSWORD_FILE={missing}: "):
        Example.from_env({"BACKUPWATCH_EXAMPLE_PASSWORD_FILE": str(missing)})
    assert Example.file_variables() == ("BACKUPWATCH_EXAMPLE_PASSWORD",)


def test_settings_survive_a_round_trip_through_the_environment(tmp_path: Path) -> None:
    example = Example(
        count=9,
        ratio=0.125,
        enabled=True,
        every=timedelta(seconds=90),
        hosts=("a", "b"),
        mode="slow",
        password="p@ss",
    )
    secret = tmp_path / "password"
    secret.write_text("the parent's\n")
    # A parent given the secret in a file gives its child the value: the file is not
    # read again, and not refused as a second source.
    inherited = {"BACKUPWATCH_EXAMPLE_PASSWORD_FILE": str(secret)}

    assert Example.from_env({**inherited, **example.as_env()}) == example


def test_a_secret_is_never_printed() -> None:
    example = Example(password="hunter2")

    printed = example.describe() + repr(example)

    assert "hunter2" not in printed
    assert "  password               ****" in example.describe()
    assert "  password               (none)" in Example().describe()
