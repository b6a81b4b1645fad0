"""Real restic and Borg backups for the tests, and the `backupwatch` reporters run on them.

Every backup runs as an unprivileged user (`nobody`, by `setpriv`): the tests run as
root, who reads every file, and a file that user may not read is how a backup with
unreadable files is made. Times are given to the tools (`restic backup --time`, `borg
create --timestamp`), so a week of daily backups takes seconds, and the worker's clock
follows the test's ticks.
"""

# The backup user must read the sources and write the repositories: open modes on
# purpose, in a directory of the test's own.
# ruff: noqa: S103

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from tests.kafka_harness import REPO

__all__ = ["BackupArea", "backup_area", "run_backupwatch"]

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
PASSWORD = "test-repository-password"


def _env(area: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TZ": "UTC",
        "HOME": str(area / "home"),
        "RESTIC_PASSWORD": PASSWORD,
        "BORG_PASSPHRASE": PASSWORD,
        "BORG_BASE_DIR": str(area / "home"),
        "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
        "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
    }


def run_backupwatch(
    args: list[str], env: dict[str, str], stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """`backupwatch ARGS` in a process of its own, as an endpoint runs it."""
    return subprocess.run(
        [sys.executable, "-m", "agents.cli", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=300,
        check=False,
    )


@dataclass
class BackupArea:
    """A directory every user may enter: sources to back up, repositories, a home."""

    root: Path

    @property
    def env(self) -> dict[str, str]:
        return _env(self.root)

    def source(self, name: str, *, unreadable: bool = False) -> Path:
        """A directory of a few files; with `unreadable`, one the backup user may not read."""
        path = self.root / "src" / name
        (path / "docs").mkdir(parents=True, exist_ok=True)
        (path / "docs" / "notes.txt").write_text(f"notes of {name}\n")
        (path / "photo.bin").write_bytes(os.urandom(20_000))
        os.chmod(self.root / "src", 0o755)
        for item in (path, path / "docs"):
            os.chmod(item, 0o755)
        for item in (path / "docs" / "notes.txt", path / "photo.bin"):
            os.chmod(item, 0o644)
        if unreadable:
            private = path / "private.key"
            private.write_text("only root reads this\n")
            os.chmod(private, 0o600)
        return path

    def change(self, source: Path, day: int) -> None:
        """New data for the next backup."""
        (source / "docs" / "notes.txt").write_text(f"day {day}\n" * (day + 1))

    def as_backup_user(self, command: list[str]) -> list[str]:
        return [*NOBODY, "env", f"HOME={self.root / 'home'}", *command]

    def tool(self, command: list[str]) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(
            self.as_backup_user(command),
            cwd=self.root,
            env=self.env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        return done

    def restic_repository(self, name: str) -> Path:
        repo = self.root / name
        done = self.tool(["restic", "init", "--repo", str(repo)])
        assert done.returncode == 0, done.stderr.decode()
        return repo

    def borg_repository(self, name: str) -> Path:
        repo = self.root / name
        done = self.tool(["borg", "init", "--encryption", "none", str(repo)])
        assert done.returncode == 0, done.stderr.decode()
        return repo

    @staticmethod
    def restic_backup(repo: Path, host: str, source: Path, at: datetime) -> list[str]:
        return [
            "restic",
            "backup",
            "--json",
            "--no-cache",
            "--repo",
            str(repo),
            "--host",
            host,
            "--time",
            at.strftime("%Y-%m-%d %H:%M:%S"),
            str(source),
        ]

    @staticmethod
    def borg_create(repo: Path, host: str, source: Path, at: datetime) -> list[str]:
        return [
            "borg",
            "create",
            "--json",
            "--log-json",
            "--timestamp",
            at.strftime("%Y-%m-%dT%H:%M:%S"),
            f"{repo}::{host}-{at:%Y%m%d%H%M}",
            str(source),
        ]


@pytest.fixture
def backup_area() -> Iterator[BackupArea]:
    # Not under pytest's tmp_path: its parents are root's alone, and the backup user
    # must reach the sources and repositories.
    root = Path(tempfile.mkdtemp(prefix="backupwatch-tools-", dir="/tmp"))
    (root / "home").mkdir(mode=0o777)
    os.chmod(root / "home", 0o777)
    os.chmod(root, 0o777)
    try:
        yield BackupArea(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
