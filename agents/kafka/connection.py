"""The Kafka connection: where the brokers are and how to prove who we are to them.

One `KafkaConnection` is read from the environment at start and every Kafka client of
the project is built from it: the Faust app (`faust_app`), and every aiokafka
producer, consumer and admin client (`producer`, `consumer`, `admin`). Their security
options all come from `client_options`, the one place a client option is added; Faust
gets the same options translated into its credentials (`faust_options`), and refuses
to start when one has no translation rather than connect without it. A unit test
fails when a Kafka client is constructed anywhere else.

Each field is read from its `BACKUPWATCH_KAFKA_*` variable by the settings foundation
(agents/environment.py), so a new client option is a field here and its line in
`client_options` (and its Faust setting in `faust_options`). Secrets
(`BACKUPWATCH_KAFKA_SASL_PASSWORD`, ...) may come from a file named by the same variable
with `_FILE` appended (Docker and Kubernetes secrets); they are masked wherever the
settings are printed.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import socket
import ssl
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from agents.environment import EnvSettings, setting
from agents.kafka.errors import ConfigError, KafkaRefused, KafkaUnreachable

if TYPE_CHECKING:
    import faust

__all__ = [
    "SASL_MECHANISMS",
    "SECURITY_PROTOCOLS",
    "KafkaConnection",
    "connection_of",
    "variable",
    "variables",
]

log = logging.getLogger(__name__)

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
# AWS_MSK_IAM is OAUTHBEARER with a token from Amazon's signer library.
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "AWS_MSK_IAM")
_TLS = ("SSL", "SASL_SSL")
_SASL = ("SASL_PLAINTEXT", "SASL_SSL")
_PASSWORD_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# Not variables of the connection's own: the servers are BACKUPWATCH_BOOTSTRAP_SERVERS
# (the worker's and the notifier's settings own it), the role is the process's.
_NOT_VARIABLES = ("bootstrap_servers", "role")
# How long one diagnosing connection attempt may take, so that any failure to
# connect is reported well within 30 s.
_DIAGNOSE_SECONDS = 10.0
# TLS alerts with which a broker refuses the client's certificate (or its absence).
_CLIENT_CERTIFICATE_REFUSED = (
    "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "TLSV1_ALERT_UNKNOWN_CA",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    "TLSV1_ALERT_DECRYPT_ERROR",
)


def variable(name: str) -> str:
    """The environment variable a connection field is read from."""
    return KafkaConnection.variable(name)


def variables() -> list[str]:
    """Every variable `KafkaConnection.from_env` reads, `_FILE` forms included."""
    names = [variable(f.name) for f in fields(KafkaConnection) if f.name not in _NOT_VARIABLES]
    return names + [f"{name}_FILE" for name in KafkaConnection.file_variables()]


@dataclass(frozen=True)
class KafkaConnection(EnvSettings):
    PREFIX: ClassVar[str] = "BACKUPWATCH_KAFKA_"

    bootstrap_servers: str = setting(
        "127.0.0.1:9092",
        variable="BACKUPWATCH_BOOTSTRAP_SERVERS",
        fallback=("KAFKA_BOOTSTRAP_SERVERS",),
    )
    security_protocol: str = setting("PLAINTEXT", choices=SECURITY_PROTOCOLS, case="upper")
    # PEM files. The CA defaults to the system's trust store; a certificate and key
    # make the client prove itself by TLS (mutual TLS).
    ssl_ca: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    ssl_key_password: str = setting("", secret=True, from_file=True)
    # Off only by an explicit choice, which is logged at start.
    ssl_check_hostname: bool = True
    sasl_mechanism: str = setting("", case="upper")
    sasl_username: str = setting("", from_file=True)
    sasl_password: str = setting("", secret=True, from_file=True)
    # OAUTHBEARER: a file holding the token (read again before it expires) or a command
    # printing one.
    oauth_token_path: str = ""
    oauth_token_command: str = ""
    # AWS_MSK_IAM: the cluster's region.
    aws_region: str = setting("", fallback=("AWS_REGION", "AWS_DEFAULT_REGION"))
    # Default: backupwatch-<role>-<host>, so that the brokers' logs and quotas tell the
    # processes apart.
    client_id: str = ""
    role: str = setting("client", read=False, compare=False)

    def __post_init__(self) -> None:
        self.check_fields()
        protocol, mechanism = self.security_protocol, self.sasl_mechanism
        if protocol in _SASL:
            if mechanism not in SASL_MECHANISMS:
                raise ConfigError(
                    f"{variable('security_protocol')}={protocol} needs "
                    f"{variable('sasl_mechanism')}, one of {', '.join(SASL_MECHANISMS)}; "
                    f"got {mechanism or '(none)'}"
                )
        elif mechanism:
            raise ConfigError(
                f"{variable('sasl_mechanism')}={mechanism} needs "
                f"{variable('security_protocol')} SASL_SSL or SASL_PLAINTEXT, got {protocol}"
            )
        if mechanism in _PASSWORD_MECHANISMS and not (self.sasl_username and self.sasl_password):
            raise ConfigError(
                f"SASL {mechanism} needs {variable('sasl_username')} and "
                f"{variable('sasl_password')} (or their _FILE forms)"
            )
        if mechanism == "OAUTHBEARER" and bool(self.oauth_token_path) == bool(
            self.oauth_token_command
        ):
            raise ConfigError(
                f"SASL OAUTHBEARER needs one of {variable('oauth_token_path')} and "
                f"{variable('oauth_token_command')}"
            )
        if mechanism == "AWS_MSK_IAM":
            if protocol != "SASL_SSL":
                raise ConfigError(
                    f"AWS_MSK_IAM needs {variable('security_protocol')}=SASL_SSL, got {protocol}"
                )
            if not self.aws_region:
                raise ConfigError(f"AWS_MSK_IAM needs {variable('aws_region')} (or AWS_REGION)")
            from agents.kafka.tokens import require_msk_signer

            require_msk_signer()
        tls_files = [name for name in ("ssl_ca", "ssl_cert", "ssl_key") if getattr(self, name)]
        if protocol not in _TLS and (tls_files or self.ssl_key_password):
            named = ", ".join(variable(name) for name in tls_files) or variable("ssl_key_password")
            raise ConfigError(
                f"{named} set but {variable('security_protocol')} is {protocol}: "
                "use SSL or SASL_SSL"
            )
        if bool(self.ssl_cert) != bool(self.ssl_key):
            raise ConfigError(
                f"{variable('ssl_cert')} and {variable('ssl_key')} go together: set both or neither"
            )
        if protocol in _TLS:
            self.ssl_context()  # unreadable or mismatched files are refused at start

    # -- reading -------------------------------------------------------------------

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, role: str = "client", **overrides: Any
    ) -> KafkaConnection:
        """Read `BACKUPWATCH_KAFKA_*` (and `BACKUPWATCH_BOOTSTRAP_SERVERS`, else
        `KAFKA_BOOTSTRAP_SERVERS`); raise `ConfigError` naming a bad variable."""
        env = os.environ if env is None else env
        connection = cls(**{**cls.read_env(env), "role": role, **overrides})
        if connection.security_protocol in _TLS and not connection.ssl_check_hostname:
            log.warning(
                "%s=false: the brokers' certificates are checked against the CA but not "
                "against their host names",
                variable("ssl_check_hostname"),
            )
        return connection

    def for_role(self, role: str) -> KafkaConnection:
        """The same connection for another process role (its default client id)."""
        return replace(self, role=role)

    def described(self) -> Iterator[tuple[str, str]]:
        """(name, value) of each setting that is in use, secrets masked."""
        for name, shown in super().described():
            if name in _NOT_VARIABLES or shown in ("", "(none)"):
                continue
            if name == "ssl_check_hostname" and self.security_protocol not in _TLS:
                continue
            yield f"kafka_{name}", shown
        if not self.client_id:
            yield "kafka_client_id", f"{self.effective_client_id} (default)"

    @property
    def effective_client_id(self) -> str:
        return self.client_id or f"backupwatch-{self.role}-{socket.gethostname()}"

    @property
    def user(self) -> str:
        """Who the brokers see, for messages."""
        if self.sasl_mechanism in _PASSWORD_MECHANISMS:
            return f"user {self.sasl_username!r}"
        if self.sasl_mechanism:
            return f"the {self.sasl_mechanism} identity"
        if self.ssl_cert:
            return f"the certificate {self.ssl_cert}"
        return "this client"

    # -- what every client is given ------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        try:
            context = ssl.create_default_context(cafile=self.ssl_ca or None)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(
                f"{variable('ssl_ca')}={self.ssl_ca}: not a readable PEM CA file ({err})"
            ) from None
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_cert:
            try:
                context.load_cert_chain(
                    self.ssl_cert, self.ssl_key, password=self.ssl_key_password or None
                )
            except (OSError, ssl.SSLError) as err:
                raise ConfigError(
                    f"{variable('ssl_cert')}={self.ssl_cert} and {variable('ssl_key')}="
                    f"{self.ssl_key}: not a readable certificate and its key, or the key's "
                    f"password ({variable('ssl_key_password')}) is wrong ({err})"
                ) from None
        return context

    def token_provider(self) -> Any:
        from agents.kafka import tokens

        if self.sasl_mechanism == "AWS_MSK_IAM":
            return tokens.MskIamTokenProvider(self.aws_region)
        if self.oauth_token_command:
            return tokens.CommandTokenProvider(self.oauth_token_command)
        return tokens.FileTokenProvider(Path(self.oauth_token_path))

    def client_options(self) -> dict[str, Any]:
        """The keyword arguments of every aiokafka client: the one place where a Kafka
        client option is added."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.effective_client_id,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in _TLS:
            options["ssl_context"] = self.ssl_context()
        if self.sasl_mechanism in _PASSWORD_MECHANISMS:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        elif self.sasl_mechanism:
            options["sasl_mechanism"] = "OAUTHBEARER"
            options["sasl_oauth_token_provider"] = self.token_provider()
        return options

    def faust_options(self) -> dict[str, Any]:
        """`client_options` as the settings of a Faust app (broker, client id,
        credentials); refuses an option Faust has no setting for."""
        from faust.auth import OAuthCredentials, SASLCredentials, SSLCredentials

        options = self.client_options()
        servers = options.pop("bootstrap_servers")
        client_id = options.pop("client_id")
        protocol = options.pop("security_protocol")
        # Faust's SSLCredentials() cannot build a context of its own: always give one.
        context = options.pop("ssl_context", None)
        mechanism = options.pop("sasl_mechanism", None)
        credentials: Any = None
        if mechanism == "OAUTHBEARER":
            credentials = OAuthCredentials(
                oauth_cb=options.pop("sasl_oauth_token_provider"), ssl_context=context
            )
        elif mechanism:
            credentials = SASLCredentials(
                username=options.pop("sasl_plain_username"),
                password=options.pop("sasl_plain_password"),
                ssl_context=context,
                mechanism=mechanism,
            )
        elif context is not None:
            credentials = SSLCredentials(context)
        if options or (credentials and credentials.protocol.value != protocol):
            raise ConfigError(
                f"the Faust app cannot carry the Kafka client option(s) {sorted(options)} "
                f"({protocol}); add them to KafkaConnection.faust_options"
            )
        return {
            "broker": ",".join(f"kafka://{host.strip()}" for host in servers.split(",")),
            "broker_client_id": client_id,
            "broker_credentials": credentials,
        }

    # -- the clients -----------------------------------------------------------------

    def producer(self, **options: Any) -> Any:
        from aiokafka import AIOKafkaProducer

        return AIOKafkaProducer(**{**self.client_options(), **options})

    def consumer(self, *topics: str, **options: Any) -> Any:
        from aiokafka import AIOKafkaConsumer

        return AIOKafkaConsumer(*topics, **{**self.client_options(), **options})

    def admin(self, **options: Any) -> Any:
        from aiokafka.admin import AIOKafkaAdminClient

        return AIOKafkaAdminClient(**{**self.client_options(), **options})

    def faust_app(self, app_id: str, **options: Any) -> faust.App:
        """A Faust app on this connection; `connection_of(app)` gives it back."""
        import faust

        app = faust.App(app_id, **{**self.faust_options(), **options})
        _APPS[app] = self
        return app

    # -- starting, and saying why not --------------------------------------------------

    async def start(self, client: Any) -> None:
        """Start an aiokafka producer, consumer or admin client; when that fails,
        release it and raise `KafkaUnreachable` or `KafkaRefused` naming the cause."""
        from aiokafka.errors import KafkaError

        try:
            await client.start()
        except KafkaError as err:
            # Released, or asyncio reports the half-started client at exit. Admin
            # clients close; producers and consumers stop.
            await (client.stop() if hasattr(client, "stop") else client.close())
            raise (self.refusal(err) or await self.diagnose(err)) from None

    async def diagnose(self, failure: object) -> Exception:
        """Why clients cannot connect: one connection per bootstrap server with this
        connection's options (aiokafka logs the cause of a failed bootstrap but raises
        only "Unable to bootstrap"). The error of the first server that refused."""
        from aiokafka.conn import create_conn

        # The options of one connection (TLS, SASL, client id), not those of a client.
        takes = inspect.signature(create_conn).parameters
        options = {
            name: value
            for name, value in self.client_options().items()
            if name in takes and name not in ("host", "port", "request_timeout_ms")
        }
        first: Exception | None = None
        for host, port in _addresses(self.bootstrap_servers):
            try:
                conn = await asyncio.wait_for(
                    create_conn(
                        host, port, request_timeout_ms=int(_DIAGNOSE_SECONDS * 1000), **options
                    ),
                    _DIAGNOSE_SECONDS + 1,
                )
            except Exception as err:  # noqa: BLE001 - every failure is explained
                explained = self.explain(err, f"{host}:{port}")
                if isinstance(explained, KafkaRefused):
                    return explained
                first = first or explained
            else:
                conn.close()
        return first or KafkaUnreachable(self.bootstrap_servers, failure)

    def explain(self, err: BaseException, address: str) -> Exception:
        """One line a person can act on for a failure to connect to `address`."""
        from aiokafka import errors

        protocol = variable("security_protocol")
        if isinstance(err, ssl.SSLCertVerificationError):
            reason = err.verify_message or str(err)
            if err.verify_code == 62 or "hostname" in reason.lower():
                return KafkaRefused(
                    f"the certificate of the broker at {address} does not name that host "
                    f"({reason}): connect by a name the certificate holds, or set "
                    f"{variable('ssl_check_hostname')}=false"
                )
            return KafkaRefused(
                f"the certificate of the broker at {address} is not trusted ({reason}): set "
                f"{variable('ssl_ca')} to the CA certificate that signed it"
            )
        if isinstance(err, ssl.SSLError):
            reason = err.reason or str(err)
            if reason in _CLIENT_CERTIFICATE_REFUSED:
                return KafkaRefused(
                    f"the broker at {address} refused this client's TLS certificate ({reason}):"
                    f" set {variable('ssl_cert')} and {variable('ssl_key')} to a certificate "
                    "its CA signed"
                )
            return KafkaRefused(
                f"the TLS handshake with the broker at {address} failed ({reason}): is that "
                f"port TLS? {protocol}={self.security_protocol}"
            )
        if isinstance(err, errors.SaslAuthenticationFailed | errors.AuthenticationFailedError):
            return KafkaRefused(
                f"the broker at {address} refused the SASL {self.sasl_mechanism} login of "
                f"{self.user}: check {variable('sasl_username')} and "
                f"{variable('sasl_password')}"
            )
        if isinstance(err, errors.UnsupportedSaslMechanismError):
            return KafkaRefused(
                f"the broker at {address} does not offer SASL {self.sasl_mechanism}: set "
                f"{variable('sasl_mechanism')} to one its listener enables"
            )
        if isinstance(err, TimeoutError):
            return KafkaRefused(
                f"the broker at {address} did not answer within {_DIAGNOSE_SECONDS:g} s: a "
                "firewall dropping the packets, or a listener that speaks another protocol "
                f"than {protocol}={self.security_protocol}"
            )
        if isinstance(err, ConnectionRefusedError | socket.gaierror) or (
            isinstance(err, OSError) and not isinstance(err, ConnectionResetError)
        ):
            return KafkaUnreachable(self.bootstrap_servers, err)
        # Closed or silent: the client and the listener speak different protocols.
        cause = str(err) or type(err).__name__
        hints = [f"{protocol}={self.security_protocol} must be what that listener speaks"]
        if self.security_protocol not in _TLS:
            hints.append("if the port speaks TLS, SSL or SASL_SSL")
        if self.security_protocol not in _SASL:
            hints.append("if it asks for a login, SASL_PLAINTEXT or SASL_SSL")
        if self.security_protocol == "SSL" and not self.ssl_cert:
            hints.append(
                f"if it asks for a client certificate (mutual TLS), set {variable('ssl_cert')} "
                f"and {variable('ssl_key')}"
            )
        return KafkaRefused(
            f"the broker at {address} closed the connection of this {self.security_protocol} "
            f"client ({cause}): {'; '.join(hints)}"
        )

    def refusal(self, err: BaseException) -> KafkaRefused | None:
        """A missing right (ACL) as one line, or None when `err` is no such refusal."""
        from aiokafka import errors

        what = {
            errors.TopicAuthorizationFailedError: "use a topic",
            errors.GroupAuthorizationFailedError: "use its consumer group",
            errors.ClusterAuthorizationFailedError: "do this on the cluster",
            errors.TransactionalIdAuthorizationFailed: "use its transactional id",
        }
        for kind, action in what.items():
            if isinstance(err, kind):
                detail = str(err).strip()
                return KafkaRefused(
                    f"Kafka does not allow {self.user} to {action} ({detail}): grant the "
                    "ACLs that `backupwatch topics describe` lists"
                )
        return None


_APPS: weakref.WeakKeyDictionary[Any, KafkaConnection] = weakref.WeakKeyDictionary()


def connection_of(app: Any) -> KafkaConnection:
    """The connection a Faust app was made with (`KafkaConnection.faust_app`); for an
    app made otherwise, a plaintext one to its brokers."""
    known = _APPS.get(app)
    if known is not None:
        return known
    brokers: Any = app.conf.broker
    servers = ",".join(f"{url.host}:{url.port or 9092}" for url in brokers)
    return KafkaConnection(bootstrap_servers=servers)


def _addresses(servers: str) -> list[tuple[str, int]]:
    addresses = []
    for entry in servers.split(","):
        entry = entry.strip()
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            port = rest[1:] or "9092"
        elif entry.count(":") == 1:
            host, _, port = entry.partition(":")
        else:
            host, port = entry, "9092"
        addresses.append((host, int(port)))
    return addresses
