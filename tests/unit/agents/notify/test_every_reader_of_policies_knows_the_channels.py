"""A channel is one module registered in one place, and everything that checks a
recipient learns it from there: every module that decodes org policies loads the
channel registry (in a fresh interpreter, as a process starting from it would), and the
wire contract and the notifications guide name exactly the registered channels."""

from __future__ import annotations

import re

import pytest

from agents.notify.channels import CHANNELS
from schemas.recipients import channel_names, recipient_problem, target_syntax
from tests.fresh_interpreter import REPO, run_python

_DECODES_POLICIES = re.compile(r"decode_as\(.*, OrgPolicy\)")


def _policy_decoders() -> list[str]:
    modules = []
    for path in sorted((REPO / "agents").rglob("*.py")):
        if _DECODES_POLICIES.search(path.read_text(encoding="utf-8")):
            modules.append(".".join(path.relative_to(REPO).with_suffix("").parts))
    return modules


def test_the_policy_decoders_are_found() -> None:
    # Guards the test below against passing for want of modules to try.
    assert {"agents.books.policies", "agents.report.api", "agents.kafka.follow"} <= set(
        _policy_decoders()
    )


@pytest.mark.parametrize("module", _policy_decoders())
def test_a_module_that_decodes_policies_loads_the_channel_registry(module: str) -> None:
    probe = f"import {module}; from schemas.recipients import channel_names; print(channel_names())"
    assert run_python(probe, timeout=120) == str(tuple(sorted(c.name for c in CHANNELS)))


def test_the_wire_contract_knows_every_registered_channel_and_no_other() -> None:
    assert channel_names() == tuple(sorted(c.name for c in CHANNELS))
    for channel in CHANNELS:
        assert target_syntax(channel.name) is channel.target
        assert recipient_problem(channel.name, "\n") == (
            f"{channel.name} target {channel.target.shown(chr(10))!r} is not {channel.target.what}"
        )


def test_the_notifications_guide_shows_every_channel_in_a_policy() -> None:
    guide = (REPO / "docs" / "notifications.md").read_text(encoding="utf-8")
    shown = set(re.findall(r'\{"channel": "([a-z0-9_]+)"', guide))
    assert shown == {c.name for c in CHANNELS}
