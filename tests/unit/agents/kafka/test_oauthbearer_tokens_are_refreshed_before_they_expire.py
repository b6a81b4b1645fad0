"""OAUTHBEARER token providers keep a token until 80 % of its lifetime has passed and
fetch a fresh one then: from a file, from a command, or from Amazon's MSK IAM signer.

The MSK signer cannot reach AWS here: `MskIamTokenProvider` is given a stand-in with
the signer's interface (`generate_auth_token(region) -> (token, expiry in epoch ms)`),
which checks the wiring (region passed, expiry honoured), not AWS's signature."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

from agents.kafka.errors import KafkaRefused
from agents.kafka.tokens import (
    UNKNOWN_LIFETIME,
    CommandTokenProvider,
    FileTokenProvider,
    MskIamTokenProvider,
    jwt_expiry,
)

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def jwt(exp: float, subject: str = "backupwatch") -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'sub': subject, 'exp': exp})}.sig"


def test_a_jwt_expiry_is_its_exp_claim_and_other_tokens_have_none() -> None:
    assert jwt_expiry(jwt(NOW + 600)) == NOW + 600
    assert jwt_expiry("opaque-token") is None
    assert jwt_expiry("a.!!!.c") is None


async def test_a_token_file_is_read_again_once_most_of_the_lifetime_passed(
    tmp_path: Path,
) -> None:
    clock = Clock()
    path = tmp_path / "token"
    first, second = jwt(NOW + 1000, "first"), jwt(NOW + 2000, "second")
    path.write_text(first + "\n")
    provider = FileTokenProvider(path, clock=clock)

    assert await provider.token() == first
    path.write_text(second)
    clock.now = NOW + 799
    assert await provider.token() == first
    clock.now = NOW + 800
    assert await provider.token() == second


async def test_an_opaque_token_file_is_read_again_every_minute_or_so(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "token"
    path.write_text("one")
    provider = FileTokenProvider(path, clock=clock)

    assert await provider.token() == "one"
    path.write_text("two")
    clock.now = NOW + UNKNOWN_LIFETIME
    assert await provider.token() == "two"


async def test_an_empty_or_missing_token_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(KafkaRefused, match="cannot read the OAUTHBEARER token file"):
        await FileTokenProvider(tmp_path / "nothing").token()
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(KafkaRefused, match="is empty"):
        await FileTokenProvider(tmp_path / "empty").token()


async def test_a_token_command_is_run_and_its_output_is_the_token(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    script = tmp_path / "token.py"
    script.write_text(
        "import pathlib, sys\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        "print(f'token-{n}')\n"
    )
    clock = Clock()
    provider = CommandTokenProvider(f"{sys.executable} {script}", clock=clock)

    assert await provider.token() == "token-1"
    assert await provider.token() == "token-1"
    clock.now = NOW + UNKNOWN_LIFETIME
    assert await provider.token() == "token-2"


async def test_a_failing_token_command_is_named_with_its_last_words() -> None:
    provider = CommandTokenProvider(
        f"{sys.executable} -c \"import sys; sys.exit('no session: run login')\""
    )
    with pytest.raises(KafkaRefused, match="exited with 1: no session: run login"):
        await provider.token()


class FakeSigner:
    """The interface of aws_msk_iam_sasl_signer.MSKAuthTokenProvider."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: list[str] = []

    def generate_auth_token(self, region: str) -> tuple[str, int]:
        self.calls.append(region)
        # The signer's tokens last 15 minutes; its expiry is in epoch milliseconds.
        return f"msk-token-{len(self.calls)}", int((self.clock.now + 900) * 1000)


async def test_an_msk_iam_token_is_signed_for_the_region_and_renewed_before_expiry() -> None:
    clock = Clock()
    signer = FakeSigner(clock)
    provider = MskIamTokenProvider("eu-west-1", signer=signer, clock=clock)

    assert await provider.token() == "msk-token-1"
    clock.now = NOW + 700
    assert await provider.token() == "msk-token-1"
    clock.now = NOW + 720
    assert await provider.token() == "msk-token-2"
    assert signer.calls == ["eu-west-1", "eu-west-1"]


async def test_an_msk_signer_failure_is_one_line_naming_the_region() -> None:
    class NoCredentials:
        def generate_auth_token(self, region: str) -> tuple[str, int]:
            raise RuntimeError("Unable to locate credentials")

    provider = MskIamTokenProvider("us-east-1", signer=NoCredentials())
    with pytest.raises(KafkaRefused, match="region us-east-1: Unable to locate credentials"):
        await provider.token()


def test_msk_iam_gives_the_clients_an_oauthbearer_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import types

    from agents.kafka import KafkaConnection

    fake = types.ModuleType("aws_msk_iam_sasl_signer")
    fake.MSKAuthTokenProvider = FakeSigner(Clock())  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "aws_msk_iam_sasl_signer", fake)

    connection = KafkaConnection(
        security_protocol="SASL_SSL", sasl_mechanism="AWS_MSK_IAM", aws_region="eu-west-1"
    )
    options = connection.client_options()

    assert options["sasl_mechanism"] == "OAUTHBEARER"
    assert isinstance(options["sasl_oauth_token_provider"], MskIamTokenProvider)
    assert options["sasl_oauth_token_provider"].region == "eu-west-1"
