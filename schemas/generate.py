"""Write the JSON Schema documents of the wire contract to `schemas/json/`.

python -m schemas.generate          # rewrite the documents
python -m schemas.generate --check  # fail when they differ from the models
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgspec
import orjson

from schemas.models import (
    Alert,
    BackupProgress,
    DeviceCommand,
    DeviceStatus,
    Heartbeat,
    OrgPolicy,
    UserFacts,
)

__all__ = ["DOCUMENTS", "JSON_DIR", "render", "main"]

JSON_DIR = Path(__file__).parent / "json"
DOCUMENTS: dict[str, type[msgspec.Struct]] = {
    "heartbeat.v1.json": Heartbeat,
    "backup_progress.v1.json": BackupProgress,
    "device_command.v1.json": DeviceCommand,
    "org_policy.v1.json": OrgPolicy,
    "user_facts.v1.json": UserFacts,
    "alert.v1.json": Alert,
    "device_status.v1.json": DeviceStatus,
}


def render(model: type[msgspec.Struct]) -> bytes:
    schema = msgspec.json.schema(model)
    tag = msgspec.inspect.type_info(model).tag  # type: ignore[attr-defined]
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"backupwatch:{tag}",
        "title": tag,
        **schema,
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name, model in DOCUMENTS.items():
        path = JSON_DIR / name
        wanted = render(model)
        if path.exists() and path.read_bytes() == wanted:
            continue
        stale.append(name)
        if not args.check:
            JSON_DIR.mkdir(exist_ok=True)
            path.write_bytes(wanted)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run `python -m schemas.generate`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
