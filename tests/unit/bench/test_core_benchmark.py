"""`bench.core` on a small workload: its loops agree, and `--parts` reports each."""

from __future__ import annotations

import pytest

from bench.core import at_ticks, baseline, copied, core, looked_up, main
from bench.workload import fleet_records


def test_every_loop_ends_with_one_entry_per_device_seen() -> None:
    batches = at_ticks(fleet_records(3_000, 400))
    devices = len({key for key, _ in fleet_records(3_000, 400)})
    assert baseline(batches) == looked_up(batches) == copied(batches) == core(batches) == devices


def test_parts_are_reported_with_their_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--events", "2000", "--devices", "300", "--runs", "1", "--parts"]) == 0
    out = capsys.readouterr().out
    assert "ratio core/baseline time" in out
    for part in ("decoded, state looked up and put back", "and the state copied", "and applied"):
        assert out.count(part) == 2  # wall clock and CPU time


def test_known_devices_are_folded_in_before_the_timed_events(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--events", "2000", "--devices", "300", "--runs", "1", "--known"]) == 0
    out = capsys.readouterr().out
    known = int(out.split("devices known before: ")[1].split()[0])
    assert 0 < known <= 300
    assert "ratio core/baseline time" in out
