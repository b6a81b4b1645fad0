"""Worker settings: read from BACKUPWATCH_* variables, validated, secrets masked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from agents.errors import ConfigError
from agents.settings import Settings


def test_settings_survive_a_round_trip_through_the_environment() -> None:
    settings = Settings(
        bootstrap_servers="127.0.0.1:1234",
        topic_prefix="t.",
        app_id="app",
        partitions=3,
        store="memory://",
        data_dir=Path("/tmp/x"),
        tick_interval=timedelta(0),
        max_skew=timedelta(minutes=2),
        web_port=0,
        api_token="secret",
    )
    assert Settings.from_env(settings.as_env()) == settings


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BACKUPWATCH_PARTITIONS", "eight", "BACKUPWATCH_PARTITIONS='eight' is not a valid int"),
        ("BACKUPWATCH_PARTITIONS", "0", "BACKUPWATCH_PARTITIONS must be 1..1024"),
        ("BACKUPWATCH_STORE", "redis://", "BACKUPWATCH_STORE must be memory:// or rocksdb://"),
        ("BACKUPWATCH_STORE", "memory", "BACKUPWATCH_STORE must be memory:// or rocksdb://"),
        ("BACKUPWATCH_TICK_INTERVAL", "-5s", "BACKUPWATCH_TICK_INTERVAL must be 0 to 1h"),
        ("BACKUPWATCH_TICK_INTERVAL", "61m", "BACKUPWATCH_TICK_INTERVAL must be 0 to 1h"),
        ("BACKUPWATCH_TICK_INTERVAL", "1e12d", "BACKUPWATCH_TICK_INTERVAL='1e12d' is not"),
        ("BACKUPWATCH_TICK_INTERVAL", "soon", "BACKUPWATCH_TICK_INTERVAL='soon' is not"),
        ("BACKUPWATCH_MAX_SKEW", "inf", "BACKUPWATCH_MAX_SKEW='inf' is not"),
        ("BACKUPWATCH_MAX_SKEW", "nan", "BACKUPWATCH_MAX_SKEW='nan' is not"),
        ("BACKUPWATCH_MAX_SKEW", "-1m", "BACKUPWATCH_MAX_SKEW must be 0 to 1d"),
        ("BACKUPWATCH_MAX_SKEW", "2d", "BACKUPWATCH_MAX_SKEW must be 0 to 1d"),
        ("BACKUPWATCH_LOG_LEVEL", "loud", "BACKUPWATCH_LOG_LEVEL must be one of"),
        ("BACKUPWATCH_REPORT_READER", "apart", "BACKUPWATCH_REPORT_READER must be beside or none"),
        ("BACKUPWATCH_BOOTSTRAP_SERVERS", "kafka:abc", "BACKUPWATCH_BOOTSTRAP_SERVERS must be"),
        ("BACKUPWATCH_BOOTSTRAP_SERVERS", "kafka:99999", "BACKUPWATCH_BOOTSTRAP_SERVERS must"),
        ("BACKUPWATCH_BOOTSTRAP_SERVERS", "kafka:0", "BACKUPWATCH_BOOTSTRAP_SERVERS must be"),
        ("BACKUPWATCH_BOOTSTRAP_SERVERS", "kafka:", "BACKUPWATCH_BOOTSTRAP_SERVERS must be"),
        ("BACKUPWATCH_BOOTSTRAP_SERVERS", "[::1:9092", "BACKUPWATCH_BOOTSTRAP_SERVERS must be"),
        ("BACKUPWATCH_BOOTSTRAP_SERVERS", "a:9092,,b:9092", "BACKUPWATCH_BOOTSTRAP_SERVERS"),
        ("BACKUPWATCH_BOOTSTRAP_SERVERS", "kafka://k:9092", "BACKUPWATCH_BOOTSTRAP_SERVERS"),
        ("BACKUPWATCH_WEB_PORT", "70000", "BACKUPWATCH_WEB_PORT must be 0..65535"),
        ("BACKUPWATCH_REPORT_NICE", "20", "BACKUPWATCH_REPORT_NICE must be 0..19"),
        ("BACKUPWATCH_REPLICATION_FACTOR", "0", "BACKUPWATCH_REPLICATION_FACTOR must be 1..32"),
        (
            "BACKUPWATCH_DECISIONS_PER_RESULT",
            "0",
            "BACKUPWATCH_DECISIONS_PER_RESULT must be 1..10000000",
        ),
    ],
)
def test_an_invalid_value_is_refused_naming_the_variable(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("*", r"\*")):
        Settings.from_env({variable: value})


@pytest.mark.parametrize(
    ("text", "seconds"), [("30", 30), ("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400)]
)
def test_durations_take_units(text: str, seconds: int) -> None:
    settings = Settings.from_env({"BACKUPWATCH_MAX_SKEW": text})
    assert settings.max_skew == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "servers", ["kafka", "kafka:9092", "a:9092, b:9093", "10.0.0.1:9092", "::1", "[::1]:9092"]
)
def test_bootstrap_servers_take_the_forms_kafka_clients_read(servers: str) -> None:
    assert Settings.from_env({"BACKUPWATCH_BOOTSTRAP_SERVERS": servers}).bootstrap_servers == (
        servers
    )


def test_a_refused_duration_names_the_accepted_forms() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"BACKUPWATCH_MAX_SKEW": "inf"})
    assert "s, m, h or d" in str(refused.value)
    assert "0 to 1d" in str(refused.value)


@pytest.mark.parametrize(
    ("variable", "text"),
    [
        ("BACKUPWATCH_TICK_INTERVAL", "0"),
        ("BACKUPWATCH_TICK_INTERVAL", "1h"),
        ("BACKUPWATCH_MAX_SKEW", "0"),
        ("BACKUPWATCH_MAX_SKEW", "1d"),
    ],
)
def test_durations_at_the_ends_of_their_range_are_accepted(variable: str, text: str) -> None:
    Settings.from_env({variable: text})


def test_the_api_token_is_never_printed() -> None:
    described = Settings(api_token="hunter2").describe()
    assert "hunter2" not in described
    assert "****" in described


def test_kafka_bootstrap_servers_is_the_default_broker() -> None:
    settings = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "10.0.0.1:9092"})
    assert settings.bootstrap_servers == "10.0.0.1:9092"
