"""deploy/k8s: the manifests parse, kustomization.yaml lists them all, and what they hand
the project's image — commands, variables, ports, probes, the state volume — exists in
the project and fits together (no cluster here: the files are read and checked)."""

from __future__ import annotations

from typing import Any

import yaml

from agents.notify.settings import NotifySettings
from agents.settings import Settings
from tests.cli_check import cli_refusal
from tests.deploy_files import K8S, k8s_containers, k8s_documents, known_variables


def _kustomization() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return document


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in k8s_documents() if d["kind"] == kind}


def _env_of(container: dict[str, Any]) -> dict[str, str]:
    """The variables a container gets from its ConfigMaps, Secrets and `env`."""
    config_maps = _by_kind("ConfigMap")
    secrets = _by_kind("Secret")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]]["data"])
        if "secretRef" in source:
            env.update(secrets[source["secretRef"]["name"]]["stringData"])
    env.update({e["name"]: e.get("value", "") for e in container.get("env", [])})
    return {k: str(v) for k, v in env.items()}


def test_every_manifest_parses_and_the_kustomization_lists_each_file_once() -> None:
    kinds = [d["kind"] for _, d in k8s_documents()]
    assert "StatefulSet" in kinds and "Deployment" in kinds and "Service" in kinds
    resources = _kustomization()["resources"]
    assert len(resources) == len(set(resources))
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(resources) == files


def test_every_container_runs_the_project_image_with_a_command_the_cli_accepts() -> None:
    images = {image["name"] for image in _kustomization()["images"]}
    seen = set()
    for workload, container in k8s_containers():
        assert container["image"] in images, (workload["metadata"]["name"], container["image"])
        assert "command" not in container, "the image's entrypoint is `backupwatch`"
        refusal = cli_refusal(container["args"])
        assert refusal is None, (workload["metadata"]["name"], refusal)
        seen.add(container["args"][0])
    assert seen == {"worker", "serve", "notify", "topics"}


def test_every_backupwatch_variable_is_one_the_code_reads() -> None:
    known = known_variables()
    for kind in ("ConfigMap", "Secret"):
        for name, document in _by_kind(kind).items():
            data = document.get("data") or document.get("stringData") or {}
            names = {k for k in data if k.startswith("BACKUPWATCH_")}
            assert names <= known, (kind, name, sorted(names - known))


def test_the_settings_the_containers_get_are_valid() -> None:
    for workload, container in k8s_containers():
        env = _env_of(container)
        if container["args"][0] == "notify":
            notify = NotifySettings.from_env(env)
            assert notify.web_host == "0.0.0.0"  # noqa: S104
            port = notify.web_port
        else:
            settings = Settings.from_env(env)
            assert settings.web_host == "0.0.0.0"  # noqa: S104
            port = settings.web_port
        if container.get("ports"):
            assert [p["containerPort"] for p in container["ports"]] == [port], workload


def test_the_workers_keep_their_rocksdb_state_on_a_volume_claim() -> None:
    worker = _by_kind("StatefulSet")["backupwatch-worker"]
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    settings = Settings.from_env(_env_of(container))
    assert settings.store == "rocksdb://"
    claims = {c["metadata"]["name"] for c in worker["spec"]["volumeClaimTemplates"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts[str(settings.data_dir)] in claims
    # The image runs as a non-root user: the volume must be writable by its group.
    pod = worker["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    governing = _by_kind("Service")[worker["spec"]["serviceName"]]
    assert governing["spec"]["clusterIP"] == "None"


def test_the_workers_are_probed_for_liveness_and_readiness_on_the_web_server() -> None:
    worker = _by_kind("StatefulSet")["backupwatch-worker"]
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    port_names = {p["name"] for p in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] in port_names


def test_each_service_selects_pods_and_offers_their_metrics_to_prometheus() -> None:
    pods = {
        name: d["spec"]["template"]
        for kind in ("StatefulSet", "Deployment")
        for name, d in _by_kind(kind).items()
    }
    scraped = set()
    for name, service in _by_kind("Service").items():
        selected = [
            template
            for template in pods.values()
            if service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, name
        container_ports = {
            p["name"]: p["containerPort"]
            for c in selected[0]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports, (name, port)
        annotations = service["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") == "true":
            assert int(annotations["prometheus.io/port"]) in container_ports.values(), name
            assert annotations["prometheus.io/path"] == "/metrics"
            scraped.add(selected[0]["metadata"]["labels"]["app.kubernetes.io/name"])
    assert scraped == {"backupwatch-worker", "backupwatch-serve", "backupwatch-notify"}


def test_the_workers_run_no_report_reader_and_the_report_server_answers_for_them() -> None:
    """Several workers: the fleet's view is held once, by `backupwatch serve`, probed on
    its own web server and reached through its own Service."""
    worker = _by_kind("StatefulSet")["backupwatch-worker"]
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert Settings.from_env(_env_of(container)).report_reader == "none"
    serve = _by_kind("Deployment")["backupwatch-serve"]
    (container,) = serve["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["serve"]
    settings = Settings.from_env(_env_of(container))
    assert [p["containerPort"] for p in container["ports"]] == [settings.web_port]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    service = _by_kind("Service")["backupwatch-serve"]
    assert service["spec"]["selector"] == serve["spec"]["selector"]["matchLabels"]
