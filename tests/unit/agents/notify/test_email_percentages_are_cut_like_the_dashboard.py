"""A percentage in an email's evidence is cut to one decimal, not rounded, as the
dashboard shows it: a backup short of 100 % never reads 100."""

from __future__ import annotations

import pytest

from agents.notify.render import render_alert
from tests.unit.agents.notify.alerts import cause, example_alert


@pytest.mark.parametrize(
    ("percent", "shown"),
    [
        (99.996, "99.9"),
        (99.95, "99.9"),
        (99.9, "99.9"),
        (42.06, "42"),
        (0.04, "0"),
        (100.0, "100"),
        (100, "100"),
        (55, "55"),
    ],
)
def test_percent_complete_is_cut_to_one_decimal(percent: float, shown: str) -> None:
    alert = example_alert(
        kind="completion", diagnosis=[cause(evidence={"percent_complete": percent})]
    )

    content = render_alert(alert)

    assert f"     percent_complete: {shown}\n" in content.text
    assert f"<code>percent_complete</code>: {shown}</li>" in content.html
