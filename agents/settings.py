"""The worker's settings, read from `BACKUPWATCH_*` variables and validated at start
(on agents/environment.py, as every process's are), and the settings every process
shares: where the brokers are, the topic prefix, logging, topic replicas."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from agents.environment import LOG_FORMATS, LOG_LEVELS, EnvSettings, setting
from agents.errors import ConfigError
from agents.kafka.connection import KafkaConnection

__all__ = [
    "REPORT_READER_MODES",
    "ProcessSettings",
    "Settings",
    "check_bootstrap_servers",
    "create_topics_setting",
    "follow_servers",
    "prepare_data_dir",
    "read_tokens",
    "replication_factor_setting",
    "web_max_connections_setting",
]

# A bearer token as an HTTP header carries it: visible ASCII, no comma (the separator).
_TOKEN = re.compile(r"[!-+\--~]+")
# The secrets that may be given as a file instead (`BACKUPWATCH_<NAME>_FILE`), read
# again when it changes (agents/report/access.py).
_SECRET_FILES = {"api_token": "api_token_file", "viewer_tokens": "viewer_tokens_file"}
_STORES = ("memory", "rocksdb")
# Where a worker's API and dashboard come from: a report reader it starts beside itself,
# or none (a `backupwatch serve` process of their own answers them).
REPORT_READER_MODES = ("beside", "none")


# -- the settings every process reads from the same variables ------------------------


def replication_factor_setting() -> Any:
    """Replicas of each topic a process creates: 1 for a single broker, 3 for a cluster."""
    return setting(1, variable="BACKUPWATCH_REPLICATION_FACTOR", within=(1, 32))


def create_topics_setting() -> Any:
    """False for a Kafka user that may not create topics: they are then only checked."""
    return setting(True, variable="BACKUPWATCH_CREATE_TOPICS")


def web_max_connections_setting() -> Any:
    """Connections a web server holds at once (agents.serving): the next one closes the
    one idle longest. Kept below the open-file limit, with room left for Kafka."""
    return setting(1000, within=(1, 1_000_000))


def follow_servers(settings: Any) -> None:
    """Make `settings.kafka` connect to `settings.bootstrap_servers`: a process's
    connection always follows its servers (a `replace()` of them too)."""
    if settings.kafka.bootstrap_servers != settings.bootstrap_servers:
        # Frozen: this is the one place the connection is set after construction.
        kafka = replace(settings.kafka, bootstrap_servers=settings.bootstrap_servers)
        object.__setattr__(settings, "kafka", kafka)


def prepare_data_dir(data_dir: Path) -> None:
    """Make the worker's data directory, or raise `ConfigError` naming
    BACKUPWATCH_DATA_DIR when it cannot be: Faust makes only the last part, and would
    stop with a traceback.

    A missing parent is created only for the default (`var/worker`, under the current
    directory): a parent missing from a path someone chose is more likely a typo, or a
    volume not mounted, than a directory to make up."""
    variable = f"BACKUPWATCH_DATA_DIR={data_dir}"
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"{variable} is not a directory")
    if not data_dir.exists():
        parent = data_dir.parent
        if data_dir != Settings().data_dir and not parent.is_dir():
            raise ConfigError(
                f"{variable}: its parent {parent} does not exist (or is not a directory); "
                "create it, or mount the volume meant to be there"
            )
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"{variable} cannot be created: {err.strerror}") from None
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise ConfigError(f"{variable} is not writable by this user")


def check_bootstrap_servers(servers: str) -> None:
    """Raise `ConfigError` unless `servers` is the comma-separated list of addresses
    Kafka clients read: `host`, `host:port`, an IPv6 literal, `[ipv6]:port`."""
    if not servers.strip():
        raise ConfigError("BACKUPWATCH_BOOTSTRAP_SERVERS is empty")
    if not all(_is_broker_address(entry.strip()) for entry in servers.split(",")):
        raise ConfigError(
            "BACKUPWATCH_BOOTSTRAP_SERVERS must be host:port addresses, comma separated "
            f"([::1]:9092 for IPv6), got {servers!r}"
        )


def _is_broker_address(entry: str) -> bool:
    if entry.startswith("["):
        host, bracket, port = entry[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            return False
        return _is_ipv6(host) and _is_port(port[1:] if port else "9092")
    if ":" not in entry:
        host, port = entry, "9092"
    elif _is_ipv6(entry):
        return True
    else:
        host, _, port = entry.rpartition(":")
    return bool(host) and not any(c in host for c in ":/ ") and _is_port(port)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and 1 <= int(text) <= 65535


def read_tokens(path: Path, variable: str) -> tuple[str, ...]:
    """The tokens of a token file: one a line (or comma separated), blank lines and
    `#` comments left out. `ConfigError` names the variable when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{variable}={str(path)!r} cannot be read: {err}") from None
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return tuple(t.strip() for line in lines for t in line.split(",") if t.strip())


