"""The deployment files as the tests read them: docker-compose.yml with its variables
interpolated as docker compose would (from `.env`, then `.env.example`'s defaults), the
Kubernetes manifests, the Grafana dashboard, the Dockerfile, and what the code reads."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from agents.settings import Settings

__all__ = [
    "COMPOSE",
    "K8S",
    "DASHBOARD",
    "REPO",
    "backupwatch_services",
    "compose",
    "compose_defaults",
    "compose_variables",
    "dashboard_exprs",
    "dockerfile",
    "dockerfile_env",
    "env_file",
    "interpolate",
    "k8s_documents",
    "k8s_containers",
    "known_variables",
    "notify_variables",
    "worker_variables",
]

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
K8S = REPO / "deploy" / "k8s"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "backupwatch.json"
IMAGE = "backupwatch"

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$\$")


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(value: Any, env: dict[str, str], missing: set[str] | None = None) -> Any:
    """`value` with `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}` resolved;
    names neither set nor defaulted are added to `missing`."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, missing) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        if name in env and (env[name] != "" or op not in (":-", ":?")):
            return env[name]
        if op in (":-", "-"):
            return arg or ""
        if missing is not None:
            missing.add(name)
        return ""

    return _VARIABLE.sub(one, value)


def compose_variables() -> set[str]:
    """Every variable docker-compose.yml interpolates."""
    return {m.group("name") for m in _VARIABLE.finditer(COMPOSE.read_text()) if m.group("name")}


def compose_defaults() -> dict[str, str]:
    """The `${VAR:-default}` defaults docker-compose.yml writes, by variable."""
    return {
        m.group("name"): m.group("arg") or ""
        for m in _VARIABLE.finditer(COMPOSE.read_text())
        if m.group("name") and m.group("op") in (":-", "-")
    }


def compose(
    missing: set[str] | None = None,
    *,
    example: bool = True,
    exported: dict[str, str] | None = None,
) -> dict[str, Any]:
    """docker-compose.yml as docker compose sees it with `.env` and (unless `example` is
    false) `.env.example`, and `exported`, variables set in the shell (which win)."""
    env = env_file(REPO / ".env")
    if example:
        env = {**env_file(REPO / ".env.example"), **env}
    env = {**env, **(exported or {})}
    raw = yaml.safe_load(COMPOSE.read_text())
    result: dict[str, Any] = interpolate(raw, env, missing)
    return result


def backupwatch_services() -> dict[str, dict[str, Any]]:
    """The compose services that run the project's image."""
    return {
        name: service
        for name, service in compose()["services"].items()
        if str(service.get("image", "")).split(":")[0] == IMAGE
    }


def k8s_documents() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield path, document


def k8s_containers() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, container) for every container of every workload."""
    for _path, document in k8s_documents():
        pod = document.get("spec", {}).get("template", {}).get("spec")
        if pod:
            for container in pod.get("containers", []):
                yield document, container


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [
        target["expr"]
        for panel in board["panels"]
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of each Dockerfile instruction, continuations joined."""
    # As Docker does: comment lines go first (also those inside a continued instruction).
    lines = [
        line
        for line in (REPO / "Dockerfile").read_text().splitlines()
        if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line:
            word, _, rest = line.partition(" ")
            instructions.append((word.upper(), rest.strip()))
    return instructions


def dockerfile_env() -> dict[str, str]:
    env = {}
    for word, rest in dockerfile():
        if word == "ENV":
            for token in shlex.split(rest):
                name, _, value = token.partition("=")
                env[name] = value
    return env


def worker_variables() -> set[str]:
    from agents.kafka import variables

    own = {f"BACKUPWATCH_{f.name.upper()}" for f in fields(Settings) if f.name != "kafka"}
    return own | set(variables())


def notify_variables() -> set[str]:
    from agents.kafka import variables
    from agents.notify.settings import NotifySettings, variable

    own = {variable(f.name) for f in fields(NotifySettings) if f.name != "kafka"}
    return own | set(variables())


def known_variables() -> set[str]:
    """Every BACKUPWATCH_* variable the code reads."""
    return worker_variables() | notify_variables()
