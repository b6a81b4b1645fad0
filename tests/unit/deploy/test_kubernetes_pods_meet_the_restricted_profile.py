"""deploy/k8s as the cluster gets it (rendered by `kubectl kustomize`, or by the same
steps in Python where kubectl is not installed): every pod meets the restricted Pod
Security profile — non-root, no privilege escalation, every capability dropped,
RuntimeDefault seccomp, a read-only root filesystem with volumes where the process
writes — the namespace enforces that profile, and a PodDisruptionBudget lets at most
one worker go at a time."""

from __future__ import annotations

import copy
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from agents.settings import Settings
from tests.deploy_files import K8S

Document = dict[str, Any]
_CLUSTER_SCOPED = {"Namespace"}


def render_in_python() -> list[Document]:
    """What `kubectl kustomize deploy/k8s` does with this kustomization: its resources
    in order, the namespace on each namespaced one, the labels on each, the images."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    unknown = set(kustomization) - {
        "apiVersion",
        "kind",
        "namespace",
        "labels",
        "resources",
        "images",
    }
    assert not unknown, f"the Python rendering does not apply {sorted(unknown)}"
    images = {
        i["name"]: f"{i.get('newName', i['name'])}:{i['newTag']}" for i in kustomization["images"]
    }
    rendered = []
    for resource in kustomization["resources"]:
        for document in yaml.safe_load_all((K8S / resource).read_text()):
            if not document:
                continue
            document = copy.deepcopy(document)
            metadata = document.setdefault("metadata", {})
            if document["kind"] not in _CLUSTER_SCOPED:
                metadata["namespace"] = kustomization["namespace"]
            for entry in kustomization.get("labels", []):
                assert not entry.get("includeSelectors") and not entry.get("includeTemplates")
                metadata.setdefault("labels", {}).update(entry["pairs"])
            pod = document.get("spec", {}).get("template", {}).get("spec", {})
            for container in pod.get("containers", []):
                container["image"] = images.get(container["image"], container["image"])
            rendered.append(document)
    return rendered


def render_with_kubectl() -> list[Document] | None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    output = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    return [d for d in yaml.safe_load_all(output) if d]


def rendered() -> list[Document]:
    return render_with_kubectl() or render_in_python()


def _keyed(documents: list[Document]) -> dict[tuple[str, str], Document]:
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


def test_the_manifests_render_and_python_renders_them_as_kubectl_does() -> None:
    in_python = _keyed(render_in_python())
    assert {kind for kind, _ in in_python} >= {"Namespace", "StatefulSet", "PodDisruptionBudget"}
    # kubectl is no Debian package: where it is installed, the two renderings agree.
    by_kubectl = render_with_kubectl()
    if by_kubectl is not None:
        assert in_python == _keyed(by_kubectl)


def pods() -> list[tuple[str, Document]]:
    return [
        (d["metadata"]["name"], d["spec"]["template"]["spec"])
        for d in rendered()
        if d.get("spec", {}).get("template", {}).get("spec")
    ]


def test_the_namespace_enforces_the_restricted_profile() -> None:
    (namespace,) = [d for d in rendered() if d["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(
        d["metadata"].get("namespace") == namespace["metadata"]["name"]
        for d in rendered()
        if d["kind"] != "Namespace"
    )


@pytest.mark.parametrize(
    "workload", ["backupwatch-worker", "backupwatch-notify", "backupwatch-topics"]
)
def test_every_pod_meets_the_restricted_profile(workload: str) -> None:
    (pod,) = [spec for name, spec in pods() if name == workload]
    context = pod.get("securityContext", {})
    assert context.get("runAsNonRoot") is True
    assert context.get("runAsUser", 0) != 0
    assert pod.get("hostNetwork") is not True and pod.get("hostPID") is not True
    for container in pod.get("initContainers", []) + pod["containers"]:
        own = container.get("securityContext", {})
        seccomp = own.get("seccompProfile") or context.get("seccompProfile")
        assert seccomp == {"type": "RuntimeDefault"}, container["name"]
        assert own.get("allowPrivilegeEscalation") is False, container["name"]
        assert own.get("privileged") is not True
        assert own.get("capabilities", {}).get("drop") == ["ALL"], container["name"]
        assert not own.get("capabilities", {}).get("add"), container["name"]
        assert own.get("readOnlyRootFilesystem") is True, container["name"]
        assert own.get("runAsNonRoot", True) is True and own.get("runAsUser", 1) != 0


def _mounts(pod: Document) -> dict[str, str]:
    """mount path -> volume name of the pod's (only) container."""
    (container,) = pod["containers"]
    return {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}


def test_each_process_has_a_volume_where_it_writes() -> None:
    documents = {name: pod for name, pod in pods()}
    config = next(d for d in rendered() if d["kind"] == "ConfigMap")["data"]
    data_dir = str(Settings.from_env(config).data_dir)
    worker = next(d for d in rendered() if d["kind"] == "StatefulSet")
    claims = {c["metadata"]["name"] for c in worker["spec"]["volumeClaimTemplates"]}

    worker_mounts = _mounts(documents["backupwatch-worker"])
    # The RocksDB state on its claim; /tmp for the report reader's Unix socket.
    assert worker_mounts[data_dir] in claims
    for name, pod in documents.items():
        mounts = _mounts(pod)
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        assert "/tmp" in mounts, name
        assert "emptyDir" in volumes[mounts["/tmp"]], name


def test_at_most_one_worker_is_taken_at_a_time() -> None:
    budgets = [d for d in rendered() if d["kind"] == "PodDisruptionBudget"]
    worker = next(d for d in rendered() if d["kind"] == "StatefulSet")
    labels = worker["spec"]["template"]["metadata"]["labels"]

    (budget,) = budgets
    selector = budget["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert selector == worker["spec"]["selector"]["matchLabels"]
    assert budget["spec"].get("maxUnavailable") == 1 or (
        budget["spec"].get("minAvailable", 0) == worker["spec"]["replicas"] - 1
    )
