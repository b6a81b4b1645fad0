"""The Dockerfile: a slim Python 3.11 base, only runtime dependencies, a non-root user,
the `backupwatch` console script as entrypoint, and COPY sources that exist and are not
excluded from the build context by .dockerignore."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.cli_check import cli_refusal
from tests.deploy_files import REPO, dockerfile, dockerfile_env, known_variables


def _ignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (last match wins)."""
    ignored = False
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        parts = path.split("/")
        # A pattern matches the path or one of its parent directories.
        if any(
            fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) for i in range(len(parts))
        ) or fnmatch.fnmatch(path, pattern.replace("**/", "*")):
            ignored = not negate
    return ignored


def test_every_copy_source_exists_and_is_in_the_build_context() -> None:
    copies = [rest.split() for word, rest in dockerfile() if word == "COPY"]
    assert copies
    for args in copies:
        if any(a.startswith("--from") for a in args):
            continue
        for source in args[:-1]:
            assert (REPO / source).exists(), source
            assert not _ignored(source), f"{source} is excluded by .dockerignore"


def test_the_dockerignore_check_sees_exclusions() -> None:
    assert _ignored("tests/unit")
    assert _ignored(".venv")
    assert _ignored("agents/__pycache__/app.cpython-311.pyc")
    assert not _ignored("agents/worker/app.py")


def test_slim_python_3_11_base_and_a_non_root_user() -> None:
    bases = [rest.split()[0] for word, rest in dockerfile() if word == "FROM"]
    assert bases and all(base == "python:3.11-slim" for base in bases)
    users = [rest for word, rest in dockerfile() if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_only_runtime_dependencies_are_installed() -> None:
    runs = " ".join(rest for word, rest in dockerfile() if word == "RUN")
    assert "[dev]" not in runs and "requirements" not in runs
    assert "pip install" in runs and "--no-index" in runs


def test_the_entrypoint_is_the_console_script_and_the_default_command_parses() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    entrypoint = json.loads(next(rest for word, rest in dockerfile() if word == "ENTRYPOINT"))
    assert entrypoint == ["backupwatch"]
    assert pyproject["project"]["scripts"]["backupwatch"] == "agents.cli:main"
    command = json.loads(next(rest for word, rest in dockerfile() if word == "CMD"))
    assert cli_refusal(command) is None


def test_its_backupwatch_variables_are_ones_the_code_reads() -> None:
    names = {k for k in dockerfile_env() if k.startswith("BACKUPWATCH_")}
    assert names and names <= known_variables(), names - known_variables()


def test_what_the_build_stage_copies_builds_the_whole_package(tmp_path: Path) -> None:
    """The build stage's COPY lines, replayed into an empty directory, are enough for
    `pip wheel .` (its RUN line), and the wheel holds every module and asset."""
    context = tmp_path / "src"
    context.mkdir()
    stage = []
    for word, rest in dockerfile():
        if word == "FROM" and stage:
            break
        stage.append((word, rest))
    copies = [rest.split() for word, rest in stage if word == "COPY"]
    for *sources, destination in copies:
        for source in sources:
            target = (
                context / destination / Path(source).name
                if destination.endswith("/")
                else context / destination
            )
            if (REPO / source).is_dir():
                shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(REPO / source, target)
    assert any("pip wheel" in rest for word, rest in stage if word == "RUN")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), "."],
        cwd=context,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = tmp_path.glob("backupwatch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("agents", "schemas", "streams"):
        for path in (REPO / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                relative = path.relative_to(REPO).as_posix()
                if path.suffix == ".py" or "static" in path.parts or "json" in path.parts:
                    assert relative in names, f"{relative} is missing from the image's wheel"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "backupwatch = agents.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def _labels() -> dict[str, str]:
    args = {}
    for word, rest in dockerfile():
        if word == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default.strip('"')
    labels = {}
    for word, rest in dockerfile():
        if word == "LABEL":
            for token in shlex.split(rest):
                name, _, value = token.partition("=")
                labels[name] = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m[1], ""), value)
    return labels


def test_the_image_is_labelled_with_its_version_source_and_licence() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    labels = _labels()

    assert labels["org.opencontainers.image.version"] == project["version"]
    assert labels["org.opencontainers.image.licenses"] == project["license"]
    assert labels["org.opencontainers.image.title"] == project["name"]
    assert "org.opencontainers.image.source" in labels


def test_the_health_check_runs_a_module_the_package_ships() -> None:
    (check,) = [rest for word, rest in dockerfile() if word == "HEALTHCHECK"]
    options, _, command = check.partition(" CMD ")
    assert "--interval=" in options and "--timeout=" in options
    assert json.loads(command) == ["python", "-m", "agents.healthcheck"]
    assert (REPO / "agents" / "healthcheck.py").is_file()
    assert not _ignored("agents/healthcheck.py")
