"""The OpenAPI 3.1 document of the status report API (served at `/api/openapi.json`),
generated from the types of its bodies (`agents.report.bodies`), of its query parameters
(`agents.report.query`) and the operations below, as `schemas.generate` writes the wire
contract's JSON Schemas from its models.

python -m agents.report.openapi          # rewrite agents/report/openapi.json
python -m agents.report.openapi --check  # fail when it differs from what the types give
"""

from __future__ import annotations

import argparse
import copy
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import msgspec
import orjson

from agents.report import bodies
from agents.report.query import (
    CSV_PARAMETERS,
    DeviceListParameters,
    OrgSummaryParameters,
)
from schemas.models import OrgPolicy

__all__ = ["DOCUMENT_PATH", "OPERATIONS", "Operation", "main", "render", "served_document"]

DOCUMENT_PATH = Path(__file__).parent / "openapi.json"

_REF = "#/components/schemas/{name}"
# The name an id of a path has in the document, and what it takes.
_NAME = msgspec.json.schema(Annotated[str, msgspec.Meta(min_length=1, max_length=256)])

_ERRORS = {
    400: "A bad parameter or body, or a query parameter given more than once; "
    "`parameter` names it.",
    401: "Missing or wrong bearer token.",
    403: "Admin writes are disabled (no BACKUPWATCH_API_TOKEN on this worker), or the "
    "token given is a viewer token.",
    404: "No such device, user or org.",
    409: "The action contradicts the user's facts (ending a leave that is not).",
}

_COMMAND = (
    "A device that has not reported yet gets the command too: it is kept in the device's "
    "partition and applied when the device first reports (the answer says `held`)."
)
_USER_ACTION = (
    "Takes effect at the fleet's stream time and applies to every device whose current "
    "user this is, including devices that appear or change user later. Published to the "
    "user-facts topic."
)


@dataclass(frozen=True)
class Operation:
    """One route as the document describes it: its answers by status (the body type, or
    several of which the answer is one, and what it means), the errors it may give, its
    parameters and its request body."""

    summary: str
    answers: dict[int, tuple[tuple[type, ...], str]]
    errors: tuple[int, ...] = ()
    description: str = ""
    path_parameters: dict[str, str] = field(default_factory=dict)
    query: type[msgspec.Struct] | None = None
    query_names: tuple[str, ...] | None = None
    body: type[msgspec.Struct] | str | None = None
    body_required: bool = False
    admin: bool = False


def _command(summary: str, body: type[msgspec.Struct] = bodies.CommandBody) -> Operation:
    return Operation(
        summary,
        {202: ((bodies.CommandAccepted,), "Published to the device-commands topic.")},
        (400, 401, 403),
        _COMMAND,
        {"device_id": "The device."},
        body=body,
        body_required=body is not bodies.CommandBody,
        admin=True,
    )


def _user_action(summary: str, body: type[msgspec.Struct] = bodies.CommandBody) -> Operation:
    return Operation(
        summary,
        {202: ((bodies.UserActionAccepted,), "Published to the user-facts topic.")},
        (400, 401, 403, 409),
        _USER_ACTION,
        {"user_id": "The user."},
        body=body,
        body_required=body is not bodies.CommandBody,
        admin=True,
    )


