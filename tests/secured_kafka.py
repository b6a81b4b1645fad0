"""The secured test broker: `deploy/kafka/kafka.sh start --secured`, started once per
session by the `secured_kafka` fixture (tests/conftest.py) only when a test asks for it.

Its listeners: plaintext (the harness's own door: ANONYMOUS is a super user there),
SASL_SSL with SCRAM-SHA-512 users `admin` (super user), `backupwatch` and `limited`,
and mutual TLS (a client certificate's CN is its user). Certificates come from a
throwaway CA made at start. ACLs are enforced: `backupwatch` and `limited` may do only
what `grant` gives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest

from agents.kafka import KafkaConnection
from agents.kafka.topics import AclSpec

__all__ = ["SecuredBroker"]

# Kafka's codes of ACL resource types, pattern types, operations and permissions.
_RESOURCES = {"topic": 2, "group": 3, "cluster": 4}
_LITERAL, _PREFIXED = 3, 4
_OPERATIONS = {
    "ALL": 2,
    "READ": 3,
    "WRITE": 4,
    "CREATE": 5,
    "DELETE": 6,
    "ALTER": 7,
    "DESCRIBE": 8,
    "DESCRIBE_CONFIGS": 10,
}
_ALLOW = 3


@dataclass(frozen=True)
class SecuredBroker:
    plaintext: str
    sasl_ssl: str
    mutual_tls: str
    ca: Path
    users: Path
    certs: Path

    @classmethod
    def from_state(cls, plaintext: str, state_dir: Path) -> SecuredBroker:
        values = dict(
            line.split("=", 1)
            for line in (state_dir / "secured.env").read_text().splitlines()
            if "=" in line
        )
        return cls(
            plaintext=plaintext,
            sasl_ssl=values["SASL_SSL"],
            mutual_tls=values["SSL"],
            ca=Path(values["CA"]),
            users=Path(values["USERS"]),
            certs=Path(values["CERTS"]),
        )

    def password_file(self, user: str) -> Path:
        return self.users / f"{user}.password"

    def scram_env(self, user: str = "backupwatch") -> dict[str, str]:
        """The variables of a process logging in as `user` over SASL_SSL (its password
        from a file, as a Docker or Kubernetes secret)."""
        return {
            "BACKUPWATCH_BOOTSTRAP_SERVERS": self.sasl_ssl,
            "BACKUPWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "BACKUPWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "BACKUPWATCH_KAFKA_SASL_USERNAME": user,
            "BACKUPWATCH_KAFKA_SASL_PASSWORD_FILE": str(self.password_file(user)),
            "BACKUPWATCH_KAFKA_SSL_CA": str(self.ca),
        }

    def mutual_tls_env(self, user: str = "backupwatch") -> dict[str, str]:
        return {
            "BACKUPWATCH_BOOTSTRAP_SERVERS": self.mutual_tls,
            "BACKUPWATCH_KAFKA_SECURITY_PROTOCOL": "SSL",
            "BACKUPWATCH_KAFKA_SSL_CA": str(self.ca),
            "BACKUPWATCH_KAFKA_SSL_CERT": str(self.certs / f"{user}.crt"),
            "BACKUPWATCH_KAFKA_SSL_KEY": str(self.certs / f"{user}.key"),
        }

    def scram(self, user: str = "backupwatch") -> KafkaConnection:
        return KafkaConnection.from_env(self.scram_env(user), role="test")

    def mutual_tls_connection(self, user: str = "backupwatch") -> KafkaConnection:
        return KafkaConnection.from_env(self.mutual_tls_env(user), role="test")

    async def grant(self, user: str, acls: list[AclSpec], *, prefixed: bool = False) -> None:
        """Allow `user` the operations of `acls` (literal names, or name prefixes)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.plaintext)
        await admin.start()
        try:
            for acl in acls:
                pattern = _PREFIXED if prefixed and acl.resource != "cluster" else _LITERAL
                for operation in acl.operations:
                    response = await admin._send_request(  # noqa: SLF001 - no public call
                        CreateAclsRequest(
                            _RESOURCES[acl.resource],
                            acl.name,
                            pattern,
                            f"User:{user}",
                            "*",
                            _OPERATIONS[operation],
                            _ALLOW,
                        )
                    )
                    for code, message in response.creation_responses:
                        assert code == 0, f"granting {operation} on {acl}: {message}"
        finally:
            await admin.close()

    async def grant_everything_under(self, user: str, prefix: str, group_prefix: str) -> None:
        """Topics and groups whose names start with the prefixes, and creating topics."""
        await self.grant(
            user,
            [
                AclSpec("test", "topic", prefix, ("ALL",)),
                AclSpec("test", "group", group_prefix, ("ALL",)),
            ],
            prefixed=True,
        )
        await self.grant(user, [AclSpec("test", "cluster", "kafka-cluster", ("CREATE",))])
