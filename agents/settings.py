"""One typed settings object, read from `BACKUPWATCH_*` variables and validated at start."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from pathlib import Path

from agents.errors import ConfigError
from agents.kafka.connection import KafkaConnection

__all__ = [
    "REPORT_READER_MODES",
    "Settings",
    "check_bootstrap_servers",
    "check_replication_factor",
    "check_web_max_connections",
    "prepare_data_dir",
    "read_tokens",
]

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_LOG_FORMATS = ("text", "json")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
# A bearer token as an HTTP header carries it: visible ASCII, no comma (the separator).
_TOKEN = re.compile(r"[!-+\--~]+")
# The secrets that may be given as a file instead (`BACKUPWATCH_<NAME>_FILE`).
_SECRET_FILES = {"api_token": "api_token_file", "viewer_tokens": "viewer_tokens_file"}
_STORES = ("memory", "rocksdb")
# Where a worker's API and dashboard come from: a report reader it starts beside itself,
# or none (a `backupwatch serve` process of their own answers them).
REPORT_READER_MODES = ("beside", "none")
_DURATION_FORMS = "a number of seconds, or a number with a unit s, m, h or d (30s, 5m, 2h, 1d)"
# field -> (shortest, longest, how docs/settings.md says it). A tick more than an hour apart
# leaves silence unnoticed for that long; a device clock a day ahead is a broken clock.
_DURATION_RANGES = {
    "tick_interval": (timedelta(0), timedelta(hours=1), "0 to 1h (0 = off)"),
    "max_skew": (timedelta(0), timedelta(days=1), "0 to 1d"),
}


def check_replication_factor(replicas: int) -> None:
    """Raise `ConfigError` unless `replicas` is a replication factor a topic can have
    (BACKUPWATCH_REPLICATION_FACTOR, read by the worker and the notifier alike)."""
    if not 1 <= replicas <= 32:
        raise ConfigError(f"BACKUPWATCH_REPLICATION_FACTOR must be 1..32, got {replicas}")


def check_web_max_connections(bound: int, variable: str) -> None:
    """Raise `ConfigError` unless `bound` is a web server's connection bound."""
    if not 1 <= bound <= 1_000_000:
        raise ConfigError(f"{variable} must be 1..1000000, got {bound}")


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


def _bootstrap_default(env: Mapping[str, str]) -> str:
    return env.get("KAFKA_BOOTSTRAP_SERVERS", "").strip() or "127.0.0.1:9092"