# Every route of `agents.report.api.ROUTES`, by method and path (a test holds the two
# in step).
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/api/summary"): Operation(
        "Device counts per org and state", {200: ((bodies.FleetSummary,), "The fleet.")}
    ),
    ("GET", "/api/devices"): Operation(
        "The device status report: filter, sort, page",
        {200: ((bodies.DevicePage,), "One page of devices.")},
        (400,),
        query=DeviceListParameters,
    ),
    ("GET", "/api/devices.csv"): Operation(
        "The device status report as a CSV download (every match)",
        {},
        (400,),
        query=DeviceListParameters,
        query_names=CSV_PARAMETERS,
    ),
    ("GET", "/api/devices/{device_id}"): Operation(
        "One device: destinations, daily windows, open alerts, history",
        {
            200: (
                (bodies.DeviceDetail, bodies.KnownDevice),
                "The device (or one known only from commands sent before its first report).",
            )
        },
        (404,),
        path_parameters={"device_id": "The device."},
    ),
    ("GET", "/api/users/{user_id}"): Operation(
        "A user: the worst of their active devices, and their facts",
        {200: ((bodies.UserSummary,), "The user.")},
        (404,),
        path_parameters={"user_id": "The user."},
    ),
    ("GET", "/api/orgs/{org_id}/summary"): Operation(
        "An org: counts per kind and state, most urgent devices first",
        {200: ((bodies.OrgSummary,), "The org.")},
        (400, 404),
        path_parameters={"org_id": "The org."},
        query=OrgSummaryParameters,
    ),
    ("GET", "/api/causes"): Operation(
        "Every diagnosis code, with its one-line summary and action",
        {200: ((bodies.CauseCatalogue,), "The causes.")},
        description="The codes a device row's `top_cause` and an alert's diagnosis use, in "
        "the order the diagnosis knows them.",
    ),
    ("PUT", "/api/orgs/{org_id}/policy"): Operation(
        "Set the org's policy (published to the org-policies topic)",
        {202: ((bodies.PolicyAccepted,), "Published.")},
        (400, 401, 403),
        path_parameters={"org_id": "The org."},
        body="PolicyChange",
        body_required=True,
        admin=True,
    ),
    ("POST", "/api/devices/{device_id}/snooze"): _command(
        "Snooze the device's alerts (an extended leave)", bodies.SnoozeBody
    ),
    ("POST", "/api/devices/{device_id}/unsnooze"): _command("End a snooze now"),
    ("POST", "/api/devices/{device_id}/deactivate"): _command(
        "Deactivate the device: its open alerts resolve"
    ),
    ("POST", "/api/devices/{device_id}/reactivate"): _command("Reactivate the device"),
    ("POST", "/api/users/{user_id}/leave"): _user_action(
        "Put the user on leave until a date: their devices alert on nothing until then, "
        "then from their true state",
        bodies.LeaveBody,
    ),
    ("POST", "/api/users/{user_id}/leave/end"): _user_action("End the user's leave now"),
    ("POST", "/api/users/{user_id}/deactivate"): _user_action(
        "Deactivate the user (they left the organization): their devices' open alerts "
        "resolve, and no new ones open"
    ),
    ("POST", "/api/users/{user_id}/reactivate"): _user_action(
        "Reactivate the user: their devices alert again from their true state"
    ),
    ("GET", "/api/openapi.json"): Operation("This document", {}),
}

# The fields of a policy the API sets itself rather than take from the body.
_POLICY_SET_BY_THE_API = ("schema", "org_id", "updated_at")


def _types() -> list[Any]:
    """Every body type the operations name, in a stable order."""
    found: list[Any] = [bodies.Error, OrgPolicy]
    for operation in OPERATIONS.values():
        for types, _ in operation.answers.values():
            found += types
        if isinstance(operation.body, type):
            found.append(operation.body)
    return list(dict.fromkeys(found))


def _ref(model: type) -> dict[str, str]:
    return {"$ref": _REF.format(name=model.__name__)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query_parameters(model: type[msgspec.Struct], names: tuple[str, ...] | None) -> list[Any]:
    (schema,), components = msgspec.json.schema_components([model], ref_template=_REF)
    properties = components[model.__name__]["properties"]
    parameters = []
    for name in names or model.__struct_fields__:
        prop = dict(properties[name])
        description = prop.pop("description")
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": prop,
                "description": description,
            }
        )
    return parameters


