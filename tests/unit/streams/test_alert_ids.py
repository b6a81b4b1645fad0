"""Alert ids are deterministic: device, kind, destination, transition, episode start."""

from __future__ import annotations

from datetime import timedelta

from streams import DEFAULT_POLICY, advance, alert_id
from tests.unit.factories import DAY, T0, healthy


def test_the_same_transition_of_the_same_episode_has_the_same_id() -> None:
    _, first = advance(healthy(), T0 + 3 * DAY, DEFAULT_POLICY)
    # Decided a minute later (a later tick), it is still the same alert.
    _, second = advance(healthy(), T0 + 3 * DAY + timedelta(minutes=1), DEFAULT_POLICY)
    assert {t.alert_id for t in first} == {t.alert_id for t in second}


def test_every_part_of_the_key_changes_the_id() -> None:
    base = ("dev-1", "backup", "cloud", "ok", "warning", T0)
    ids = {alert_id(*base)}
    variants = [
        ("dev-2", "backup", "cloud", "ok", "warning", T0),
        ("dev-1", "completion", "cloud", "ok", "warning", T0),
        ("dev-1", "backup", "nas", "ok", "warning", T0),
        ("dev-1", "backup", "cloud", "warning", "critical", T0),
        ("dev-1", "backup", "cloud", "ok", "warning", T0 + timedelta(seconds=1)),
    ]
    for variant in variants:
        ids.add(alert_id(*variant))
    assert len(ids) == len(variants) + 1


def test_ids_do_not_depend_on_the_process() -> None:
    # A fixed value: a worker restarted with another hash seed must produce it too.
    import subprocess
    import sys

    code = (
        "from datetime import datetime, UTC; from streams import alert_id; "
        "print(alert_id('dev-1','connection',None,'ok','warning',datetime(2026,11,1,tzinfo=UTC)))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
