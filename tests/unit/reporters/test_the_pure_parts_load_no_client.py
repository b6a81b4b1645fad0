"""The reporters' and the ingest endpoint's pure parts import no Kafka client, no Faust
and no HTTP library: they are the parts the tests exercise most, and what an endpoint
runs before anything is sent."""

from __future__ import annotations

import pytest

from tests.fresh_interpreter import run_python

PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & {"faust", "aiokafka", "aiohttp"})))
"""


@pytest.mark.parametrize(
    "module",
    [
        "agents.reporters.restic",
        "agents.reporters.borg",
        "agents.reporters.records",
        "agents.ingest.body",
        "agents.ingest.tokens",
        "agents.ingest.ratelimit",
        "agents.ingest.settings",
    ],
)
def test_a_pure_part_loads_no_client(module: str) -> None:
    assert run_python(PROBE, module) == "[]"
