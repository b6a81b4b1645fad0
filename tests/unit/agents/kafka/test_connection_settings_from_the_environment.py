"""The Kafka connection is read once from BACKUPWATCH_KAFKA_* variables, validated at
start (a bad one is named), its secrets read from `_FILE` variables too and masked
wherever settings are printed."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
import trustme

from agents.errors import ConfigError
from agents.kafka import KafkaConnection
from agents.notify.settings import NotifySettings
from agents.settings import Settings

SCRAM = {
    "BACKUPWATCH_BOOTSTRAP_SERVERS": "kafka-1:9093,kafka-2:9093",
    "BACKUPWATCH_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
    "BACKUPWATCH_KAFKA_SASL_MECHANISM": "scram-sha-512",
    "BACKUPWATCH_KAFKA_SASL_USERNAME": "backupwatch",
    "BACKUPWATCH_KAFKA_SASL_PASSWORD": "s3cret-pa55",
}


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, str]:
    ca = trustme.CA()
    client = ca.issue_cert("backupwatch")
    paths = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "client.pem", "key": tmp_path / "c.key"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    client.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    client.private_key_pem.write_to_path(str(paths["key"]))
    return {name: str(path) for name, path in paths.items()}


def test_without_variables_it_is_plaintext_to_the_local_broker() -> None:
    connection = KafkaConnection.from_env({}, role="worker")

    assert connection.bootstrap_servers == "127.0.0.1:9092"
    assert connection.security_protocol == "PLAINTEXT"
    assert connection.client_options() == {
        "bootstrap_servers": "127.0.0.1:9092",
        "client_id": f"backupwatch-worker-{socket.gethostname()}",
        "security_protocol": "PLAINTEXT",
    }


def test_sasl_ssl_with_scram_reaches_every_client_option() -> None:
    options = KafkaConnection.from_env(SCRAM).client_options()

    assert options["bootstrap_servers"] == "kafka-1:9093,kafka-2:9093"
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "backupwatch",
        "s3cret-pa55",
    )
    # The system's trust store, with host names checked.
    assert options["ssl_context"].check_hostname is True


def test_a_secret_is_read_from_its_file_without_the_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-a-file\n")
    env = {k: v for k, v in SCRAM.items() if k != "BACKUPWATCH_KAFKA_SASL_PASSWORD"}

    connection = KafkaConnection.from_env(
        {**env, "BACKUPWATCH_KAFKA_SASL_PASSWORD_FILE": str(secret)}
    )

    assert connection.sasl_password == "from-a-file"


def test_a_secret_and_its_file_together_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("x")
    with pytest.raises(ConfigError, match="BACKUPWATCH_KAFKA_SASL_PASSWORD and .*_FILE are both"):
        KafkaConnection.from_env({**SCRAM, "BACKUPWATCH_KAFKA_SASL_PASSWORD_FILE": str(secret)})


def test_an_unreadable_secret_file_is_named(tmp_path: Path) -> None:
    env = {k: v for k, v in SCRAM.items() if k != "BACKUPWATCH_KAFKA_SASL_PASSWORD"}
    missing = tmp_path / "nothing-here"
    with pytest.raises(ConfigError, match=f"BACKUPWATCH_KAFKA_SASL_PASSWORD_FILE={missing}"):
        KafkaConnection.from_env({**env, "BACKUPWATCH_KAFKA_SASL_PASSWORD_FILE": str(missing)})


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"BACKUPWATCH_KAFKA_SECURITY_PROTOCOL": "TLS"}, "BACKUPWATCH_KAFKA_SECURITY_PROTOCOL"),
        ({"BACKUPWATCH_KAFKA_SASL_MECHANISM": "KERBEROS"}, "BACKUPWATCH_KAFKA_SASL_MECHANISM"),
        ({"BACKUPWATCH_KAFKA_SASL_PASSWORD": ""}, "BACKUPWATCH_KAFKA_SASL_PASSWORD"),
        ({"BACKUPWATCH_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}, "BACKUPWATCH_KAFKA_SASL_MECHANISM"),
        ({"BACKUPWATCH_KAFKA_SASL_MECHANISM": "OAUTHBEARER"}, "OAUTH_TOKEN_PATH"),
        ({"BACKUPWATCH_KAFKA_SSL_CHECK_HOSTNAME": "maybe"}, "BACKUPWATCH_KAFKA_SSL_CHECK_HOSTNAME"),
        ({"BACKUPWATCH_KAFKA_SSL_CA": "/no/such/ca.pem"}, "BACKUPWATCH_KAFKA_SSL_CA"),
        ({"BACKUPWATCH_KAFKA_SSL_CERT": "/a/client.pem"}, "BACKUPWATCH_KAFKA_SSL_KEY go together"),
    ],
    ids=lambda value: str(value) if isinstance(value, str) else "-".join(value.values()),
)
def test_a_bad_variable_is_named(change: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        KafkaConnection.from_env({**SCRAM, **change})


def test_tls_files_on_a_plaintext_connection_are_refused(tls_files: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="BACKUPWATCH_KAFKA_SSL_CA set but .* is PLAINTEXT"):
        KafkaConnection.from_env({"BACKUPWATCH_KAFKA_SSL_CA": tls_files["ca"]})


def test_mutual_tls_loads_the_client_certificate(tls_files: dict[str, str]) -> None:
    connection = KafkaConnection.from_env(
        {
            "BACKUPWATCH_KAFKA_SECURITY_PROTOCOL": "SSL",
            "BACKUPWATCH_KAFKA_SSL_CA": tls_files["ca"],
            "BACKUPWATCH_KAFKA_SSL_CERT": tls_files["cert"],
            "BACKUPWATCH_KAFKA_SSL_KEY": tls_files["key"],
        }
    )

    options = connection.client_options()
    assert options["security_protocol"] == "SSL"
    assert options["ssl_context"].get_ca_certs()[0]["subject"]


def test_a_key_that_is_not_the_certificates_is_refused_at_start(
    tls_files: dict[str, str],
) -> None:
    with pytest.raises(ConfigError, match="BACKUPWATCH_KAFKA_SSL_CERT=.*not a readable"):
        KafkaConnection.from_env(
            {
                "BACKUPWATCH_KAFKA_SECURITY_PROTOCOL": "SSL",
                "BACKUPWATCH_KAFKA_SSL_CERT": tls_files["cert"],
                "BACKUPWATCH_KAFKA_SSL_KEY": tls_files["ca"],
            }
        )


def test_turning_host_name_checks_off_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="agents.kafka.connection"):
        connection = KafkaConnection.from_env(
            {**SCRAM, "BACKUPWATCH_KAFKA_SSL_CHECK_HOSTNAME": "false"}
        )

    assert connection.client_options()["ssl_context"].check_hostname is False
    assert "BACKUPWATCH_KAFKA_SSL_CHECK_HOSTNAME=false" in caplog.text


def test_msk_iam_without_its_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def without_signer(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("aws_msk_iam_sasl_signer"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", without_signer)
    with pytest.raises(ConfigError, match=r"pip install 'backupwatch\[msk\]'"):
        KafkaConnection.from_env(
            {
                "BACKUPWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "BACKUPWATCH_KAFKA_SASL_MECHANISM": "AWS_MSK_IAM",
                "AWS_REGION": "eu-west-1",
            }
        )


def test_secrets_are_masked_wherever_settings_are_printed() -> None:
    worker = Settings.from_env(SCRAM)
    notifier = NotifySettings.from_env(SCRAM)

    for printed in (worker.describe(), notifier.describe(), repr(worker), repr(notifier)):
        assert "s3cret-pa55" not in printed
    assert "kafka_sasl_password" in worker.describe()
    assert "****" in worker.describe()
    assert "kafka_sasl_username" in notifier.describe()


def test_the_client_id_names_the_role_and_the_host_unless_set() -> None:
    host = socket.gethostname()

    assert Settings.from_env({}).kafka.effective_client_id == f"backupwatch-worker-{host}"
    assert NotifySettings.from_env({}).kafka.effective_client_id == f"backupwatch-notifier-{host}"
    assert Settings.from_env({}, role="alerts").kafka.effective_client_id.startswith(
        "backupwatch-alerts-"
    )
    named = Settings.from_env({"BACKUPWATCH_KAFKA_CLIENT_ID": "bw-eu-1"})
    assert named.kafka.client_options()["client_id"] == "bw-eu-1"


def test_a_worker_subprocess_is_given_the_same_connection() -> None:
    settings = Settings.from_env({**SCRAM, "BACKUPWATCH_CREATE_TOPICS": "false"})

    again = Settings.from_env(settings.as_env())

    assert again.kafka == settings.kafka
    assert again.create_topics is False


def test_the_connection_follows_the_servers_of_the_settings() -> None:
    from dataclasses import replace

    settings = Settings.from_env(SCRAM, bootstrap_servers="other:9093")
    assert settings.kafka.bootstrap_servers == "other:9093"
    assert replace(settings, bootstrap_servers="third:9093").kafka.bootstrap_servers == (
        "third:9093"
    )
    assert replace(settings, bootstrap_servers="third:9093").kafka.sasl_username == "backupwatch"


@pytest.mark.parametrize("value", ["false", "0", "no"])
def test_create_topics_can_be_turned_off_for_both(value: str) -> None:
    env = {"BACKUPWATCH_CREATE_TOPICS": value}
    assert Settings.from_env(env).create_topics is False
    assert NotifySettings.from_env(env).create_topics is False


def test_create_topics_must_be_true_or_false() -> None:
    with pytest.raises(ConfigError, match="BACKUPWATCH_CREATE_TOPICS"):
        Settings.from_env({"BACKUPWATCH_CREATE_TOPICS": "sometimes"})
    with pytest.raises(ConfigError, match="BACKUPWATCH_CREATE_TOPICS"):
        NotifySettings.from_env({"BACKUPWATCH_CREATE_TOPICS": "sometimes"})
