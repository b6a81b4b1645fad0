"""An alert's times carry their offset: the notifier subtracts `emitted_at` from its own
clock for the delivery latency, and a time without an offset failed there after the
delivery, ending the lane with the alerts queued behind it (found by the fuzz tests)."""

from __future__ import annotations

import json

import pytest

from schemas.codec import decode_as, encode
from schemas.errors import InvalidRecord
from schemas.models import Alert
from tests.unit.agents.notify.alerts import example_alert

ALERT = json.loads(encode(example_alert()))


@pytest.mark.parametrize("field", ["emitted_at", "decided_at", "episode_start"])
def test_an_alert_time_without_an_offset_is_an_invalid_field(field: str) -> None:
    with pytest.raises(InvalidRecord) as raised:
        decode_as(json.dumps({**ALERT, field: "2026-11-01T08:00:00"}).encode(), Alert)
    assert raised.value.reason == "invalid_field"
    assert field in raised.value.message


@pytest.mark.parametrize("at", ["2026-11-01T08:00:00Z", "2026-11-01T09:00:00+01:00"])
def test_an_alert_time_with_an_offset_decodes(at: str) -> None:
    alert = decode_as(json.dumps({**ALERT, "emitted_at": at}).encode(), Alert)
    assert alert.emitted_at.utcoffset() is not None
