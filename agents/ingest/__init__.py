"""`backupwatch ingest`: an authenticated HTTP endpoint that publishes telemetry.

The pure parts — tokens, the rate limiter, reading a body into records — have no
I/O; `server` answers the requests and `producer` talks to Kafka.
"""

from agents.ingest.settings import IngestSettings

__all__ = ["IngestSettings"]
