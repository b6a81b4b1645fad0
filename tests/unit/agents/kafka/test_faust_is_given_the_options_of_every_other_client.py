"""The Faust app connects with exactly the security options every aiokafka client gets:
`faust_options` translates `client_options` into Faust's credentials, and Faust turns
those back into aiokafka's keyword arguments (its own `credentials_to_aiokafka_auth`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trustme
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from agents.errors import ConfigError
from agents.kafka import KafkaConnection, connection_of


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    client = ca.issue_cert("backupwatch")
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    client.cert_chain_pems[0].write_to_path(str(tmp / "client.pem"))
    client.private_key_pem.write_to_path(str(tmp / "client.key"))
    return {name: str(tmp / name) for name in ("ca.pem", "client.pem", "client.key")}


def _connections(tls: dict[str, str], token: Path) -> dict[str, KafkaConnection]:
    servers = {"bootstrap_servers": "k1:9093,k2:9093"}
    return {
        "plaintext": KafkaConnection(**servers),
        "ssl": KafkaConnection(**servers, security_protocol="SSL", ssl_ca=tls["ca.pem"]),
        "mutual-tls": KafkaConnection(
            **servers,
            security_protocol="SSL",
            ssl_ca=tls["ca.pem"],
            ssl_cert=tls["client.pem"],
            ssl_key=tls["client.key"],
        ),
        "sasl-ssl-scram": KafkaConnection(
            **servers,
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="bw",
            sasl_password="pw",
        ),
        "sasl-plaintext-plain": KafkaConnection(
            **servers,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_username="bw",
            sasl_password="pw",
        ),
        "oauthbearer": KafkaConnection(
            **servers,
            security_protocol="SASL_SSL",
            sasl_mechanism="OAUTHBEARER",
            oauth_token_path=str(token),
        ),
    }


def _comparable(options: dict[str, Any]) -> dict[str, Any]:
    """Options with the per-call objects (TLS context, token provider) as their kinds."""
    shown = dict(options)
    for name in ("ssl_context", "sasl_oauth_token_provider"):
        if shown.get(name) is not None:
            shown[name] = type(shown[name]).__name__
        else:
            shown.pop(name, None)
    return shown


@pytest.mark.parametrize(
    "kind",
    ["plaintext", "ssl", "mutual-tls", "sasl-ssl-scram", "sasl-plaintext-plain", "oauthbearer"],
)
def test_faust_connects_with_the_options_of_every_other_client(
    kind: str, tls: dict[str, str], tmp_path: Path
) -> None:
    connection = _connections(tls, tmp_path / "token")[kind]

    options = connection.client_options()
    faust = connection.faust_options()

    assert faust["broker"] == "kafka://k1:9093,kafka://k2:9093"
    assert faust["broker_client_id"] == options.pop("client_id")
    options.pop("bootstrap_servers")
    assert _comparable(credentials_to_aiokafka_auth(faust["broker_credentials"])) == _comparable(
        options
    )


def test_an_option_faust_cannot_carry_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    connection = KafkaConnection()
    original = KafkaConnection.client_options

    def with_a_new_option(self: KafkaConnection) -> dict[str, Any]:
        return {**original(self), "sasl_kerberos_service_name": "kafka"}

    monkeypatch.setattr(KafkaConnection, "client_options", with_a_new_option)
    with pytest.raises(ConfigError, match="sasl_kerberos_service_name"):
        connection.faust_options()


def test_the_app_knows_its_connection(tls: dict[str, str]) -> None:
    connection = KafkaConnection(
        bootstrap_servers="k1:9093", security_protocol="SSL", ssl_ca=tls["ca.pem"]
    )

    app = connection.faust_app("connection-test", web_enabled=False)

    assert connection_of(app) is connection
