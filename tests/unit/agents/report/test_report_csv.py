"""The CSV download: the report's column titles, one line a row whatever the chunking,
awkward text intact, and cells read as the report shows them."""

from __future__ import annotations

import pytest

from agents.report.download import CSV_COLUMNS, csv_lines
from tests.unit.streams.test_report import CLOCK, DAY, MINUTE, context, ids, parse_csv, row


def test_the_csv_header_is_the_column_titles() -> None:
    lines = parse_csv(list(csv_lines([], context())))

    assert lines == [[title for _, title in CSV_COLUMNS]]


@pytest.mark.parametrize(("count", "chunk"), [(0, 3), (1, 1), (5, 2), (6, 3), (7, 500), (10, 1)])
def test_every_row_is_one_csv_line_whatever_the_chunking(count: int, chunk: int) -> None:
    rows = [row(f"dev-{n:02}") for n in range(count)]

    chunks = list(csv_lines(rows, context(), chunk=chunk))

    lines = parse_csv(chunks)
    device = [title for _, title in CSV_COLUMNS].index("Device")
    assert [line[device] for line in lines[1:]] == ids(rows)
    assert all(len(line) == len(CSV_COLUMNS) for line in lines)
    # Chunks are whole lines: none ends half way through a row.
    assert all(c.endswith("\r\n") for c in chunks if c)
    assert len(chunks) == count // chunk + 1


def test_csv_values_with_commas_quotes_and_line_breaks_survive() -> None:
    awkward = row(
        "dev-1",
        hostname='Jane\'s "work", laptop',
        user_id="smith, jane",
        top_cause="a\nb",
        destinations=("cloud", "nas, office"),
    )

    (line,) = parse_csv(list(csv_lines([awkward], context())))[1:]
    cells = dict(zip([title for _, title in CSV_COLUMNS], line, strict=True))

    assert cells["Hostname"] == 'Jane\'s "work", laptop'
    assert cells["User"] == "smith, jane"
    assert cells["Top diagnosis"] == "a\nb"
    assert cells["Destinations"] == "cloud nas, office"


def test_csv_cells_read_as_the_report_shows_them() -> None:
    r = row(
        "dev-1",
        org_id="org-short",
        backup="warning",
        last_heartbeat=CLOCK - 10 * MINUTE,  # offline under org-short's 5 minutes
        last_activity=CLOCK - 2 * DAY,
        last_completed_backup=None,
        snoozed_until=CLOCK + DAY,
        percent_complete=42.5,
        top_cause="paused_by_user",
    )

    (line,) = parse_csv(list(csv_lines([r], context())))[1:]
    cells = dict(zip([title for _, title in CSV_COLUMNS], line, strict=True))

    assert cells["Org"] == "org-short"
    assert cells["Alert state"] == "warning"
    assert (cells["Connection"], cells["Backup"], cells["Completion"]) == ("ok", "warning", "ok")
    assert cells["Online"] == "no"
    assert cells["Completed %"] == "42.5"
    assert cells["Last activity"] == (CLOCK - 2 * DAY).isoformat()
    assert cells["Last completed backup"] == ""
    assert cells["Days since last activity"] == "2.0"
    assert cells["Snoozed until"] == (CLOCK + DAY).isoformat()
    assert cells["Deactivated"] == "no"
    assert cells["Top diagnosis"] == "paused_by_user"
