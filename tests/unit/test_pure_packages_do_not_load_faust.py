"""The pure core and the wire contract import without Faust or Kafka clients.

`streams/` and `schemas/` are where almost all logic and tests live; they must stay
importable (and fast to test) without the stream-processing framework. The check runs
in a fresh interpreter, because this test session may already have imported Faust.
"""

from __future__ import annotations

import json

import pytest

from tests.fresh_interpreter import run_python

FORBIDDEN = ("faust", "aiokafka")

PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {forbidden!r})))
"""


def modules_loaded_by_importing(*packages: str) -> list[str]:
    loaded: list[str] = json.loads(run_python(PROBE.format(forbidden=set(FORBIDDEN)), *packages))
    return loaded


@pytest.mark.parametrize(
    "packages",
    [
        ("streams",),
        ("schemas",),
        ("streams", "schemas", "schemas.generate"),
    ],
    ids=lambda packages: "+".join(packages),
)
def test_importing_the_pure_packages_loads_neither_faust_nor_aiokafka(
    packages: tuple[str, ...],
) -> None:
    assert modules_loaded_by_importing(*packages) == []


def test_the_probe_would_see_faust_if_it_were_loaded() -> None:
    # Guards the test above against passing for the wrong reason (a probe that never
    # sees anything): importing Faust itself must show up.
    assert "faust" in modules_loaded_by_importing("faust")
