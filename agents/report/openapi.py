"""The OpenAPI 3.1 document of the status report API (served at `/api/openapi.json`).

Written out rather than generated: it is the contract people build on. A test keeps it
in step with the routes, the query parameters and the responses the API really sends.
"""

from __future__ import annotations

from typing import Any

from agents.notify.channels import CHANNELS
from streams.report import COLUMNS, MAX_PAGE

__all__ = ["openapi_document"]

_LEVEL = {"type": "string", "enum": ["ok", "warning", "critical"]}
_KIND = {"type": "string", "enum": ["connection", "backup", "completion"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_NAME = {"type": "string", "minLength": 1, "maxLength": 256}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "A bad parameter or body, or a query parameter given more than once; "
        "`parameter` names it.",
        401: "Missing or wrong bearer token.",
        403: "Admin writes are disabled (no BACKUPWATCH_API_TOKEN on this worker), or the "
        "token given is a viewer token.",
        404: "No such device, user or org.",
        409: "The action contradicts the user's facts (ending a leave that is not).",
    }
    return {str(code): _json(_ref("Error"), text[code]) for code in codes}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": _NAME,
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


# The filters of /api/devices, shared with the CSV download (less the paging).
_FILTERS = [
    _query("org", _NAME, "Only devices of this org."),
    _query("user", _NAME, "Only devices of this user."),
    _query(
        "state",
        _LEVEL,
        "Devices in this state: of `kind` when given, else the device's worst state.",
    ),
    _query("kind", _KIND, "With `state`: the state of this kind; alone: devices not ok in it."),
    _query("online", {"type": "boolean"}, "Heartbeat within the org's online window."),
    _query(
        "min_days_inactive",
        {"type": "number", "minimum": 0},
        "At least this many days since the last backup activity (or since first seen).",
    ),
    _query("version_below", {"type": "string"}, "App version below this one (e.g. 11.2.1)."),
    _query(
        "completed_below",
        {"type": "number", "minimum": 0, "maximum": 100},
        "Completed % (least complete destination) below this.",
    ),
    _query("snoozed", {"type": "boolean"}, "Snoozed at the device's stream time."),
    _query("deactivated", {"type": "boolean"}, "Deactivated devices (or not)."),
    _query("q", {"type": "string"}, "Search: part of the device id, hostname or user id."),
    _query("sort", {"type": "string", "enum": list(COLUMNS)}, "Column to sort by."),
    _query("order", {"type": "string", "enum": ["asc", "desc"]}, "Sort order (default desc)."),
]
_PAGING = [
    _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 100},
        "Page size.",
    ),
    _query("cursor", {"type": "string"}, "`next_cursor` of the previous page."),
]

_COMMAND_BODY = {
    "type": "object",
    "properties": {"reason": {"type": "string", "maxLength": 1024}},
}


def _command(summary: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "description": (
            "A device that has not reported yet gets the command too: it is kept in the "
            "device's partition and applied when the device first reports (the answer "
            "says `held`)."
        ),
        "security": [{"bearer": []}],
        "parameters": [_path_param("device_id", "The device.")],
        "responses": {
            "202": _json(_ref("Accepted"), "Published to the device-commands topic."),
            **_errors(400, 401, 403),
        },
    }
    operation["requestBody"] = {
        "required": body is not None,
        "content": {"application/json": {"schema": body or _COMMAND_BODY}},
    }
    return operation


def _user_action(summary: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "description": (
            "Takes effect at the fleet's stream time and applies to every device whose "
            "current user this is, including devices that appear or change user later. "
            "Published to the user-facts topic."
        ),
        "security": [{"bearer": []}],
        "parameters": [_path_param("user_id", "The user.")],
        "responses": {
            "202": _json(_ref("UserActionAccepted"), "Published to the user-facts topic."),
            **_errors(400, 401, 403, 409),
        },
    }
    operation["requestBody"] = {
        "required": body is not None,
        "content": {"application/json": {"schema": body or _COMMAND_BODY}},
    }
    return operation