@dataclass(frozen=True, slots=True)
class Settings:
    bootstrap_servers: str = "127.0.0.1:9092"
    # Topic names are `<prefix><name>`, e.g. `backupwatch.heartbeats`.
    topic_prefix: str = "backupwatch."
    # The Faust app id: consumer group and prefix of internal topics.
    app_id: str = "backupwatch"
    partitions: int = 8
    # `rocksdb://` or `memory://`. RocksDB is the default: a restarted worker reopens
    # its local files and reads the changelog's tail, where a memory store reads the
    # whole changelog again (in bulk, agents/worker/store.py; 950 k devices: 13.6 s against
    # 12.2 s today, but the memory store's time grows with the changelog;
    # docs/benchmarks.md).
    store: str = "rocksdb://"
    data_dir: Path = Path("var/worker")
    # How often the worker appends a tick to every input partition; 0 turns the
    # ticker off (the simulator then writes ticks carrying simulated time).
    tick_interval: timedelta = timedelta(seconds=30)
    max_skew: timedelta = timedelta(minutes=5)
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    # Connections the web server holds at once (agents.serving): the next one closes the
    # one idle longest. Kept below the open-file limit, with room left for Kafka.
    web_max_connections: int = 1000
    # Hosts a policy's webhooks may name although they are loopback or link-local
    # (agents.webhook_targets): the notifier reads the same variable.
    webhook_internal_hosts: tuple[str, ...] = ()
    # The admin token: it writes (policy, snooze, deactivate) and reads.
    api_token: str = ""
    # Tokens that read the fleet (API and dashboard) but write nothing. With any token
    # configured, these or the admin token, every /api/ read needs one.
    viewer_tokens: tuple[str, ...] = ()
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
    report_nice: int = 10
    # `beside`: the worker starts a report reader and its web server passes the API and
    # dashboard to it (one machine, `make run`). `none`: it starts none, and those paths
    # answer 421 naming `backupwatch serve`, which answers them apart from the workers —
    # with N workers, the fleet is then held once rather than N times.
    report_reader: str = "beside"
    log_level: str = "info"
    # `json`: one JSON object a line, Faust's own lines included (agents/logs.py).
    log_format: str = "text"
    # Largest batch one agent step applies.
    batch_size: int = 2000
    # The most devices one step decides at a tick before it sends and writes them: a
    # tick that makes the whole fleet due is carried out in slices of this many, so
    # the worker never holds every decision at once (~3 KB per device until written).
    decisions_per_result: int = 10_000
    # Replicas of each topic the worker creates (inputs, alerts, dead letters, its
    # changelog): 1 for a single broker, 3 for a production cluster.
    replication_factor: int = 1
    # False for a Kafka user that may not create topics: the worker then checks that
    # the topics an admin created are as it needs them (`backupwatch topics describe`).
    create_topics: bool = True
    # How to reach and log in to the brokers (BACKUPWATCH_KAFKA_*); its servers are
    # always `bootstrap_servers`.
    kafka: KafkaConnection = KafkaConnection()

    def __post_init__(self) -> None:
        check_bootstrap_servers(self.bootstrap_servers)
        if self.kafka.bootstrap_servers != self.bootstrap_servers:
            # Frozen: the one place the connection follows the servers (a replace() too).
            object.__setattr__(
                self, "kafka", replace(self.kafka, bootstrap_servers=self.bootstrap_servers)
            )
        if not 1 <= self.partitions <= 1024:
            raise ConfigError(f"BACKUPWATCH_PARTITIONS must be 1..1024, got {self.partitions}")
        scheme, separator, _ = self.store.partition("://")
        if not separator or scheme not in _STORES:
            raise ConfigError(
                f"BACKUPWATCH_STORE must be memory:// or rocksdb://, got {self.store!r}"
            )
        for name, (shortest, longest, accepted) in _DURATION_RANGES.items():
            value: timedelta = getattr(self, name)
            if not shortest <= value <= longest:
                raise ConfigError(
                    f"BACKUPWATCH_{name.upper()} must be {accepted}, got {value.total_seconds():g}s"
                )
        if not 0 <= self.web_port <= 65535:
            raise ConfigError(f"BACKUPWATCH_WEB_PORT must be 0..65535, got {self.web_port}")
        check_web_max_connections(self.web_max_connections, "BACKUPWATCH_WEB_MAX_CONNECTIONS")
        if not 0 <= self.report_nice <= 19:
            raise ConfigError(f"BACKUPWATCH_REPORT_NICE must be 0..19, got {self.report_nice}")
        if self.report_reader not in REPORT_READER_MODES:
            raise ConfigError(
                f"BACKUPWATCH_REPORT_READER must be beside or none, got {self.report_reader!r}"
            )
        if self.log_level not in _LOG_LEVELS:
            raise ConfigError(
                f"BACKUPWATCH_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, "
                f"got {self.log_level!r}"
            )
        if self.log_format not in _LOG_FORMATS:
            raise ConfigError(
                f"BACKUPWATCH_LOG_FORMAT must be text or json, got {self.log_format!r}"
            )
        if self.api_token and not _TOKEN.fullmatch(self.api_token):
            raise ConfigError("BACKUPWATCH_API_TOKEN must be visible ASCII without commas")
        if not all(_TOKEN.fullmatch(token) for token in self.viewer_tokens):
            raise ConfigError(
                "BACKUPWATCH_VIEWER_TOKENS must be tokens of visible ASCII, comma separated"
            )
        if not 1 <= self.decisions_per_result <= 10_000_000:
            raise ConfigError(
                "BACKUPWATCH_DECISIONS_PER_RESULT must be 1..10000000, "
                f"got {self.decisions_per_result}"
            )
        check_replication_factor(self.replication_factor)
        if not 1 <= self.batch_size <= 100_000:
            raise ConfigError(f"BACKUPWATCH_BATCH_SIZE must be 1..100000, got {self.batch_size}")

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

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, role: str = "worker", **overrides: object
    ) -> Settings:
        """Read `BACKUPWATCH_<FIELD>` for each field and the Kafka connection (whose
        default client id names `role`); raise `ConfigError` naming the bad variable."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "bootstrap_servers": _bootstrap_default(env),
            "kafka": KafkaConnection.from_env(env, role=role),
        }
        for field in fields(cls):
            if field.name == "kafka":
                continue
            name = f"BACKUPWATCH_{field.name.upper()}"
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            values[field.name] = _parse(field.name, raw, field.type)
        for field_name, file_field in _SECRET_FILES.items():
            path = values.get(file_field)
            if not isinstance(path, Path):
                continue
            variable = f"BACKUPWATCH_{field_name.upper()}"
            if field_name in values:
                raise ConfigError(f"set {variable} or {variable}_FILE, not both")
            tokens = read_tokens(path, f"{variable}_FILE")
            if field_name == "viewer_tokens":
                values[field_name] = tokens
            elif len(tokens) == 1:
                values[field_name] = tokens[0]
            else:
                raise ConfigError(f"{variable}_FILE={str(path)!r} must hold one token")
        try:
            # Values were parsed by field type above; the checker cannot follow that.
            return replace(cls(), **{**values, **overrides})  # type: ignore[arg-type]
        except TypeError as exc:  # pragma: no cover - a field name typo in overrides
            raise ConfigError(str(exc)) from exc

    def as_env(self) -> dict[str, str]:
        """The `BACKUPWATCH_*` variables that `from_env` reads back into these settings
        (how a worker subprocess is given them)."""
        env = self.kafka.as_env()
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "kafka":
                continue
            file_field = _SECRET_FILES.get(field.name)
            if file_field and getattr(self, file_field) is not None:
                continue  # read from its file again, which keeps rotating it possible
            if isinstance(value, timedelta):
                value = f"{value.total_seconds():g}"
            elif isinstance(value, tuple):
                value = ",".join(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            elif value is None:
                value = ""
            env[f"BACKUPWATCH_{field.name.upper()}"] = str(value)
        return env

    def describe(self) -> str:
        """The settings, one per line, with secrets masked."""
        lines: list[str] = []
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "kafka":
                lines.extend(f"  {name:<21} {shown}" for name, shown in self.kafka.describe())
                continue
            if field.name == "api_token":
                value = "****" if value else "(none: admin writes disabled)"
            elif field.name == "viewer_tokens":
                value = f"{len(value)} token(s), ****" if value else "(none)"
            elif isinstance(value, timedelta):
                value = f"{value.total_seconds():g}s"
            elif isinstance(value, tuple):
                value = ", ".join(value) or "(none)"
            lines.append(f"  {field.name:<22} {value}")
        return "\n".join(lines)


def _parse(field: str, raw: str, kind: object) -> object:
    name = f"BACKUPWATCH_{field.upper()}"
    text = raw.strip()
    if kind in ("timedelta", timedelta):
        duration = _duration(text)
        if duration is None:
            _, _, accepted = _DURATION_RANGES[field]
            raise ConfigError(f"{name}={raw!r} is not a duration of {accepted}: {_DURATION_FORMS}")
        return duration
    if kind in ("bool", bool):
        if text.lower() not in _TRUE + _FALSE:
            raise ConfigError(f"{name}={raw!r} is not true or false")
        return text.lower() in _TRUE
    try:
        if kind in ("int", int):
            return int(text)
        if kind in ("Path", Path, "Path | None"):
            return Path(text)
        if kind == "tuple[str, ...]":
            return tuple(t.strip() for t in text.split(",") if t.strip())
        if name == "BACKUPWATCH_LOG_LEVEL":
            return text.lower()
        return text
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind}") from None


def _duration(text: str) -> timedelta | None:
    """`30`, `30s`, `5m`, `2h`, `1d` → a timedelta (bare numbers are seconds); None for
    anything else, and for numbers no timedelta holds (`inf`, `nan`, `1e12d`)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, scale = (
        (text[:-1], units[text[-1].lower()]) if text[-1:].lower() in units else (text, 1)
    )
    try:
        return timedelta(seconds=float(number) * scale)
    except (ValueError, OverflowError):
        return None