def _is_loopback(host: str) -> bool:
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a hostname or every address ("0.0.0.0" is not loopback)


def _check_token(token: str, variable: str) -> None:
    if token and not _TOKEN.fullmatch(token):
        raise ConfigError(f"{variable} must be visible ASCII without commas")


def _check_tokens(tokens: tuple[str, ...], variable: str) -> None:
    if not all(_TOKEN.fullmatch(token) for token in tokens):
        raise ConfigError(f"{variable} must be tokens of visible ASCII, comma separated")


def _check_store(store: str, variable: str) -> None:
    scheme, separator, _ = store.partition("://")
    if not separator or scheme not in _STORES:
        raise ConfigError(f"{variable} must be memory:// or rocksdb://, got {store!r}")


@dataclass(frozen=True, slots=True)
class ProcessSettings(EnvSettings):
    """What every process that reaches Kafka reads from the same variables."""

    # Else KAFKA_BOOTSTRAP_SERVERS.
    bootstrap_servers: str = setting(
        "127.0.0.1:9092",
        variable="BACKUPWATCH_BOOTSTRAP_SERVERS",
        fallback=("KAFKA_BOOTSTRAP_SERVERS",),
        check=lambda servers, _: check_bootstrap_servers(servers),
    )
    # Topic names are `<prefix><name>`, e.g. `backupwatch.heartbeats`.
    topic_prefix: str = setting("backupwatch.", variable="BACKUPWATCH_TOPIC_PREFIX")
    log_level: str = setting(
        "info", variable="BACKUPWATCH_LOG_LEVEL", choices=LOG_LEVELS, case="lower"
    )
    # `text` lines for a person; `json`, one JSON object a line for a log pipeline,
    # Faust's own lines included (agents/logs.py).
    log_format: str = setting(
        "text", variable="BACKUPWATCH_LOG_FORMAT", choices=LOG_FORMATS, case="lower"
    )

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


