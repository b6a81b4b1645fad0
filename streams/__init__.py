"""The pure core of backupwatch: device state, policy, transitions, diagnosis.

Nothing here reads a clock, a socket or a Kafka record: every function takes `now`.
"""

from streams.diagnosis import Hints, diagnose
from streams.errors import InvalidPolicy, UserFactsConflict
from streams.kinds import worst
from streams.machine import advance, apply, level_for, next_deadline, record_fingerprint
from streams.policy import DEFAULT_POLICY, Policy, Thresholds, policy_from_record
from streams.state import DeviceState, decode_state, encode_state
from streams.status import device_status, to_alert
from streams.transitions import Transition, alert_id
from streams.users import NO_USER_FACTS, UserTimeline, timeline_from_record

__all__ = [
    "DEFAULT_POLICY",
    "NO_USER_FACTS",
    "DeviceState",
    "Hints",
    "InvalidPolicy",
    "Policy",
    "Thresholds",
    "Transition",
    "UserFactsConflict",
    "UserTimeline",
    "advance",
    "alert_id",
    "apply",
    "decode_state",
    "device_status",
    "diagnose",
    "encode_state",
    "level_for",
    "next_deadline",
    "policy_from_record",
    "record_fingerprint",
    "timeline_from_record",
    "to_alert",
    "worst",
]
