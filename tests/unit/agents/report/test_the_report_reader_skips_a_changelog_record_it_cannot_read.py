"""The report reader's fleet view skips, counts and logs (once, with its traceback) a
changelog record it cannot read — a state or clock that does not decode, a row that
cannot be cut — and makes the rows of every other device; the policy book refuses an
org policy record that raises anything, and the org keeps the policy it had."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import agents.books.policies
import agents.report.fleet
from agents.books.policies import PolicyBook
from agents.report.fleet import FleetView
from agents.settings import Settings
from schemas.codec import encode
from schemas.models import OrgPolicy
from tests.unit.agents.report.test_fleet_view import clock_key, policy_for, silent, take_state
from tests.unit.factories import DAY, T0


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "value",
    [b"[" * 5000 + b"]" * 5000, b"\xff\xfe", b"[1, 2, 3]", b'{"schema": "heartbeat/1"}'],
    ids=["nested", "not utf-8", "short array", "an input record"],
)
def test_a_state_that_does_not_decode_is_skipped_and_the_others_are_rows(
    value: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    view = FleetView(policy_for)
    take_state(view, silent(1, "dev-1"))
    view.take(b"dev-bad", value, 0)
    take_state(view, silent(1, "dev-2"))
    assert sorted(view.rows) == ["dev-1", "dev-2"]
    assert view.unexpected_errors == 1
    [logged] = errors(caplog)
    assert logged.exc_info is not None


@pytest.mark.parametrize("value", [b"\xff", b"x;1;2;3", b"9" * 5000, b"-9" + b"9" * 20])
def test_a_clock_that_does_not_decode_is_skipped(value: bytes) -> None:
    view = FleetView(policy_for)
    view.take(clock_key(1), value, 1)
    take_state(view, silent(1, "dev-1"), partition=1)
    assert list(view.rows) == ["dev-1"]
    assert view.unexpected_errors == 1
    assert 1 not in view.clocks


def test_a_row_that_cannot_be_cut_keeps_the_one_before(monkeypatch: pytest.MonkeyPatch) -> None:
    view = FleetView(policy_for)
    take_state(view, silent(1, "dev-1"))
    before = view.rows["dev-1"]
    real = agents.report.fleet.device_row

    def failing(state: Any, *args: Any) -> Any:
        if state.device_id == "dev-1":
            raise ZeroDivisionError("a bug")
        return real(state, *args)

    monkeypatch.setattr(agents.report.fleet, "device_row", failing)
    take_state(view, silent(2, "dev-1"))
    take_state(view, silent(2, "dev-2"))
    assert view.rows["dev-1"] is before
    assert "dev-2" in view.rows
    assert view.unexpected_errors == 1


def test_a_policy_record_that_raises_unexpectedly_is_refused_and_the_org_keeps_its_policy(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    book = PolicyBook(Settings())
    first = OrgPolicy(org_id="org-1", updated_at=T0, connection_warning_days=2)
    assert book.apply_record(encode(first)) == "org-1"

    def failing(record: Any, base: Any) -> Any:
        raise OverflowError("a bug")

    monkeypatch.setattr(agents.books.policies, "policy_from_record", failing)
    second = OrgPolicy(org_id="org-1", updated_at=T0 + DAY, connection_warning_days=1)
    assert book.apply_record(encode(second)) is None
    assert book.record_for("org-1") == first
    assert book.unexpected_errors == 1
    [logged] = errors(caplog)
    assert logged.exc_info is not None


def test_a_policy_nested_past_the_limit_is_refused() -> None:
    book = PolicyBook(Settings())
    nested = b'{"schema":"org_policy/1","x":' + b"[" * 1000 + b"]" * 1000 + b"}"
    assert book.apply_record(nested, b"org-1") is None
    assert book.unexpected_errors == 0  # a validation error, not an unexpected one
