"""Org policies: every worker reads the whole compacted `org-policies` topic."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from agents.kafka.follower import Record, TopicFollower
from agents.kafka.topics import ORG_POLICIES
from schemas.codec import decode_as
from schemas.errors import InvalidRecord
from schemas.models import OrgPolicy
from schemas.types import loggable
from streams.errors import InvalidPolicy
from streams.policy import Policy, policy_from_record

if TYPE_CHECKING:
    from agents.metrics import WorkerMetrics
    from agents.settings import Settings

__all__ = ["PolicyBook"]

log = logging.getLogger(__name__)


class PolicyBook:
    """The policy of each org, kept current from the topic; the default for others.

    Policies are few and small, so each worker holds all of them: a plain consumer
    with no group reads every partition from the beginning, then follows the topic.
    """

    def __init__(
        self,
        settings: Settings,
        on_change: Callable[[str], None] | None = None,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.base = Policy(max_skew=settings.max_skew)
        self._policies: dict[str, Policy] = {}
        self._updated: dict[str, OrgPolicy] = {}
        # Counts the changes taken, so that readers can tell a cached answer is stale.
        self.revision = 0
        # Records refused for an exception that is not a validation error.
        self.unexpected_errors = 0
        self._on_change = on_change
        self._metrics = metrics

    def policy_for(self, org_id: str) -> Policy:
        return self._policies.get(org_id, self.base)

    def record_for(self, org_id: str) -> OrgPolicy | None:
        return self._updated.get(org_id)

    def apply_record(self, value: bytes | None, key: bytes | None = None) -> str | None:
        """Take one record of the topic; return the org it changed, if any."""
        if value is None:  # a tombstone: back to the defaults
            if key is None:
                return None
            org_id = key.decode("utf-8", "replace")
            self._policies.pop(org_id, None)
            self.revision += 1
            self._updated.pop(org_id, None)
            return org_id
        try:
            record = decode_as(value, OrgPolicy)
            policy = policy_from_record(record, self.base)
        except (InvalidRecord, InvalidPolicy) as err:
            log.warning("refused an org policy record: %s", loggable(str(err)))
            if self._metrics is not None:
                self._metrics.policy_errors.inc()
            return None
        except Exception as err:  # noqa: BLE001 - a record must not stop the reading
            # Every worker reads the whole topic at every start: a record that raised
            # here would stop them all, each time. The org keeps the policy it had.
            self.unexpected_errors += 1
            log.error(
                "refused an org policy record that failed unexpectedly (%s: %s)",
                type(err).__name__,
                loggable(str(err)),
                exc_info=err,
            )
            if self._metrics is not None:
                self._metrics.policy_errors.inc()
                self._metrics.unexpected_errors.labels("policy").inc()
            return None
        previous = self._updated.get(record.org_id)
        if previous is not None and previous.updated_at > record.updated_at:
            return None
        self._policies[record.org_id] = policy
        self.revision += 1
        self._updated[record.org_id] = record
        return record.org_id

    def _take(self, record: Record) -> None:
        org_id = self.apply_record(record.value, record.key)
        if org_id is not None:
            log.info("policy of org %s updated", loggable(org_id))
            if self._on_change is not None:
                self._on_change(org_id)

    async def run(self) -> None:
        """Read the whole topic, then follow it until cancelled (on a first start, the
        topic may not exist yet: it is waited for)."""
        topic = self.settings.topic(ORG_POLICIES)
        await TopicFollower(self.settings.kafka, topic, self._take, wait_ms=1000).run()