_HOLD = {
    "type": ["object", "null"],
    "description": (
        "What keeps the device's alerts quiet at its stream time, and who said so: the "
        "device (its own deactivation or snooze) or its user (on leave, deactivated)."
    ),
    "required": ["state", "source", "text"],
    "properties": {
        "state": {"type": "string", "enum": ["deactivated", "on_leave", "snoozed"]},
        "source": {"type": "string", "enum": ["device", "user"]},
        "since": _TIME,
        "until": _TIME,
        "reason": {"type": "string"},
        "text": {"type": "string", "description": "e.g. `on leave until 2027-03-01, by user`"},
    },
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "parameter": {"type": "string"}},
    },
    "View": {
        "type": "object",
        "description": "How complete this worker's view of the fleet is.",
        "required": ["caught_up", "devices", "stream_time"],
        "properties": {
            "caught_up": {"type": "boolean"},
            "devices": {"type": "integer"},
            "stream_time": _TIME,
        },
    },
    "AlertStates": {
        "type": "object",
        "required": ["connection", "backup", "completion"],
        "properties": {"connection": _LEVEL, "backup": _LEVEL, "completion": _LEVEL},
    },
    "DeviceRow": {
        "type": "object",
        "required": [
            "device_id",
            "org_id",
            "user_id",
            "hostname",
            "app_version",
            "destinations",
            "alert_states",
            "worst_state",
            "online",
            "percent_complete",
            "last_connected",
            "last_completed_backup",
            "last_activity",
            "days_inactive",
            "selected_bytes",
            "todo_bytes",
            "top_cause",
            "stream_time",
        ],
        "properties": {
            "device_id": {"type": "string"},
            "org_id": {"type": "string"},
            "user_id": {"type": "string"},
            "hostname": {"type": "string"},
            "os": {"type": "string"},
            "app_version": {"type": "string"},
            "app_version_outdated": {"type": "boolean"},
            "destinations": {"type": "array", "items": {"type": "string"}},
            "alert_states": _ref("AlertStates"),
            "worst_state": _LEVEL,
            "online": {"type": "boolean"},
            "percent_complete": {"type": "number", "minimum": 0, "maximum": 100},
            "first_seen": _TIME,
            "last_heartbeat": _TIME,
            "last_connected": _TIME,
            "last_activity": _TIME,
            "last_completed_backup": _TIME,
            "days_inactive": {"type": "number", "minimum": 0},
            "selected_bytes": {"type": "integer", "minimum": 0},
            "todo_bytes": {"type": "integer", "minimum": 0},
            "snoozed": {"type": "boolean"},
            "snoozed_until": _TIME,
            "deactivated": {"type": "boolean"},
            "backup_paused": {"type": "boolean"},
            "top_cause": {"type": ["string", "null"]},
            "hold": _HOLD,
            "stream_time": {"type": "string", "format": "date-time"},
        },
    },
    "DevicePage": {
        "type": "object",
        "required": ["devices", "total", "next_cursor", "view"],
        "properties": {
            "devices": {"type": "array", "items": _ref("DeviceRow")},
            "total": {"type": "integer", "description": "Devices matching the filters."},
            "next_cursor": {"type": ["string", "null"]},
            "view": _ref("View"),
        },
    },
    "Cause": {
        "type": "object",
        "required": ["code", "summary", "evidence", "action"],
        "properties": {
            "code": {"type": "string"},
            "summary": {"type": "string"},
            "evidence": {"type": "object"},
            "action": {"type": "string"},
            "score": {"type": "number"},
        },
    },
    "CauseCatalogue": {
        "type": "object",
        "required": ["causes"],
        "properties": {
            "causes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "summary", "action"],
                    "properties": {
                        "code": {"type": "string"},
                        "summary": {"type": "string"},
                        "action": {"type": "string"},
                    },
                },
            }
        },
    },
    "OpenAlert": {
        "type": "object",
        "required": ["kind", "state", "episode_start", "days_observed", "diagnosis"],
        "properties": {
            "kind": _KIND,
            "destination_id": {"type": ["string", "null"]},
            "state": _LEVEL,
            "episode_start": {"type": "string", "format": "date-time"},
            "days_observed": {"type": "number"},
            "diagnosis": {"type": "array", "items": _ref("Cause")},
        },
    },
    "Destination": {
        "type": "object",
        "required": ["destination_id", "backup_state", "completion_state", "percent_complete"],
        "properties": {
            "destination_id": {"type": "string"},
            "backup_state": _LEVEL,
            "completion_state": _LEVEL,
            "last_connected": _TIME,
            "last_activity": _TIME,
            "last_new_data": _TIME,
            "last_completed_backup": _TIME,
            "percent_complete": {"type": "number"},
            "session_state": {"type": "string"},
            "selected_files": {"type": "integer"},
            "selected_bytes": {"type": "integer"},
            "todo_files": {"type": "integer"},
            "todo_bytes": {"type": "integer"},
        },
    },
    "Day": {
        "type": "object",
        "required": ["date", "heartbeats", "bytes_sent", "completions"],
        "properties": {
            "date": {"type": "string", "format": "date"},
            "heartbeats": {"type": "integer"},
            "bytes_sent": {"type": "integer"},
            "completions": {"type": "integer"},
            "locked": {"type": "integer"},
            "permission_denied": {"type": "integer"},
            "vanished": {"type": "integer"},
            "changed": {"type": "integer"},
        },
    },
    "Transition": {
        "type": "object",
        "required": ["at", "kind", "from", "to", "reason"],
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "kind": _KIND,
            "destination_id": {"type": ["string", "null"]},
            "from": _LEVEL,
            "to": _LEVEL,
            "reason": {"type": "string"},
        },
    },
    "DeviceDetail": {
        "type": "object",
        "required": [
            "device_id",
            "org_id",
            "user_id",
            "alert_states",
            "worst_state",
            "destinations",
            "daily",
            "open_alerts",
            "recent_transitions",
            "thresholds",
            "stream_time",
        ],
        "properties": {
            "device_id": {"type": "string"},
            "org_id": {"type": "string"},
            "user_id": {"type": "string"},
            "hostname": {"type": "string"},
            "os": {"type": "string"},
            "app_version": {"type": "string"},
            "app_version_outdated": {"type": "boolean"},
            "online": {"type": "boolean"},
            "service_state": {"type": "string"},
            "backup_paused": {"type": "boolean"},
            "deactivated": {"type": "boolean"},
            "snoozed_until": _TIME,
            "alert_states": _ref("AlertStates"),
            "worst_state": _LEVEL,
            "first_seen": {"type": "string", "format": "date-time"},
            "last_heartbeat": _TIME,
            "last_connected": _TIME,
            "last_activity": _TIME,
            "last_completed_backup": _TIME,
            "percent_complete": {"type": "number"},
            "selected_bytes": {"type": "integer"},
            "todo_bytes": {"type": "integer"},
            "days_inactive": {"type": "number"},
            "destinations": {"type": "array", "items": _ref("Destination")},
            "daily": {"type": "array", "items": _ref("Day")},
            "open_alerts": {"type": "array", "items": _ref("OpenAlert")},
            "top_cause": {"type": ["string", "null"]},
            "hold": _HOLD,
            "recent_transitions": {"type": "array", "items": _ref("Transition")},
            "thresholds": {"type": "object"},
            "stream_time": {"type": "string", "format": "date-time"},
            "view": _ref("View"),
        },
    },
    "LevelCounts": {
        "type": "object",
        "required": ["ok", "warning", "critical"],
        "properties": {
            "ok": {"type": "integer"},
            "warning": {"type": "integer"},
            "critical": {"type": "integer"},
        },
    },
    "OrgSummary": {
        "type": "object",
        "required": ["org_id", "devices", "by_state", "by_kind", "most_urgent"],
        "properties": {
            "org_id": {"type": "string"},
            "devices": {"type": "integer"},
            "active": {"type": "integer"},
            "online": {"type": "integer"},
            "deactivated": {"type": "integer"},
            "snoozed": {"type": "integer"},
            "app_version_outdated": {"type": "integer"},
            "by_state": _ref("LevelCounts"),
            "by_kind": {
                "type": "object",
                "properties": {
                    "connection": _ref("LevelCounts"),
                    "backup": _ref("LevelCounts"),
                    "completion": _ref("LevelCounts"),
                },
            },
            "most_urgent": {"type": "array", "items": _ref("DeviceRow")},
            "policy": {"type": ["object", "null"]},
            "view": _ref("View"),
        },
    },
    "UserSummary": {
        "type": "object",
        "required": ["user_id", "devices", "worst_state", "alert_states", "device_list"],
        "properties": {
            "user_id": {"type": "string"},
            "orgs": {"type": "array", "items": {"type": "string"}},
            "devices": {"type": "integer"},
            "worst_state": _LEVEL,
            "alert_states": _ref("AlertStates"),
            "online": {"type": "boolean"},
            "device_list": {"type": "array", "items": _ref("DeviceRow")},
            "facts": _ref("UserFacts"),
            "view": _ref("View"),
        },
    },
    "UserFacts": {
        "type": "object",
        "description": "What administrators recorded about the user, and what holds now.",
        "required": ["hold", "periods", "updated_at"],
        "properties": {
            "hold": {
                "type": ["object", "null"],
                "description": "What holds at the fleet's stream time (null: nothing).",
                "required": ["state", "since", "until", "reason", "by", "text"],
                "properties": {
                    "state": {"type": "string", "enum": ["on_leave", "deactivated"]},
                    "since": {"type": "string", "format": "date-time"},
                    "until": _TIME,
                    "reason": {"type": "string"},
                    "by": {"type": "string"},
                    "text": {"type": "string"},
                },
            },
            "periods": {
                "type": "array",
                "description": "Every leave and deactivation, oldest first.",
                "items": {
                    "type": "object",
                    "required": ["kind", "start"],
                    "properties": {
                        "kind": {"type": "string", "enum": ["leave", "deactivated"]},
                        "start": {"type": "string", "format": "date-time"},
                        "end": _TIME,
                        "reason": {"type": "string"},
                        "actor": {"type": "string"},
                    },
                },
            },
            "updated_at": _TIME,
        },
    },
    "UserActionAccepted": {
        "type": "object",
        "required": ["accepted", "effective_at", "facts"],
        "properties": {
            "accepted": {"type": "boolean"},
            "effective_at": {"type": "string", "format": "date-time"},
            "facts": _ref("UserFacts"),
        },
    },
    "KnownDevice": {
        "type": "object",
        "description": "A device known only from commands sent before its first report.",
        "required": ["device_id", "reporting", "status"],
        "properties": {
            "device_id": {"type": "string"},
            "reporting": {"type": "boolean", "const": False},
            "status": {"type": "string"},
            "deactivated": {"type": "boolean"},
            "snoozed_until": _TIME,
            "replaced_by": {"type": ["string", "null"]},
            "first_seen": {"type": "string", "format": "date-time"},
        },
    },
    "FleetSummary": {
        "type": "object",
        "required": ["totals", "orgs", "view"],
        "properties": {
            "totals": {"type": "object"},
            "orgs": {"type": "array", "items": {"type": "object"}},
            "view": _ref("View"),
        },
    },
    "PolicyChange": {
        "type": "object",
        "description": "The org_policy/1 fields to set; org_id and updated_at come from the API.",
        "properties": {
            "connection_warning_days": {"type": "number", "exclusiveMinimum": 0},
            "connection_critical_days": {"type": "number", "exclusiveMinimum": 0},
            "backup_warning_days": {"type": "number", "exclusiveMinimum": 0},
            "backup_critical_days": {"type": "number", "exclusiveMinimum": 0},
            "completion_warning_days": {"type": "number", "exclusiveMinimum": 0},
            "completion_critical_days": {"type": "number", "exclusiveMinimum": 0},
            "online_window_minutes": {"type": "number", "exclusiveMinimum": 0},
            "minimum_app_version": {"type": ["string", "null"]},
            "reminder_hours": {"type": ["number", "null"]},
            "recipients": {
                "type": "array",
                "maxItems": 100,
                "items": {
                    "type": "object",
                    "required": ["channel", "target"],
                    "properties": {
                        "channel": {"type": "string", "enum": sorted(c.name for c in CHANNELS)},
                        "target": {"type": "string", "maxLength": 2048},
                    },
                },
                "description": "Where the org's alerts go, a channel and its target there: "
                + "; ".join(f"{c.name} ({c.target.what})" for c in CHANNELS)
                + "; a target the notifier could not deliver to is refused with a 400 naming "
                "it.",
            },
            "alert_emails": {
                "type": "array",
                "items": {"type": "string", "maxLength": 320},
                "description": "The earlier form of email recipients, read as recipients; "
                "email addresses (local@domain, no whitespace or control characters).",
            },
            "webhook_urls": {
                "type": "array",
                "items": {"type": "string", "maxLength": 2048},
                "description": "The earlier form of webhook recipients, read as recipients; "
                "http(s) URLs with a host.",
            },
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["accepted"],
        "properties": {
            "accepted": {"type": "boolean"},
            "policy": {"type": "object"},
            "command": {"type": "object"},
            "held": {
                "type": "boolean",
                "description": "The device has not reported yet: the command waits for it.",
            },
            "message": {"type": "string"},
        },
    },
}


