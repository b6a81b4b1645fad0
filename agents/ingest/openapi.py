"""The OpenAPI 3.1 document of the ingest endpoint (served at `/api/openapi.json` by
`backupwatch ingest`).

The endpoint's own document, not a part of the report API's (`agents/report/openapi.py`): the
two are served by different processes, to different clients. The record schemas are
the JSON Schema documents generated from the wire contract, so they cannot drift.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.ingest.settings import IngestSettings

__all__ = ["openapi_document"]


def _record_schemas() -> dict[str, Any]:
    """The definitions of the heartbeat and progress JSON Schema documents, with their
    references pointed at this document's components."""
    schemas: dict[str, Any] = {}
    for name in ("heartbeat", "backup_progress"):
        path = resources.files("schemas") / "json" / f"{name}.v1.json"
        text = path.read_text(encoding="utf-8").replace("#/$defs/", "#/components/schemas/")
        schemas.update(json.loads(text)["$defs"])
    return schemas


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document(settings: IngestSettings) -> dict[str, Any]:
    record = {
        "oneOf": [
            {"$ref": "#/components/schemas/Heartbeat"},
            {"$ref": "#/components/schemas/BackupProgress"},
        ]
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "backupwatch ingest",
            "version": "1",
            "description": "Telemetry of endpoints, published to the pipeline's topics.",
        },
        "paths": {
            "/api/ingest": {
                "post": {
                    "operationId": "ingest",
                    "summary": "Publish one record, or a batch of records as NDJSON",
                    "description": (
                        "Answered 202 only once the broker acknowledged every record; on a "
                        "5xx or a timeout, send the same records again (the pipeline "
                        "recognizes duplicates). A refused request publishes nothing. At "
                        f"most {settings.max_records} records and {settings.max_bytes} "
                        f"bytes; {settings.rate:g} requests a second per token "
                        f"({settings.burst} at once)."
                    ),
                    "security": [{"ingestToken": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": record},
                            "application/x-ndjson": {
                                "schema": {
                                    "type": "string",
                                    "description": "One record (as application/json) a line",
                                }
                            },
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "Every record was acknowledged by the broker.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["accepted"],
                                        "properties": {"accepted": {"type": "integer"}},
                                    }
                                }
                            },
                        },
                        "400": _error("A bad record: `line` and `field` name it."),
                        "401": _error("Missing or unknown ingest token."),
                        "403": _error(
                            "A record of another org than the token's: `org_id` names it."
                        ),
                        "413": _error("Too many records or bytes."),
                        "415": _error("Neither application/json nor application/x-ndjson."),
                        "429": _error("Too many requests with this token; see Retry-After."),
                        "503": _error("The broker did not acknowledge the records: send again."),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"ingestToken": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **_record_schemas(),
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "line": {"type": "integer"},
                        "field": {"type": "string"},
                        "org_id": {"type": "string"},
                    },
                },
            },
        },
    }
