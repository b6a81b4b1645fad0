"""After `policy_changed(org)`, the next step of a partition's clock decides every device
of the org against its new policy, with the reason "policy_changed"."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.models import Alert, OrgPolicy
from streams import policy_from_record
from tests.unit.factories import DAY, T0, heartbeat
from tests.unit.streams.test_partition_processor import Log, Worker, partition_of

P = partition_of(b"dev-1")
assert partition_of(b"dev-5") == P
STEP = timedelta(minutes=5)

TIGHTER = policy_from_record(
    OrgPolicy(
        org_id="org-1",
        updated_at=T0 + 2 * DAY,
        connection_warning_days=1,
        connection_critical_days=2,
    )
)
LOOSER = policy_from_record(
    OrgPolicy(
        org_id="org-1",
        updated_at=T0 + 4 * DAY,
        connection_warning_days=10,
        connection_critical_days=20,
    )
)
# (policy, clock when it changes, what the next step decides for the silent device)
CHANGES = {
    "tighter": (TIGHTER, T0 + 2 * DAY, ("opened", "critical")),
    "looser": (LOOSER, T0 + 4 * DAY, ("resolved", "ok")),
}


def silent_until(change: str) -> tuple[Worker, Log]:
    """dev-1 (org-1) and dev-5 (org-2) silent since T0, decided up to the change."""
    worker, log = Worker(), Log()
    _, at, _ = CHANGES[change]
    worker.process(
        [
            log.record(heartbeat(T0, "dev-1", org_id="org-1")),
            log.record(heartbeat(T0, "dev-5", org_id="org-2")),
        ]
        + log.tick(T0, P)
        + log.tick(at, P)
    )
    return worker, log


def connection(alerts: list[Alert]) -> list[tuple[str, str, str, str]]:
    return [
        (a.device_id, a.transition, a.to_state, a.reason) for a in alerts if a.kind == "connection"
    ]


@pytest.mark.parametrize("change", CHANGES)
def test_the_next_clock_step_decides_the_orgs_devices_against_the_new_policy(
    change: str,
) -> None:
    worker, log = silent_until(change)
    policy, at, (transition, level) = CHANGES[change]
    worker.policies["org-1"] = policy
    worker.processor.policy_changed("org-1")

    # Ticks that do not move the clock decide nothing, not even a policy change.
    assert worker.process(log.tick(at + STEP, P, [0, 1])).alerts == []
    result = worker.process(log.tick(at + STEP, P, [2]))
    assert connection(result.alerts) == [("dev-1", transition, level, "policy_changed")]
    assert {a.decided_at for a in result.alerts} == {at + STEP}
    assert worker.state("dev-1").connection.level == level
    # Decided once: the following step has nothing left to say.
    assert worker.process(log.tick(at + 2 * STEP, P)).alerts == []


@pytest.mark.parametrize("change", CHANGES)
def test_a_device_heard_from_since_the_last_step_is_decided_for_the_policy_change(
    change: str,
) -> None:
    # The heartbeat reaches no destination: it changes nothing the connection alert is
    # measured from, only the new policy does, whatever made the device due.
    worker, log = silent_until(change)
    policy, at, (transition, level) = CHANGES[change]
    worker.policies["org-1"] = policy
    worker.processor.policy_changed("org-1")
    online = log.record(heartbeat(at + STEP / 2, "dev-1", reachable_destinations=[]))
    result = worker.process([online] + log.tick(at + STEP, P))
    assert connection(result.alerts) == [("dev-1", transition, level, "policy_changed")]


@pytest.mark.parametrize("rebalance", ["revoke_all", "new processor"])
@pytest.mark.parametrize("change", CHANGES)
def test_a_policy_change_is_not_lost_in_a_rebalance_before_the_next_step(
    change: str, rebalance: str
) -> None:
    worker, log = silent_until(change)
    policy, at, (transition, level) = CHANGES[change]
    worker.policies["org-1"] = policy
    worker.processor.policy_changed("org-1")
    # The partition comes back to this worker, or goes to one that never saw the change.
    if rebalance == "revoke_all":
        worker.processor.revoke_all()
    else:
        worker.restart()
    result = worker.process(log.tick(at + STEP, P))
    assert connection(result.alerts) == [("dev-1", transition, level, "policy_changed")]


@pytest.mark.parametrize(
    "org_policy",
    [
        pytest.param(False, id="defaults"),
        pytest.param(True, id="org policy"),
    ],
)
def test_a_new_devices_first_alerts_are_not_put_down_to_a_policy_change(
    org_policy: bool,
) -> None:
    # A device first heard of through old heartbeats that reach no destination: its
    # first decision already finds it silent for four days.
    worker, log = Worker(), Log()
    if org_policy:
        worker.policies["org-1"] = policy_from_record(
            OrgPolicy(org_id="org-1", updated_at=T0 - DAY, minimum_app_version="11.0")
        )
    worker.process(log.tick(T0 + 4 * DAY, P))
    old = log.record(heartbeat(T0, "dev-1", reachable_destinations=[]))
    result = worker.process([old] + log.tick(T0 + 4 * DAY + STEP, P))
    assert connection(result.alerts) == [("dev-1", "opened", "warning", "threshold")]


def test_a_device_whose_every_alert_is_critical_is_decided_again_under_a_new_policy() -> None:
    # Critical on connection and backup, no reminders: nothing is due for it until an
    # event arrives, so it waits in no deadline index.
    worker, log = Worker(), Log()
    worker.process(
        [log.record(heartbeat(T0, "dev-1", org_id="org-1"))]
        + log.tick(T0, P)
        + log.tick(T0 + 8 * DAY, P)
    )
    assert worker.state("dev-1").connection.level == "critical"

    worker.policies["org-1"] = LOOSER
    worker.processor.policy_changed("org-1")
    alerts = worker.process(log.tick(T0 + 9 * DAY, P)).alerts

    assert connection(alerts) == [("dev-1", "resolved", "ok", "policy_changed")]
    assert worker.state("dev-1").policy_revision == LOOSER.revision