def _policy_change(policy: dict[str, Any]) -> dict[str, Any]:
    """The body of a policy change: the policy record's fields the API does not set."""
    change = copy.deepcopy(policy)
    change["title"] = "PolicyChange"
    change["description"] = (
        f"The {OrgPolicy.__name__} fields to set; "
        f"{', '.join(_POLICY_SET_BY_THE_API)} come from the API."
    )
    for name in _POLICY_SET_BY_THE_API:
        change["properties"].pop(name)
    change["required"] = [r for r in change.get("required", []) if r not in _POLICY_SET_BY_THE_API]
    return change


def _operation(operation: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (types, description) in operation.answers.items():
        schema = _ref(types[0]) if len(types) == 1 else {"oneOf": [_ref(t) for t in types]}
        responses[str(status)] = _json(schema, description)
    for status in operation.errors:
        responses[str(status)] = _json(_ref(bodies.Error), _ERRORS[status])
    described: dict[str, Any] = {"summary": operation.summary}
    if operation.description:
        described["description"] = operation.description
    if operation.admin:
        described["security"] = [{"bearer": []}]
    parameters = [
        {"name": name, "in": "path", "required": True, "description": text, "schema": _NAME}
        for name, text in operation.path_parameters.items()
    ]
    if operation.query is not None:
        parameters += _query_parameters(operation.query, operation.query_names)
    if parameters:
        described["parameters"] = parameters
    if operation.body is not None:
        name = operation.body if isinstance(operation.body, str) else operation.body.__name__
        described["requestBody"] = {
            "required": operation.body_required,
            "content": {"application/json": {"schema": {"$ref": _REF.format(name=name)}}},
        }
    described["responses"] = responses
    return described


def document() -> dict[str, Any]:
    """The document, from the types and the operations."""
    _, components = msgspec.json.schema_components(_types(), ref_template=_REF)
    components["PolicyChange"] = _policy_change(components[OrgPolicy.__name__])
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), operation in OPERATIONS.items():
        paths.setdefault(path, {})[method.lower()] = _operation(operation)
    paths["/api/devices.csv"]["get"]["responses"]["200"] = {
        "description": "CSV with a header row. A text cell that would start a spreadsheet "
        "formula (=, +, -, @, tab, CR) is written after a single quote.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
    paths["/api/openapi.json"]["get"]["responses"]["200"] = _json(
        {"type": "object"}, "OpenAPI 3.1."
    )
    # The worker passes every request to its report reader, which may be (re)starting.
    unavailable = _json(
        _ref(bodies.Error),
        "The worker's report reader is starting; try again after `Retry-After` seconds.",
    )
    # With any token configured, every route needs one (agents/report/access.py).
    unauthorized = _json(
        _ref(bodies.Error),
        "A token is configured on this worker and the request has none, or a wrong one.",
    )
    for operations in paths.values():
        for described in operations.values():
            described["responses"]["503"] = unavailable
            described["responses"].setdefault("401", unauthorized)
            # A worker with no token at all answers without one.
            described.setdefault("security", [{"bearer": []}, {}])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "backupwatch status report API",
            "version": "1",
            "description": (
                "The backup health of every device of the fleet, from any worker. With any "
                "token configured on the worker, reads need `Authorization: Bearer <token>` "
                "with a viewer token (BACKUPWATCH_VIEWER_TOKENS) or the admin token; admin "
                "writes publish to the policy and command topics and need the admin token "
                "(BACKUPWATCH_API_TOKEN)."
            ),
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }


def render() -> bytes:
    return orjson.dumps(document(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


@cache
def served_document() -> bytes:
    """The committed document, as the API serves it."""
    return DOCUMENT_PATH.read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    wanted = render()
    if DOCUMENT_PATH.exists() and DOCUMENT_PATH.read_bytes() == wanted:
        return 0
    if args.check:
        print(
            f"out of date: {DOCUMENT_PATH.name}; run `python -m agents.report.openapi`",
            file=sys.stderr,
        )
        return 1
    DOCUMENT_PATH.write_bytes(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
