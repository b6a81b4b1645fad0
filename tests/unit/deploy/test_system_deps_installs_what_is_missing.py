"""deploy/system-deps.sh, the one list of system packages `make run`, `make test` and
`.ci/run` install when missing. A fresh machine is played by a PATH that hides the
commands of some packages (every other command of this machine stays on it): the
script names exactly those, installs them with apt-get as root (here in `--dry-run`,
the packages of this machine are shared), and stops with one line giving the
`apt-get install` command to a user who cannot install."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy_files import REPO

SCRIPT = REPO / "deploy" / "system-deps.sh"


@pytest.fixture
def hiding() -> Iterator[Path]:
    """A directory for a PATH of its own; readable by any user (the script runs as
    `nobody` in one test), removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="backupwatch-path-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def path_without(directory: Path, *hidden: str) -> str:
    """A PATH with every command of this machine's PATH but `hidden` (and `sudo`)."""
    for entry in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(entry):
            continue
        for command in sorted(os.listdir(entry)):
            target = Path(entry, command)
            link = directory / command
            if command in hidden or command == "sudo" or link.exists():
                continue
            if target.is_file() and os.access(target, os.X_OK):
                link.symlink_to(target)
    return str(directory)


def run(path: str, *args: str, as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT), *args]
    if as_nobody and os.geteuid() == 0:
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    env = {"PATH": path, "HOME": "/", "LANG": "C.UTF-8"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def planned(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The packages of the apt-get install line the script printed."""
    text = result.stdout + result.stderr
    marker = "apt-get install -y --no-install-recommends "
    assert marker in text, text
    return text.split(marker, 1)[1].split()


def test_the_tests_get_chromium_and_prometheus_on_a_machine_without_them(
    hiding: Path,
) -> None:
    path = path_without(hiding, "chromium", "prometheus", "promtool")
    result = run(path, "test", "--dry-run")

    packages = planned(result)
    assert "chromium" in packages and "prometheus" in packages, result
    # Only what is missing: this machine's other tools stay as they are.
    for command, package in (("mvn", "maven"), ("restic", "restic"), ("openssl", "openssl")):
        if shutil.which(command):
            assert package not in packages, result
    if os.geteuid() == 0:
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("would run: apt-get update && apt-get install"), result


def test_a_promtool_alone_is_not_prometheus(hiding: Path) -> None:
    result = run(path_without(hiding, "promtool"), "test", "--dry-run")

    assert "prometheus" in planned(result)


def test_running_needs_no_browser(hiding: Path) -> None:
    path = path_without(hiding, "chromium", "prometheus", "promtool", "restic", "borg")
    result = run(path, "run", "--dry-run")

    assert "chromium" not in result.stdout + result.stderr, result


def test_a_java_older_than_17_is_missing(hiding: Path) -> None:
    path = path_without(hiding, "java")
    old_java = hiding / "java"
    old_java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.20\" 2023-07-18' >&2\n")
    old_java.chmod(old_java.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    result = run(path, "run", "--dry-run")

    assert any(p.startswith(("openjdk-", "default-jdk")) for p in planned(result)), result


def test_a_user_who_cannot_install_gets_one_line_with_the_command(hiding: Path) -> None:
    # Run as `nobody` (or as the unprivileged user running the tests), with no sudo.
    path = path_without(hiding, "chromium", "prometheus", "promtool")
    result = run(path, "test", as_nobody=True)

    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("backupwatch: ")
    assert "apt-get update && apt-get install -y --no-install-recommends " in lines[0]
    assert {"chromium", "prometheus"} <= set(planned(result))


def test_make_test_and_make_run_and_ci_take_the_same_step() -> None:
    def dry(target: str) -> str:
        return subprocess.run(
            ["make", "-n", target], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout

    assert "deploy/system-deps.sh test" in dry("test")
    assert "deploy/system-deps.sh run" in dry("run")
    assert "\ndeploy/system-deps.sh test\n" in (REPO / ".ci" / "run").read_text()
