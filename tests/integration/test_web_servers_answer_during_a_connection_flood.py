"""A real worker keeps answering `/healthz`, `/readyz` and `/metrics` while a hostile
client tries to hold 20,000 connections open on its web server with half a request
each, opening a new one whenever the server closes one; its open files stay bounded and
it writes no error flood to its log. (The notifier's server, built the same way, is
flooded in tests/integration/notify/.)

The worker starts with a soft limit of 1,024 open files, a service manager's usual
default, far below the attack. The attacking clients are processes of their own
(`tests.flood`, loopback only): each tries to hold 10,000 connections, within the
open-file limit a process may have here.
"""

from __future__ import annotations

import json

import pytest

from tests.flood import flood_and_probe, open_file_limit
from tests.worker_harness import Pipeline

pytestmark = pytest.mark.integration

ATTACKERS = 2
CONNECTIONS_EACH = 10_000


async def test_health_and_metrics_answer_while_20000_connections_are_held(
    pipeline: Pipeline,
) -> None:
    worker = pipeline.worker()
    with open_file_limit(1024):
        worker.start()
    worker.wait_ready()

    report = await flood_and_probe(
        worker.web,
        worker.pid,
        ("/healthz", "/readyz", "/metrics"),
        worker.log_path,
        attackers=ATTACKERS,
        connections_each=CONNECTIONS_EACH,
        seconds=20.0,
    )
    print(json.dumps(report.summary(), indent=2))

    assert not report.down, report.summary()
    assert all(len(times) >= 10 for times in report.latencies.values()), report.summary()
    # The attack reached the server: it held connections up to its bound (1000 by
    # default), and no more, with files to spare for the rest.
    before, most = report.open_files
    bound = worker.settings.web_max_connections
    assert before + 0.9 * bound <= most < before + bound + 200, report.summary()
    assert not [line for line in report.log if "Too many open files" in line]
    assert not [line for line in report.log if "Traceback" in line], report.log[:40]
    # Malformed requests are logged at most once per 10 s, beside the worker's own lines.
    assert len(report.log) < 50, report.log[:60]
    assert worker.running
