"""docker-compose.yml runs the whole stack, and everything it hands the project's image
— commands, BACKUPWATCH_* variables, mounted files — exists in the project. There is no
Docker engine here: the file is read, as docker compose would, and checked against the
code."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from agents.notify.settings import NotifySettings
from agents.settings import Settings
from tests.cli_check import cli_refusal
from tests.deploy_files import (
    REPO,
    backupwatch_services,
    compose,
    compose_defaults,
    compose_variables,
    dockerfile,
    env_file,
    known_variables,
    notify_variables,
    worker_variables,
)


def test_plain_docker_compose_up_needs_nothing_but_the_committed_env() -> None:
    missing: set[str] = set()
    compose(missing, example=False)
    assert not missing, f"docker-compose.yml needs {sorted(missing)} beyond .env"


def test_env_example_lists_every_variable_with_the_default_compose_uses() -> None:
    example = env_file(REPO / ".env.example")
    pinned = env_file(REPO / ".env")
    assert compose_variables() <= set(example) | set(pinned), (
        compose_variables() - set(example) - set(pinned)
    )
    for name, default in compose_defaults().items():
        assert example.get(name) == default, (name, example.get(name), default)


def test_the_stack_has_every_part() -> None:
    services = compose()["services"]
    assert {
        "kafka",
        "topics",
        "worker-1",
        "worker-2",
        "serve",
        "notifier",
        "simulator",
        "prometheus",
        "grafana",
    } <= set(services)
    assert services["simulator"]["profiles"] == ["demo"]
    # Only the simulator is optional: everything else starts with `docker compose up`.
    assert [name for name, s in services.items() if s.get("profiles")] == ["simulator"]


def test_every_command_is_one_the_cli_accepts() -> None:
    services = backupwatch_services()
    commands = {name: service["command"] for name, service in services.items()}
    assert {name: command[0] for name, command in commands.items()} == {
        "topics": "topics",
        "worker-1": "worker",
        "worker-2": "worker",
        "serve": "serve",
        "notifier": "notify",
        "simulator": "simulate",
    }
    for name, command in commands.items():
        assert cli_refusal(command) is None, (name, command, cli_refusal(command))


def test_the_cli_check_refuses_what_the_cli_refuses() -> None:
    assert cli_refusal(["simulate", "--devices", "many"])
    assert cli_refusal(["notfy"])
    assert cli_refusal(["topics"])


def test_every_backupwatch_variable_set_is_one_the_code_reads() -> None:
    known = known_variables()
    for name, service in compose()["services"].items():
        names = {k for k in service.get("environment", {}) if k.startswith("BACKUPWATCH_")}
        assert names <= known, (name, sorted(names - known))
    example = {k for k in env_file(REPO / ".env.example") if k.startswith("BACKUPWATCH_")}
    assert example <= known, sorted(example - known)


@pytest.mark.parametrize("service", ["topics", "worker-1", "worker-2", "serve", "simulator"])
def test_the_worker_settings_of_each_service_are_valid(service: str) -> None:
    env = {k: str(v) for k, v in compose()["services"][service]["environment"].items()}
    assert set(env) <= worker_variables()
    settings = Settings.from_env(env)
    assert settings.bootstrap_servers == "kafka:19092"
    if service in ("worker-1", "worker-2", "serve"):
        settings.check_read_access()  # or the process would refuse to start
    if service.startswith("worker"):
        # Reachable from Prometheus and the host, state on the service's volume.
        assert settings.web_host == "0.0.0.0"  # noqa: S104
        volumes = compose()["services"][service]["volumes"]
        assert any(v.endswith(f":{settings.data_dir}") for v in volumes), volumes
        assert settings.store == "rocksdb://"
        settings.check_read_access()  # or the worker would refuse to start


def test_the_notifier_settings_are_valid_and_it_listens_beyond_loopback() -> None:
    env = {k: str(v) for k, v in compose()["services"]["notifier"]["environment"].items()}
    assert {k for k in env if k.startswith("BACKUPWATCH_NOTIFY_")} <= notify_variables()
    settings = NotifySettings.from_env(env)
    assert settings.web_host == "0.0.0.0"  # noqa: S104
    ports = compose()["services"]["notifier"]["ports"]
    assert any(p.endswith(f":{settings.web_port}") for p in ports), ports


def test_the_workers_run_no_report_reader_and_the_report_server_follows_their_changelog() -> None:
    """Two workers: the fleet's view is held once, by `serve`, which reads the changelog
    of the workers' app id and is published where the dashboard was, with a health
    check on its readiness; Prometheus scrapes it."""
    services = compose()["services"]
    env = {k: str(v) for k, v in services["serve"]["environment"].items()}
    serve = Settings.from_env(env)
    for name in ("worker-1", "worker-2"):
        worker = Settings.from_env({k: str(v) for k, v in services[name]["environment"].items()})
        assert worker.report_reader == "none"
        assert worker.app_id == serve.app_id
    assert serve.web_host == "0.0.0.0"  # noqa: S104
    assert services["serve"]["ports"] == [f"127.0.0.1:6066:{serve.web_port}"]
    assert "/readyz" in " ".join(services["serve"]["healthcheck"]["test"])
    prometheus = (REPO / "deploy/prometheus/prometheus.yml").read_text()
    assert f'"serve:{serve.web_port}"' in prometheus


def test_the_workers_share_one_consumer_group_and_keep_separate_state() -> None:
    services = compose()["services"]
    workers = [services["worker-1"], services["worker-2"]]
    assert len({w["environment"]["BACKUPWATCH_APP_ID"] for w in workers}) == 1
    assert len({w["volumes"][0].split(":")[0] for w in workers}) == 2
    assert len({w["ports"][0].split(":")[-2] for w in workers}) == 2


def test_prometheus_and_grafana_mount_files_that_exist() -> None:
    services = compose()["services"]
    mounted: dict[str, str] = {}
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source, target = volume.split(":")[:2]
            if source.startswith("./"):
                assert (REPO / source).exists(), (name, source)
                mounted[target] = source
    config = next(
        a.split("=", 1)[1]
        for a in services["prometheus"]["command"]
        if a.startswith("--config.file=")
    )
    directory = str(PurePosixPath(config).parent)
    assert (REPO / mounted[directory] / PurePosixPath(config).name).is_file()
    dashboards = (REPO / "deploy/grafana/provisioning/dashboards/backupwatch.yml").read_text()
    assert "/var/lib/grafana/dashboards" in dashboards
    assert mounted["/var/lib/grafana/dashboards"] == "./deploy/grafana/dashboards"


def test_the_image_is_built_from_the_dockerfile() -> None:
    for name, service in backupwatch_services().items():
        assert service["build"] == ".", name
    assert any(word == "ENTRYPOINT" for word, _ in dockerfile())


def test_every_port_is_published_on_loopback_unless_opened() -> None:
    """Kafka (PLAINTEXT, no authentication), the API, the notifier, Prometheus and
    Grafana answer only on the host itself by default: `PUBLISH_ADDRESS` opens them."""
    services = compose()["services"]
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert set(published) >= {"kafka", "worker-1", "worker-2", "serve", "notifier"}
    for name, ports in published.items():
        for port in ports:
            assert port.startswith("127.0.0.1:"), (name, port)
    opened = compose(exported={"PUBLISH_ADDRESS": "0.0.0.0"})["services"]  # noqa: S104
    assert opened["kafka"]["ports"] == ["0.0.0.0:9092:9092"]
