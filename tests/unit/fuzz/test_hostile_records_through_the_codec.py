"""Every hostile record either decodes — and then encodes and decodes again to the same
record — or is refused with one of the codec's reasons and a message; no decoder of any
schema raises anything else."""

from __future__ import annotations

from typing import Any, get_args

from hypothesis import given
from hypothesis import strategies as st

from schemas.codec import decode, decode_as, encode
from schemas.errors import InvalidRecord, Reason
from schemas.models import Alert, DeviceStatus, OrgPolicy
from tests.hostile import SCHEMAS, TRIED, fuzz_settings, hostile

REASONS = set(get_args(Reason))
DECODERS: dict[str, Any] = {
    "inputs": decode,
    "org_policy": lambda data: decode_as(data, OrgPolicy),
    "alert": lambda data: decode_as(data, Alert),
    "device_status": lambda data: decode_as(data, DeviceStatus),
}


@fuzz_settings(scale=3)
@given(st.sampled_from(SCHEMAS).flatmap(hostile))
def test_a_hostile_record_decodes_or_is_refused_with_a_known_reason(value: bytes) -> None:
    TRIED["codec"] += 1
    for decoder in DECODERS.values():
        try:
            record = decoder(value)
        except InvalidRecord as err:
            assert err.reason in REASONS, err.reason
            assert err.message
            continue
        assert decoder(encode(record)) == record
