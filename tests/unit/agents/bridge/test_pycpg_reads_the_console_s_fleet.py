"""`pycpg`, the vendor's client, unchanged, reads a console's fleet through the bridge's
`Console`: both sign-ins, paging at the console's limit, 429s and 5xx retried, a
token that expired renewed, bad credentials and a bad address told apart.

The console is `tests/crashplan_console.py`: a local HTTP server started by the test,
answering the routes `pycpg` calls with the shapes of the public API documentation
(fixtures in `tests/fixtures/crashplan/`, written from that and `pycpg`'s source).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from agents.bridge.crashplan.console import Console, retry_after_seconds, totp_code
from agents.bridge.crashplan.errors import ConsoleAuthError, ConsoleError, ConsoleUnreachable
from agents.bridge.crashplan.settings import BridgeSettings
from tests.crashplan_console import FakeConsole, computer, running_console

T = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
COMPUTERS = "/api/v1/Computer"
# A TOTP seed as an authenticator's QR code holds it (base32).
SEED = "JBSWY3DPEHPK3PXP"


@pytest.fixture
def console() -> Iterator[FakeConsole]:
    with running_console() as fake:
        fake.devices = [computer(f"dev-{i:05d}", last_connected=T) for i in range(2500)]
        yield fake


def api_client(console: FakeConsole, **fields: object) -> BridgeSettings:
    return BridgeSettings(
        url=console.url, api_client_id="key-1", api_client_secret="secret-1", **fields
    )  # type: ignore[arg-type]


def guids(client: Console) -> list[str]:
    return [device["guid"] for page in client.pages() for device in page]


def test_an_api_client_reads_every_device_a_thousand_a_page(console: FakeConsole) -> None:
    client = Console(api_client(console))
    client.connect()

    assert guids(client) == [f"dev-{i:05d}" for i in range(2500)]
    assert console.page_sizes == [1000, 1000, 1000]
    assert console.requests["POST /api/v3/oauth/token"] == 1


def test_a_fleet_of_whole_pages_ends_on_an_empty_page(console: FakeConsole) -> None:
    console.devices = console.devices[:2000]
    client = Console(api_client(console))

    assert len(guids(client)) == 2000
    assert console.requests[f"GET {COMPUTERS}"] == 3


def test_a_local_account_signs_in_with_its_totp(console: FakeConsole) -> None:
    now = datetime.now(UTC)
    # Any code of the minute around now: the test does not race the 30 s step.
    console.totp = None
    accepted = {totp_code(SEED, now + timedelta(seconds=s)) for s in (-30, 0, 30)}
    console.username, console.password = "admin@example.com", "password-1"
    settings = BridgeSettings(
        url=console.url, username="admin@example.com", password="password-1", totp_secret=SEED
    )
    seen: list[str] = []
    original = console.answer

    def answer(method, path, query, headers):  # type: ignore[no-untyped-def]
        if path == "/api/v3/auth/jwt":
            code = headers.get("totp-auth")
            seen.append(code)
            if code not in accepted:
                return 401, {}, b"[]"
        return original(method, path, query, headers)

    console.answer = answer  # type: ignore[method-assign]
    client = Console(settings)
    client.connect()

    assert len(guids(client)) == 2500
    assert seen and all(code in accepted for code in seen)


def test_the_totp_code_is_rfc_6238_s() -> None:
    # RFC 6238, appendix B: the SHA-1 key "12345678901234567890" at 59 s is 94287082.
    seed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert totp_code(seed, datetime.fromtimestamp(59, UTC), digits=8) == "94287082"
    assert totp_code(seed, datetime.fromtimestamp(1111111109, UTC), digits=8) == "07081804"


def test_wrong_api_client_credentials_are_refused_at_connect(console: FakeConsole) -> None:
    settings = BridgeSettings(url=console.url, api_client_id="key-1", api_client_secret="nope")

    with pytest.raises(ConsoleAuthError, match="refused the credentials of API client key-1"):
        Console(settings).connect()


def test_a_wrong_password_is_refused_at_connect(console: FakeConsole) -> None:
    settings = BridgeSettings(url=console.url, username="admin@example.com", password="wrong")

    with pytest.raises(ConsoleAuthError, match="user admin@example.com"):
        Console(settings).connect()


def test_an_address_where_no_console_listens_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = BridgeSettings(url=url, api_client_id="k", api_client_secret="s")

        with pytest.raises(ConsoleUnreachable, match="no CrashPlan console answered"):
            Console(settings).connect()


def test_a_429_is_retried_after_its_retry_after(console: FakeConsole) -> None:
    waits: list[float] = []
    client = Console(api_client(console), sleep=waits.append)
    client.connect()
    # pycpg itself sends a failed request twice before it raises.
    console.fail_next(COMPUTERS, 429, times=2, Retry_After="7")

    assert len(guids(client)) == 2500
    assert waits == [7.0]


def test_5xx_answers_are_retried_with_backoff_then_given_up(console: FakeConsole) -> None:
    waits: list[float] = []
    errors: list[str] = []
    client = Console(
        api_client(console, max_attempts=3), on_error=errors.append, sleep=waits.append
    )
    client.connect()
    console.fail_next(COMPUTERS, 503, times=4)

    assert len(guids(client)) == 2500
    assert len(waits) == 2 and 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0
    assert errors == ["503", "503"]

    console.fail_next(COMPUTERS, 500, times=6)
    with pytest.raises(ConsoleError, match="HTTP 500 after 3 attempt"):
        guids(client)


def test_an_expired_token_is_renewed_by_pycpg(console: FakeConsole) -> None:
    client = Console(api_client(console))
    client.connect()
    pages = client.pages()
    next(pages)
    console.revoke_tokens()

    rest = [d["guid"] for page in pages for d in page]

    assert len(rest) == 1500
    assert console.requests["POST /api/v3/oauth/token"] == 2


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("Mon, 30 Nov 2026 12:00:30 GMT", 30.0),
        ("Mon, 30 Nov 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_or_a_date(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, T) == seconds
