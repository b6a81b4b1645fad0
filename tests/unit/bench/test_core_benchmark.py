"""`bench.core` on a small workload: its loops agree, `--parts` reports each, and
`--processes` the median over fresh processes."""

from __future__ import annotations

import re

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


def test_processes_report_each_one_and_the_median(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--events", "1500", "--devices", "200", "--runs", "1", "--processes", "3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("  process ")]
    assert len(lines) == 3
    ratios = sorted(float(line.split("µs/event, ")[-1].split("x")[0]) for line in lines)
    summary = out.splitlines()[-1]
    assert summary.startswith("over 3 processes")
    assert f"ratio {ratios[1]:.2f}x ({ratios[0]:.2f}–{ratios[2]:.2f}x)" in summary
    assert re.search(r"at or under 4x in [0-3] of 3$", summary)


def test_processes_must_be_at_least_one() -> None:
    with pytest.raises(SystemExit):
        main(["--processes", "0"])
