from __future__ import annotations

from pathlib import Path

import pytest

from agents.ingest.errors import ConfigError
from agents.ingest.ratelimit import RateLimiter
from agents.ingest.settings import IngestSettings
from agents.ingest.tokens import TokenBook, parse_tokens

ALPHA = "a" * 32
BETA = "b" * 32


def test_a_bearer_token_is_found_with_its_org() -> None:
    book = TokenBook(parse_tokens([ALPHA, f"{BETA}:org-b"], "test"))

    alpha, beta = book.find(f"Bearer {ALPHA}"), book.find(f"bearer  {BETA} ")

    assert alpha is not None and alpha.org_id is None
    assert beta is not None and beta.org_id == "org-b"
    for header in (None, "", ALPHA, f"Basic {ALPHA}", "Bearer ", f"Bearer {ALPHA}x"):
        assert book.find(header) is None


def test_tokens_come_from_the_variable_and_the_file(tmp_path: Path) -> None:
    listed = tmp_path / "tokens"
    listed.write_text(f"# endpoints of org-b\n{BETA}:org-b\n\n", encoding="utf-8")

    settings = IngestSettings.from_env(
        {"BACKUPWATCH_INGEST_TOKENS": ALPHA, "BACKUPWATCH_INGEST_TOKENS_FILE": str(listed)}
    )

    book = settings.token_book()
    assert len(book) == 2
    found = book.find(f"Bearer {BETA}")
    assert found is not None and found.org_id == "org-b" and found.name == "token-2"
    assert ALPHA not in settings.describe() and BETA not in settings.describe()


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "no ingest token"),
        ({"BACKUPWATCH_INGEST_TOKENS": "short"}, "at least 16"),
        ({"BACKUPWATCH_INGEST_TOKENS": f"{ALPHA},{ALPHA}:org-a"}, "given twice"),
        (
            {"BACKUPWATCH_INGEST_TOKENS": ALPHA, "BACKUPWATCH_API_TOKEN": ALPHA},
            "equals BACKUPWATCH_API_TOKEN",
        ),
        ({"BACKUPWATCH_INGEST_TOKENS_FILE": "/no/such/file"}, "TOKENS_FILE=/no/such/file"),
        ({"BACKUPWATCH_INGEST_TOKENS": ALPHA, "BACKUPWATCH_INGEST_RATE": "0"}, "RATE"),
        ({"BACKUPWATCH_INGEST_TOKENS": ALPHA, "BACKUPWATCH_INGEST_MAX_BYTES": "10"}, "MAX_BYTES"),
        ({"BACKUPWATCH_INGEST_TOKENS": ALPHA, "BACKUPWATCH_INGEST_BURST": "x"}, "BURST"),
    ],
)
def test_bad_settings_are_refused_at_start_naming_the_variable(
    env: dict[str, str], says: str
) -> None:
    with pytest.raises(ConfigError, match=says) as refused:
        IngestSettings.from_env(env)

    assert ALPHA not in str(refused.value)


def test_an_ingest_token_equal_to_the_admin_token_in_its_file_is_refused(
    tmp_path: Path,
) -> None:
    admin = tmp_path / "admin"
    admin.write_text(f"# the admin token\n{BETA}\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="equals BACKUPWATCH_API_TOKEN"):
        IngestSettings.from_env(
            {"BACKUPWATCH_INGEST_TOKENS": BETA, "BACKUPWATCH_API_TOKEN_FILE": str(admin)}
        )


def test_a_token_may_send_its_burst_at_once_then_its_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)

    assert [limiter.take("t", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("t", 100.0) == pytest.approx(0.5)
    assert limiter.take("other", 100.0) == 0.0
    assert limiter.take("t", 100.5) == 0.0
    assert limiter.take("t", 100.5) > 0
    assert limiter.take("t", 200.0) == 0.0


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (30, "30")])
def test_retry_after_is_whole_seconds_at_least_one(wait: float, header: str) -> None:
    assert RateLimiter.retry_after(wait) == header
