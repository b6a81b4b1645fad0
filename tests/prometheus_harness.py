"""A real Prometheus server for tests (Debian's `prometheus`): started on a loopback port
with the project's config pointed at the test's targets and the project's rules, asked
through its HTTP API, stopped at the end."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kafka_harness import REPO, log_tail
from tests.worker_harness import free_port

__all__ = ["PROMETHEUS_DIR", "PrometheusServer", "prometheus_server"]

PROMETHEUS_DIR = REPO / "deploy" / "prometheus"


class PrometheusServer:
    def __init__(self, url: str, log_path: Path, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.log_path = log_path
        self.process = process

    def api(self, path: str, **params: str) -> Any:
        """The `data` of a Prometheus HTTP API answer; fails with the server's error."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as response:  # noqa: S310
                answer = json.loads(response.read())
        except urllib.error.HTTPError as err:
            answer = json.loads(err.read() or b"{}")
        if answer.get("status") != "success":
            raise AssertionError(f"Prometheus refused {path}?{query}: {answer}")
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector `expr` evaluates to now."""
        data = self.api("/api/v1/query", query=expr)
        assert data["resultType"] == "vector", data
        result: list[dict[str, Any]] = data["result"]
        return result

    def by(self, expr: str, *labels: str) -> dict[tuple[str, ...], float]:
        """`expr`'s samples keyed by the values of `labels`."""
        return {
            tuple(sample["metric"].get(label, "") for label in labels): float(sample["value"][1])
            for sample in self.query(expr)
        }


def _config(targets: Mapping[str, list[str]], interval: str) -> dict[str, Any]:
    """The project's prometheus.yml, scraping `targets` (job name -> host:port) instead of
    the compose services, with its rules by absolute path."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = interval
    config["global"]["evaluation_interval"] = interval
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] in targets:
            job["static_configs"] = [{"targets": targets[job["job_name"]]}]
            jobs.append(job)
    assert {job["job_name"] for job in jobs} == set(targets), "unknown job names"
    config["scrape_configs"] = jobs
    return config


@contextmanager
def prometheus_server(
    tmp: Path, targets: Mapping[str, list[str]], interval: str = "1s"
) -> Iterator[PrometheusServer]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail(
            "prometheus is missing: install Debian's prometheus package "
            "(`apt-get install prometheus`; .ci/run does it)",
            pytrace=False,
        )
    tmp.mkdir(parents=True, exist_ok=True)
    config_path = tmp / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(_config(targets, interval)))
    address = f"127.0.0.1:{free_port()}"
    log_path = tmp / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address={address}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = PrometheusServer(f"http://{address}", log_path, process)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{log_tail(log_path)}")
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"prometheus was not ready in 60 s:\n{log_tail(log_path)}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
