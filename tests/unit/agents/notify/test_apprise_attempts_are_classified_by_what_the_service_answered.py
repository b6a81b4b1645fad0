"""Apprise says only True or False; the notifier looks at the HTTP answers its plugin got:
5xx, 408, 425, 429, timeouts and refused connections are retried (429 after its
`Retry-After`), any other 4xx and a 3xx are refused at once, and a failure without an
HTTP error is retried until the attempts run out."""

from __future__ import annotations

import pytest
import requests

from agents.notify.channels.apprise import _failure, _Seen


@pytest.mark.parametrize(
    ("status", "reason"),
    [(500, "http_5xx"), (502, "http_5xx"), (503, "http_5xx"), (408, "http_4xx"), (429, "http_429")],
)
def test_a_server_error_or_a_busy_answer_is_retried(status: int, reason: str) -> None:
    failure = _failure([_Seen(status)], "JSON (ops)")
    assert not failure.permanent
    assert failure.reason == reason
    assert failure.detail == f"JSON (ops): HTTP {status}"


def test_retry_after_is_passed_on() -> None:
    failure = _failure([_Seen(429, retry_after="7")], "Slack (ops)")
    assert failure.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "reason"), [(400, "http_4xx"), (404, "http_4xx"), (301, "http_3xx")]
)
def test_a_refusal_is_dead_lettered_at_once(status: int, reason: str) -> None:
    failure = _failure([_Seen(status)], "JSON (ops)")
    assert failure.permanent
    assert failure.reason == reason


def test_a_refusal_of_any_request_of_the_attempt_wins_over_a_server_error() -> None:
    # A plugin that made two requests (two ntfy topics): one refused is refused for good.
    assert _failure([_Seen(503), _Seen(401)], "ntfy (ops)").permanent


@pytest.mark.parametrize(
    ("error", "reason"),
    [(requests.ConnectTimeout("slow"), "timeout"), (requests.ConnectionError("no"), "unreachable")],
)
def test_no_answer_is_retried(error: BaseException, reason: str) -> None:
    failure = _failure([_Seen(0, error=error)], "JSON (ops)")
    assert (failure.reason, failure.permanent) == (reason, False)


def test_a_failure_without_an_http_error_is_retried() -> None:
    for seen in ([], [_Seen(200)]):
        failure = _failure(seen, "Email (ops)")
        assert (failure.reason, failure.permanent) == ("apprise_failed", False)