def openapi_document() -> dict[str, Any]:
    document = _document()
    # The worker passes every request to its report reader, which may be (re)starting.
    unavailable = _json(
        _ref("Error"),
        "The worker's report reader is starting; try again after `Retry-After` seconds.",
    )
    # With any token configured, every route needs one (agents/report/access.py).
    unauthorized = _json(
        _ref("Error"),
        "A token is configured on this worker and the request has none, or a wrong one.",
    )
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["responses"]["503"] = unavailable
            operation["responses"].setdefault("401", unauthorized)
            # A worker with no token at all answers without one.
            operation.setdefault("security", [{"bearer": []}, {}])
    return document


def _document() -> dict[str, Any]:
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
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/api/summary": {
                "get": {
                    "summary": "Device counts per org and state",
                    "responses": {"200": _json(_ref("FleetSummary"), "The fleet.")},
                }
            },
            "/api/devices": {
                "get": {
                    "summary": "The device status report: filter, sort, page",
                    "parameters": _FILTERS + _PAGING,
                    "responses": {
                        "200": _json(_ref("DevicePage"), "One page of devices."),
                        **_errors(400),
                    },
                }
            },
            "/api/devices.csv": {
                "get": {
                    "summary": "The device status report as a CSV download (every match)",
                    "parameters": _FILTERS,
                    "responses": {
                        "200": {
                            "description": (
                                "CSV with a header row. A text cell that would start a "
                                "spreadsheet formula (=, +, -, @, tab, CR) is written after "
                                "a single quote."
                            ),
                            "content": {"text/csv": {"schema": {"type": "string"}}},
                        },
                        **_errors(400),
                    },
                }
            },
            "/api/devices/{device_id}": {
                "get": {
                    "summary": "One device: destinations, daily windows, open alerts, history",
                    "parameters": [_path_param("device_id", "The device.")],
                    "responses": {
                        "200": _json(
                            {"oneOf": [_ref("DeviceDetail"), _ref("KnownDevice")]},
                            "The device (or one known only from commands sent before "
                            "its first report).",
                        ),
                        **_errors(404),
                    },
                }
            },
            "/api/users/{user_id}": {
                "get": {
                    "summary": "A user: the worst of their active devices, and their facts",
                    "parameters": [_path_param("user_id", "The user.")],
                    "responses": {
                        "200": _json(_ref("UserSummary"), "The user."),
                        **_errors(404),
                    },
                }
            },
            "/api/orgs/{org_id}/summary": {
                "get": {
                    "summary": "An org: counts per kind and state, most urgent devices first",
                    "parameters": [
                        _path_param("org_id", "The org."),
                        _query(
                            "top",
                            {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10},
                            "How many urgent devices to list.",
                        ),
                    ],
                    "responses": {
                        "200": _json(_ref("OrgSummary"), "The org."),
                        **_errors(400, 404),
                    },
                }
            },
            "/api/causes": {
                "get": {
                    "summary": "Every diagnosis code, with its one-line summary and action",
                    "description": (
                        "The codes a device row's `top_cause` and an alert's diagnosis "
                        "use, in the order the diagnosis knows them."
                    ),
                    "responses": {"200": _json(_ref("CauseCatalogue"), "The causes.")},
                }
            },
            "/api/orgs/{org_id}/policy": {
                "put": {
                    "summary": "Set the org's policy (published to the org-policies topic)",
                    "security": [{"bearer": []}],
                    "parameters": [_path_param("org_id", "The org.")],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("PolicyChange")}},
                    },
                    "responses": {
                        "202": _json(_ref("Accepted"), "Published."),
                        **_errors(400, 401, 403),
                    },
                }
            },
            "/api/devices/{device_id}/snooze": {
                "post": _command(
                    "Snooze the device's alerts (an extended leave)",
                    {
                        "type": "object",
                        "description": "Either `until` or `hours` (from the device's stream time).",
                        "properties": {
                            "until": {"type": "string", "format": "date-time"},
                            "hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 8760},
                            "reason": {"type": "string", "maxLength": 1024},
                        },
                    },
                )
            },
            "/api/devices/{device_id}/unsnooze": {"post": _command("End a snooze now")},
            "/api/devices/{device_id}/deactivate": {
                "post": _command("Deactivate the device: its open alerts resolve")
            },
            "/api/devices/{device_id}/reactivate": {"post": _command("Reactivate the device")},
            "/api/users/{user_id}/leave": {
                "post": _user_action(
                    "Put the user on leave until a date: their devices alert on nothing "
                    "until then, then from their true state",
                    {
                        "type": "object",
                        "required": ["until"],
                        "properties": {
                            "until": {"type": "string", "format": "date-time"},
                            "reason": {"type": "string", "maxLength": 1024},
                        },
                    },
                )
            },
            "/api/users/{user_id}/leave/end": {"post": _user_action("End the user's leave now")},
            "/api/users/{user_id}/deactivate": {
                "post": _user_action(
                    "Deactivate the user (they left the organization): their devices' open "
                    "alerts resolve, and no new ones open"
                )
            },
            "/api/users/{user_id}/reactivate": {
                "post": _user_action(
                    "Reactivate the user: their devices alert again from their true state"
                )
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1.")},
                }
            },
        },
    }