@dataclass(frozen=True, slots=True)
class Settings(ProcessSettings):
    # The Faust app id: consumer group and prefix of internal topics.
    app_id: str = "backupwatch"
    partitions: int = setting(8, within=(1, 1024))
    # `rocksdb://` or `memory://`. RocksDB is the default: a restarted worker reopens
    # its local files and reads the changelog's tail, where a memory store reads the
    # whole changelog again (in bulk, agents/worker/store.py; 950 k devices: 13.6 s against
    # 12.2 s today, but the memory store's time grows with the changelog;
    # docs/benchmarks.md).
    store: str = setting("rocksdb://", check=_check_store)
    data_dir: Path = Path("var/worker")
    # How often the worker appends a tick to every input partition; 0 turns the
    # ticker off (the simulator then writes ticks carrying simulated time). More than
    # an hour apart would leave silence unnoticed for that long.
    tick_interval: timedelta = setting(
        timedelta(seconds=30),
        within=(timedelta(0), timedelta(hours=1)),
        accepted="0 to 1h (0 = off)",
    )
    # A device clock a day ahead is a broken clock.
    max_skew: timedelta = setting(
        timedelta(minutes=5), within=(timedelta(0), timedelta(days=1)), accepted="0 to 1d"
    )
    web_host: str = "127.0.0.1"
    web_port: int = setting(6066, within=(0, 65535))
    web_max_connections: int = web_max_connections_setting()
    # Hosts a policy's webhooks may name although they are loopback or link-local
    # (agents.webhook_targets): the notifier reads the same variable.
    webhook_internal_hosts: tuple[str, ...] = ()
    # The admin token: it writes (policy, snooze, deactivate) and reads.
    api_token: str = setting(
        "", secret=True, empty="(none: admin writes disabled)", check=_check_token
    )
    # Tokens that read the fleet (API and dashboard) but write nothing. With any token
    # configured, these or the admin token, every /api/ read needs one.
    viewer_tokens: tuple[str, ...] = setting(
        (),
        check=_check_tokens,
        show=lambda tokens: f"{len(tokens)} token(s), ****" if tokens else "(none)",
    )
    # The same secrets from files (one token a line), so that they stay out of the
    # environment; read again when the file changes, so a mounted Secret rotates
    # without a restart (agents/report/access.py).
    api_token_file: Path | None = None
    viewer_tokens_file: Path | None = None
    # Beyond loopback with no token, anyone who reaches the port reads every device,
    # user and org: the worker refuses to start unless this says it is on purpose.
    allow_anonymous_reads: bool = False
    # CPU priority of the report reader beside each worker (added to the worker's nice
    # value, 0..19): reports wait for alerts when no core is free. 0 = the same.
    report_nice: int = setting(10, within=(0, 19))
    # `beside`: the worker starts a report reader and its web server passes the API and
    # dashboard to it (one machine, `make run`). `none`: it starts none, and those paths
    # answer 421 naming `backupwatch serve`, which answers them apart from the workers —
    # with N workers, the fleet is then held once rather than N times.
    report_reader: str = setting("beside", choices=REPORT_READER_MODES, case="lower")
    # Largest batch one agent step applies.
    batch_size: int = setting(2000, within=(1, 100_000))
    # The most devices one step decides at a tick before it sends and writes them: a
    # tick that makes the whole fleet due is carried out in slices of this many, so
    # the worker never holds every decision at once (~3 KB per device until written).
    decisions_per_result: int = setting(10_000, within=(1, 10_000_000))
    # Replicas of each topic the worker creates (inputs, alerts, dead letters, its
    # changelog): 1 for a single broker, 3 for a production cluster.
    replication_factor: int = replication_factor_setting()
    # False for a Kafka user that may not create topics: the worker then checks that
    # the topics an admin created are as it needs them (`backupwatch topics describe`).
    create_topics: bool = create_topics_setting()
    # How to reach and log in to the brokers (BACKUPWATCH_KAFKA_*); its servers are
    # always `bootstrap_servers`.
    kafka: KafkaConnection = setting(KafkaConnection(), read=False)

    def __post_init__(self) -> None:
        follow_servers(self)
        self.check_fields()

    @property
    def reads_need_a_token(self) -> bool:
        return bool(self.api_token or self.viewer_tokens)

    def check_read_access(self) -> None:
        """Raise `ConfigError` when a worker would show the fleet to anyone: listening
        beyond loopback with no token, and BACKUPWATCH_ALLOW_ANONYMOUS_READS not set."""
        if self.reads_need_a_token or self.allow_anonymous_reads or _is_loopback(self.web_host):
            return
        raise ConfigError(
            f"BACKUPWATCH_WEB_HOST={self.web_host} is not a loopback address and no token "
            f"is set, so anyone who reaches port {self.web_port} would read every device: "
            "set BACKUPWATCH_VIEWER_TOKENS (or BACKUPWATCH_API_TOKEN), or "
            "BACKUPWATCH_ALLOW_ANONYMOUS_READS=true to serve the fleet to anyone on purpose"
        )

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, role: str = "worker", **overrides: object
    ) -> Settings:
        """Read `BACKUPWATCH_<FIELD>` for each field and the Kafka connection (whose
        default client id names `role`); raise `ConfigError` naming the bad variable."""
        env = os.environ if env is None else env
        values = cls.read_env(env)
        values["kafka"] = KafkaConnection.from_env(env, role=role)
        for field_name, file_field in _SECRET_FILES.items():
            path = values.get(file_field)
            if not isinstance(path, Path):
                continue
            variable = cls.variable(field_name)
            if field_name in values:
                raise ConfigError(
                    f"{variable} and {variable}_FILE are both set: "
                    f"set {variable} or {variable}_FILE, not both"
                )
            tokens = read_tokens(path, f"{variable}_FILE")
            if field_name == "viewer_tokens":
                values[field_name] = tokens
            elif len(tokens) == 1:
                values[field_name] = tokens[0]
            else:
                raise ConfigError(f"{variable}_FILE={str(path)!r} must hold one token")
        try:
            return replace(cls(), **{**values, **overrides})
        except TypeError as exc:  # pragma: no cover - a field name typo in overrides
            raise ConfigError(str(exc)) from exc

    def as_env(self) -> dict[str, str]:
        """The `BACKUPWATCH_*` variables that `from_env` reads back into these settings
        (how a worker subprocess is given them)."""
        env = {**self.kafka.as_env(), **super(Settings, self).as_env()}
        for field_name, file_field in _SECRET_FILES.items():
            if getattr(self, file_field) is not None:
                # Read from its file again, which keeps rotating it possible.
                del env[self.variable(field_name)]
        return env
