"""Each way a secured cluster refuses a client ends the command with one line
`backupwatch: …` naming the cause and what to change, exit code 2, within 30 s: a
wrong password, an untrusted broker certificate, a plaintext client on a TLS port, a
TLS port that wants a client certificate, a missing ACL, an unreachable broker."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from tests.integration.secured.cli import Run, backupwatch
from tests.kafka_harness import create_topics
from tests.secured_kafka import SecuredBroker

pytestmark = pytest.mark.integration

BOUND = 30.0


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def _wrong_password(broker: SecuredBroker) -> dict[str, str]:
    env = broker.scram_env()
    del env["BACKUPWATCH_KAFKA_SASL_PASSWORD_FILE"]
    return {**env, "BACKUPWATCH_KAFKA_SASL_PASSWORD": "not-the-password"}


def _untrusted(broker: SecuredBroker) -> dict[str, str]:
    # No CA given: the system's trust store, which never signed the test CA.
    return {k: v for k, v in broker.scram_env().items() if k != "BACKUPWATCH_KAFKA_SSL_CA"}


def _plaintext_on_tls(broker: SecuredBroker) -> dict[str, str]:
    return {"BACKUPWATCH_BOOTSTRAP_SERVERS": broker.sasl_ssl}


def _no_client_certificate(broker: SecuredBroker) -> dict[str, str]:
    env = broker.mutual_tls_env()
    return {k: v for k, v in env.items() if not k.startswith("BACKUPWATCH_KAFKA_SSL_CERT")} | {
        "BACKUPWATCH_KAFKA_SSL_KEY": ""
    }


def _unreachable(broker: SecuredBroker) -> dict[str, str]:
    return {**broker.scram_env(), "BACKUPWATCH_BOOTSTRAP_SERVERS": _closed_port()}


CASES: dict[str, tuple[Callable[[SecuredBroker], dict[str, str]], str]] = {
    "wrong password": (
        _wrong_password,
        "refused the SASL SCRAM-SHA-512 login of user 'backupwatch': check "
        "BACKUPWATCH_KAFKA_SASL_USERNAME and BACKUPWATCH_KAFKA_SASL_PASSWORD",
    ),
    "untrusted certificate": (
        _untrusted,
        "is not trusted (self-signed certificate in certificate chain): set "
        "BACKUPWATCH_KAFKA_SSL_CA to the CA certificate that signed it",
    ),
    "plaintext client on a TLS port": (
        _plaintext_on_tls,
        "closed the connection of this PLAINTEXT client (",
    ),
    "no client certificate for mutual TLS": (
        _no_client_certificate,
        "if it asks for a client certificate (mutual TLS), set BACKUPWATCH_KAFKA_SSL_CERT",
    ),
    "unreachable broker": (_unreachable, "cannot reach Kafka at BACKUPWATCH_BOOTSTRAP_SERVERS="),
}


def _assert_one_line(run: Run, expected: str) -> None:
    assert run.code == 2, run.err
    assert "Traceback" not in run.err
    assert run.last_line.startswith("backupwatch: "), run.err
    assert expected in run.last_line
    assert run.seconds < BOUND


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    "command", [["topics", "create"], ["worker", "--store", "memory://"], ["notify"]], ids=" ".join
)
def test_a_refused_connection_is_one_line_naming_the_cause(
    case: str, command: list[str], secured_kafka: SecuredBroker
) -> None:
    make_env, expected = CASES[case]

    env = {
        **make_env(secured_kafka),
        "BACKUPWATCH_WEB_PORT": "0",
        "BACKUPWATCH_NOTIFY_WEB_PORT": "0",
    }
    run = backupwatch(*command, env=env)

    _assert_one_line(run, expected)


def test_a_user_without_the_right_to_create_topics_is_told_which_acl(
    secured_kafka: SecuredBroker, topic_prefix: str
) -> None:
    env = {**secured_kafka.scram_env("limited"), "BACKUPWATCH_TOPIC_PREFIX": topic_prefix}

    run = backupwatch("topics", "create", env=env)

    _assert_one_line(run, "Kafka does not allow user 'limited' to create topic ")
    assert "BACKUPWATCH_CREATE_TOPICS=false" in run.last_line


async def test_a_user_without_the_right_to_read_the_alerts_is_told_so(
    secured_kafka: SecuredBroker, topic_prefix: str
) -> None:
    await create_topics(secured_kafka.plaintext, [f"{topic_prefix}alerts"])
    env = {**secured_kafka.scram_env("limited"), "BACKUPWATCH_TOPIC_PREFIX": topic_prefix}

    run = backupwatch("alerts", "--from-beginning", env=env)

    _assert_one_line(run, "Kafka does not allow user 'limited' to use a topic")
