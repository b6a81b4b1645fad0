"""Org policies: every worker reads the whole compacted `org-policies` topic."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

from agents.books.book import Book
from agents.kafka.topics import ORG_POLICIES
from schemas.codec import decode_as
from schemas.errors import InvalidRecord
from schemas.models import OrgPolicy
from streams.errors import InvalidPolicy
from streams.policy import Policy, policy_from_record

if TYPE_CHECKING:
    from datetime import datetime


__all__ = ["PolicyBook"]


class PolicyBook(Book[OrgPolicy, Policy]):
    """The policy of each org, kept current from the topic; the default for others.

    Policies are few and small, so each worker holds all of them: a plain consumer
    with no group reads every partition from the beginning, then follows the topic.
    A tombstone puts the org back on the defaults.
    """

    TOPIC: ClassVar[str] = ORG_POLICIES
    WHAT: ClassVar[str] = "an org policy"
    ERRORS_METRIC: ClassVar[str] = "policy_errors"
    STAGE: ClassVar[str] = "policy"
    INVALID: ClassVar[tuple[type[Exception], ...]] = (InvalidRecord, InvalidPolicy)

    @cached_property
    def base(self) -> Policy:
        """The policy of an org without a record of its own."""
        return Policy(max_skew=self.settings.max_skew)

    def read(self, value: bytes) -> tuple[str, OrgPolicy, Policy]:
        record = decode_as(value, OrgPolicy)
        return record.org_id, record, policy_from_record(record, self.base)

    def updated_at(self, record: OrgPolicy) -> datetime:
        return record.updated_at

    def policy_for(self, org_id: str) -> Policy:
        return self._made.get(org_id, self.base)
