"""Deliver a report's records: to an ingest endpoint over HTTP, or straight to Kafka."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

from agents.errors import KafkaUnreachable
from agents.ingest.producer import publish, start_producer
from agents.reporters.errors import ReportError
from schemas.codec import encode
from schemas.models import TelemetryRecord

__all__ = ["HttpSender", "KafkaSender", "Sender"]

log = logging.getLogger(__name__)


class Sender:
    async def send(self, records: Sequence[TelemetryRecord]) -> None:
        raise NotImplementedError


@dataclass
class HttpSender(Sender):
    """POSTs the records as one NDJSON batch. A 5xx, a timeout or a refused connection
    is sent again with backoff (the records are the same, and the pipeline recognizes
    duplicates); a 429 waits its `Retry-After`; any other refusal is final."""

    url: str
    token: str
    attempts: int = 6
    timeout: float = 60.0
    backoff: float = 1.0

    async def send(self, records: Sequence[TelemetryRecord]) -> None:
        import aiohttp

        body = b"".join(encode(record) + b"\n" for record in records)
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/x-ndjson",
        }
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        problem = ""
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for attempt in range(1, self.attempts + 1):
                wait = self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)  # noqa: S311
                try:
                    async with session.post(self.url, data=body, headers=headers) as response:
                        if response.status == 202:
                            return
                        text = (await response.text())[:500]
                        problem = f"{self.url} answered {response.status}: {_error_of(text)}"
                        if response.status == 429:
                            wait = _seconds(response.headers.get("Retry-After"), wait)
                        elif response.status < 500:
                            raise ReportError(problem)
                except (aiohttp.ClientError, TimeoutError) as err:
                    problem = f"cannot reach {self.url}: {err or type(err).__name__}"
                if attempt < self.attempts:
                    log.info("%s; sending again in %.1f s", problem, wait)
                    await asyncio.sleep(wait)
        raise ReportError(f"{problem} (after {self.attempts} attempts)")


def _error_of(text: str) -> str:
    """The `error` of the endpoint's JSON answer, or the answer's text."""
    try:
        message = json.loads(text).get("error")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else text.strip().replace("\n", " ")


def _seconds(header: str | None, default: float) -> float:
    try:
        return max(0.0, min(300.0, float(header))) if header else default
    except ValueError:
        return default


@dataclass
class KafkaSender(Sender):
    """Appends the records to the input topics, keyed by device, acknowledged by the
    broker before `send` returns."""

    bootstrap_servers: str
    topic_prefix: str

    async def send(self, records: Sequence[TelemetryRecord]) -> None:
        from aiokafka.errors import KafkaError

        try:
            producer = await start_producer(self.bootstrap_servers)
        except KafkaUnreachable as err:
            raise ReportError(str(err)) from None
        try:
            await publish(producer, self.topic_prefix, records)
        except KafkaError as err:
            # Said as one line; a watcher goes on and sends them again at its next poll.
            raise ReportError(f"Kafka did not acknowledge the records: {err}") from None
        finally:
            await producer.stop()
