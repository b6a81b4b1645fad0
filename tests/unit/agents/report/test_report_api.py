"""The status report API: what each route answers, from a fleet view filled from encoded
states, and what each admin write publishes; every answer is also checked against the
OpenAPI document (`served_report_api.check_against_document`)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from importlib import resources
from typing import Any

import pytest
import pytest_asyncio
from yarl import URL

from agents.kafka.topics import DEVICE_COMMANDS, ORG_POLICIES, USER_FACTS
from agents.report.api import ROUTES
from agents.report.download import CSV_COLUMNS
from schemas.codec import decode_as, encode
from schemas.models import DeviceCommand, OrgPolicy, UserFacts
from streams.diagnosis import CAUSES
from streams.pipeline import CLOCK_KEY_PREFIX
from streams.state import encode_state
from tests.unit.agents.report.served_report_api import (
    CLOCKS,
    READER,
    TOKEN,
    Served,
    check_against_document,
    serve,
    stuck_at_99,
)
from tests.unit.factories import DAY, T0, run


@pytest_asyncio.fixture
async def api() -> AsyncIterator[Served]:
    async for served in serve(TOKEN):
        yield served


@pytest_asyncio.fixture
async def api_without_token() -> AsyncIterator[Served]:
    async for served in serve(""):
        yield served


async def test_a_bad_parameter_is_named_in_the_error(api: Served) -> None:
    status, body = await api.call("GET", "/api/devices?state=purple")

    assert status == 400
    assert body["parameter"] == "state"
    assert "purple" in body["error"]


async def test_the_device_list_answers_from_the_fleet_view(api: Served) -> None:
    _, critical = await api.call("GET", "/api/devices?state=critical")
    _, completion = await api.call("GET", "/api/devices?kind=completion")
    _, org_1 = await api.call("GET", "/api/devices?org=org-1&sort=device_id&order=asc")

    assert [d["device_id"] for d in critical["devices"]] == ["dev-2"]
    # user-1's dev-1 first appeared six days after dev-2 went quiet, and is in use.
    assert critical["devices"][0]["top_cause"] == "replaced_by_newer_device"
    assert [d["device_id"] for d in completion["devices"]] == ["dev-3"]
    # dev-3 is judged at its own partition's clock, two days ahead of the others.
    assert completion["devices"][0]["stream_time"] == CLOCKS[2].isoformat()
    assert [d["device_id"] for d in org_1["devices"]] == ["dev-1", "dev-2"]
    assert org_1["view"] == {
        "caught_up": True,
        "devices": 3,
        "stream_time": CLOCKS[2].isoformat(),
    }


async def test_paging_through_the_api_lists_every_device_once(api: Served) -> None:
    seen: list[str] = []
    url = "/api/devices?sort=percent_complete&order=asc&limit=1"
    cursor = None
    for _ in range(5):
        _, page = await api.call("GET", url + (f"&cursor={cursor}" if cursor else ""))
        seen += [d["device_id"] for d in page["devices"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert cursor is None
    assert sorted(seen) == ["dev-1", "dev-2", "dev-3"]
    assert seen[0] == "dev-3"  # 99.6 %, the least complete


async def test_the_device_detail_lists_destinations_alerts_and_transitions(api: Served) -> None:
    _, device = await api.call("GET", "/api/devices/dev-2")

    assert device["device_id"] == "dev-2"
    assert [d["destination_id"] for d in device["destinations"]] == ["cloud"]
    assert {(a["kind"], a["state"]) for a in device["open_alerts"]} >= {("connection", "critical")}
    assert all(a["diagnosis"] for a in device["open_alerts"])
    transitions = device["recent_transitions"]
    # Silent for six days, decided once: straight to critical, and the backup to warning.
    assert {(t["kind"], t["from"], t["to"]) for t in transitions} == {
        ("connection", "ok", "critical"),
        ("backup", "ok", "warning"),
    }
    # Newest first.
    assert [t["at"] for t in transitions] == sorted((t["at"] for t in transitions), reverse=True)
    assert device["thresholds"]["connection"] == {"warning_days": 2.0, "critical_days": 5.0}


async def test_the_org_summary_carries_its_policy_and_counts(api: Served) -> None:
    _, org_1 = await api.call("GET", "/api/orgs/org-1/summary")
    _, org_2 = await api.call("GET", "/api/orgs/org-2/summary")

    assert org_1["by_state"] == {"ok": 1, "warning": 0, "critical": 1}
    assert [d["device_id"] for d in org_1["most_urgent"]] == ["dev-2"]
    assert org_1["policy"]["connection_warning_days"] == 2.0
    assert org_2["policy"] is None


async def test_the_cause_catalogue_explains_every_code_the_api_gives(api: Served) -> None:
    _, catalogue = await api.call("GET", "/api/causes")
    _, page = await api.call("GET", "/api/devices?limit=1000")
    details = [
        (await api.call("GET", f"/api/devices/{d['device_id']}"))[1] for d in page["devices"]
    ]

    known = {c["code"]: c for c in catalogue["causes"]}
    assert list(known) == list(CAUSES)
    given = {d["top_cause"] for d in page["devices"] if d["top_cause"]}
    diagnosed = [c for d in details for a in d["open_alerts"] for c in a["diagnosis"]]
    assert given and diagnosed
    assert given <= set(known)
    for cause in diagnosed:
        assert (cause["summary"], cause["action"]) == (
            known[cause["code"]]["summary"],
            known[cause["code"]]["action"],
        )


async def test_an_answer_is_given_again_only_while_nothing_it_reads_changed(
    api: Served,
) -> None:
    _, first = await api.call("GET", "/api/orgs/org-2/summary")
    _, again = await api.call("GET", "/api/orgs/org-2/summary")
    assert again == first

    # A new device's state.
    newcomer, _ = run([], now=T0 + 6 * DAY, state=stuck_at_99("dev-4"))
    api.view.take(b"dev-4", encode_state(newcomer), 2)
    _, with_newcomer = await api.call("GET", "/api/orgs/org-2/summary")
    assert with_newcomer["by_state"] != first["by_state"]
    assert sum(with_newcomer["by_state"].values()) == sum(first["by_state"].values()) + 1

    # A new policy of the org.
    api.worker.policies.apply_record(
        encode(OrgPolicy(org_id="org-2", updated_at=T0, connection_warning_days=1.0))
    )
    _, with_policy = await api.call("GET", "/api/orgs/org-2/summary")
    assert first["policy"] is None
    assert with_policy["policy"]["connection_warning_days"] == 1.0

    # A partition clock moving on: what depends on the time of asking changes.
    _, before = await api.call("GET", "/api/devices/dev-3")
    later = str(int((CLOCKS[2] + DAY).timestamp() * 1000))
    api.view.take(f"{CLOCK_KEY_PREFIX}2~0".encode(), f"{later};{later};{later};{later}".encode(), 2)
    _, after = await api.call("GET", "/api/devices/dev-3")
    assert after["days_inactive"] == before["days_inactive"] + 1


async def test_the_csv_download_has_the_report_columns(api: Served) -> None:
    response = await api.client.get(
        "/api/devices.csv?org=org-1&sort=device_id&order=asc", headers=READER
    )
    text = await response.text()

    assert response.status == 200
    assert response.content_type == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="devices-')
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == [title for _, title in CSV_COLUMNS]
    assert [line[2] for line in lines[1:]] == ["dev-1", "dev-2"]


# --- admin writes ---------------------------------------------------------------------

WRITES = [
    ("PUT", "/api/orgs/org-1/policy", {"connection_warning_days": 2}),
    ("POST", "/api/devices/dev-1/snooze", {"hours": 24}),
    ("POST", "/api/devices/dev-1/unsnooze", None),
    ("POST", "/api/devices/dev-1/deactivate", {"reason": "left"}),
    ("POST", "/api/devices/dev-1/reactivate", None),
    ("POST", "/api/users/user-1/leave", {"until": (T0 + 60 * DAY).isoformat()}),
    ("POST", "/api/users/user-1/leave/end", None),
    ("POST", "/api/users/user-1/deactivate", {"reason": "left"}),
    ("POST", "/api/users/user-1/reactivate", None),
]
DEVICE_WRITES = [w for w in WRITES if w[1].startswith("/api/devices/")]
WRITE_IDS = [f"{method} {path}" for method, path, _ in WRITES]


def template(path: str) -> str:
    """The documented path a concrete path of `WRITES` stands for."""
    if path.startswith("/api/orgs/"):
        return "/api/orgs/{org_id}/policy"
    if path.startswith("/api/users/"):
        return "/api/users/{user_id}/" + path.split("/", 4)[4]
    return "/api/devices/{device_id}/" + path.rsplit("/", 1)[1]


def test_every_write_route_is_exercised() -> None:
    writes = {(method, path) for method, path, _ in ROUTES if method != "GET"}
    assert writes == {(method, template(path)) for method, path, _ in WRITES}


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
async def test_writes_are_disabled_without_a_configured_token(
    api_without_token: Served, method: str, path: str, body: Any
) -> None:
    status, answer = await api_without_token.call(method, path, body, token="anything")

    assert status == 403
    assert "BACKUPWATCH_API_TOKEN" in answer["error"]
    check_against_document(template(path), method.lower(), status, answer)
    assert api_without_token.worker.producer.sent == []


@pytest.mark.parametrize("given", [None, "wrong-token", f"{TOKEN}x", ""])
@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
async def test_writes_need_the_right_bearer_token(
    api: Served, method: str, path: str, body: Any, given: str | None
) -> None:
    status, answer = await api.call(method, path, body, token=given)

    assert status == 401
    check_against_document(template(path), method.lower(), status, answer)
    assert api.worker.producer.sent == []


async def test_a_token_of_another_scheme_is_refused(api: Served) -> None:
    response = await api.client.post(
        "/api/devices/dev-1/deactivate", headers={"Authorization": f"Basic {TOKEN}"}
    )

    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.worker.producer.sent == []


async def test_a_policy_change_is_published_to_the_policy_topic(api: Served) -> None:
    change = {"connection_warning_days": 1.5, "connection_critical_days": 4, "reminder_hours": 24}

    status, answer = await api.call("PUT", "/api/orgs/org-7/policy", change, token=TOKEN)

    assert status == 202, answer
    check_against_document("/api/orgs/{org_id}/policy", "put", status, answer)
    (sent,) = api.worker.producer.sent
    assert (sent.topic, sent.key) == (api.worker.settings.topic(ORG_POLICIES), b"org-7")
    policy = decode_as(sent.value, OrgPolicy)
    assert policy.org_id == "org-7"
    assert (policy.connection_warning_days, policy.connection_critical_days) == (1.5, 4.0)
    assert policy.reminder_hours == 24.0
    assert policy.backup_warning_days is None
    assert answer["policy"]["org_id"] == "org-7"


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"connection_warning_dayz": 2}, "connection_warning_dayz"),
        ({"org_id": "org-9"}, "org_id"),
        ({"connection_warning_days": -1}, "connection_warning_days"),
        ({"connection_warning_days": "two"}, "connection_warning_days"),
        # Recipients the notifier could not deliver to.
        ({"webhook_urls": ["ftp://x"]}, "webhook_urls"),
        ({"webhook_urls": ["not a url"]}, "webhook_urls"),
        ({"alert_emails": ["not an email"]}, "alert_emails"),
        ({"alert_emails": ["it@acme.example\r\nBcc: all@acme.example"]}, "alert_emails"),
        ({"recipients": [{"channel": "sms", "target": "+1555"}]}, "recipients"),
        ({"recipients": [{"channel": "apprise", "target": "slack://T/B/C"}]}, "recipients"),
        ({"recipients": [{"channel": "email"}]}, "recipients"),
    ],
)
async def test_a_bad_policy_is_refused_naming_the_field(
    api: Served, body: dict[str, Any], parameter: str
) -> None:
    status, answer = await api.call("PUT", "/api/orgs/org-1/policy", body, token=TOKEN)

    assert status == 400
    assert answer["parameter"] == parameter
    check_against_document("/api/orgs/{org_id}/policy", "put", status, answer)
    assert api.worker.producer.sent == []


async def test_an_unusable_recipient_is_refused_naming_its_value(api: Served) -> None:
    body = {"alert_emails": ["it@acme.example", "not an email"]}

    status, answer = await api.call("PUT", "/api/orgs/org-1/policy", body, token=TOKEN)

    assert status == 400
    assert answer == {
        "error": "`alert_emails`[1] 'not an email' is not an email address",
        "parameter": "alert_emails",
    }
    assert api.worker.producer.sent == []


async def test_a_policy_naming_an_apprise_target_the_notifier_lacks_is_refused_naming_it(
    api: Served,
) -> None:
    body = {
        "recipients": [
            {"channel": "apprise", "target": "ops-slack"},
            {"channel": "apprise", "target": "ops-teams"},
        ]
    }

    status, answer = await api.call("PUT", "/api/orgs/org-1/policy", body, token=TOKEN)

    assert status == 400
    assert answer == {
        "error": "`recipients`[1] apprise target 'ops-teams' is not configured on the "
        "notifier (configured: ops-slack)",
        "parameter": "recipients",
    }
    check_against_document("/api/orgs/{org_id}/policy", "put", status, answer)
    assert api.worker.producer.sent == []


async def test_a_policy_naming_configured_targets_is_published_as_recipients(
    api: Served,
) -> None:
    body = {
        "recipients": [{"channel": "apprise", "target": "ops-slack"}],
        "alert_emails": ["it@acme.example"],
    }

    status, answer = await api.call("PUT", "/api/orgs/org-1/policy", body, token=TOKEN)

    assert status == 202, answer
    (sent,) = api.worker.producer.sent
    policy = decode_as(sent.value, OrgPolicy)
    assert [(r.channel, r.target) for r in policy.recipients] == [
        ("apprise", "ops-slack"),
        ("email", "it@acme.example"),
    ]


async def test_a_policy_whose_warning_comes_after_critical_is_refused(api: Served) -> None:
    body = {"backup_warning_days": 9, "backup_critical_days": 2}

    status, answer = await api.call("PUT", "/api/orgs/org-1/policy", body, token=TOKEN)

    assert status == 400
    check_against_document("/api/orgs/{org_id}/policy", "put", status, answer)
    assert api.worker.producer.sent == []


@pytest.mark.parametrize(
    ("action", "body", "expected"),
    [
        ("snooze", {"hours": 48, "reason": "parental leave"}, {"reason": "parental leave"}),
        ("snooze", {"until": (T0 + 30 * DAY).isoformat()}, {}),
        ("unsnooze", None, {}),
        ("deactivate", {"reason": "stolen laptop"}, {"reason": "stolen laptop"}),
        ("reactivate", {}, {}),
    ],
)
async def test_a_device_command_is_published_to_the_command_topic(
    api: Served, action: str, body: Any, expected: dict[str, Any]
) -> None:
    status, answer = await api.call("POST", f"/api/devices/dev-3/{action}", body, token=TOKEN)

    assert status == 202, answer
    check_against_document(f"/api/devices/{{device_id}}/{action}", "post", status, answer)
    (sent,) = api.worker.producer.sent
    assert (sent.topic, sent.key) == (api.worker.settings.topic(DEVICE_COMMANDS), b"dev-3")
    command = decode_as(sent.value, DeviceCommand)
    assert (command.device_id, command.action, command.actor) == ("dev-3", action, "api")
    # Ordered with the device's telemetry: issued at its own partition's clock.
    assert command.issued_at == CLOCKS[2]
    assert command.reason == expected.get("reason", "")
    if action == "snooze":
        hours = body.get("hours")
        until = CLOCKS[2] + timedelta(hours=hours) if hours else T0 + 30 * DAY
        assert command.snooze_until == until
    else:
        assert command.snooze_until is None
    assert answer["command"]["command_id"] == command.command_id


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({}, "until"),
        ({"hours": 1, "until": (T0 + 30 * DAY).isoformat()}, "until"),
        ({"hours": 0}, "hours"),
        ({"hours": "two"}, "hours"),
        ({"hours": True}, "hours"),
        ({"until": "tomorrow"}, "until"),
        ({"until": "2026-12-01T00:00:00"}, "until"),  # no offset
        ({"until": T0.isoformat()}, "until"),  # before the device's stream time
        # Past the years a record may hold; in UTC, past the years a datetime can hold.
        ({"until": "2200-01-01T00:00:00+00:00"}, "until"),
        ({"until": "9999-12-31T23:59:59-01:00"}, "until"),
        ({"hours": 1, "reason": 7}, "reason"),
    ],
)
async def test_a_bad_snooze_is_refused_naming_the_field(
    api: Served, body: dict[str, Any], parameter: str
) -> None:
    status, answer = await api.call("POST", "/api/devices/dev-1/snooze", body, token=TOKEN)

    assert status == 400, answer
    assert answer["parameter"] == parameter
    check_against_document("/api/devices/{device_id}/snooze", "post", status, answer)
    assert api.worker.producer.sent == []


@pytest.mark.parametrize(
    ("method", "path", "body"), DEVICE_WRITES, ids=[f"{m} {p}" for m, p, _ in DEVICE_WRITES]
)
async def test_a_command_for_a_device_not_seen_yet_is_held_for_its_first_report(
    api: Served, method: str, path: str, body: Any
) -> None:
    unseen = path.replace("dev-1", "dev-404")

    status, answer = await api.call(method, unseen, body, token=TOKEN)

    assert status == 202, answer
    assert answer["held"] is True and "first reports" in answer["message"]
    check_against_document(template(path), "post", status, answer)
    (sent,) = api.worker.producer.sent
    assert (sent.topic, sent.key) == (api.worker.settings.topic(DEVICE_COMMANDS), b"dev-404")


async def test_a_command_for_a_reserved_device_id_is_refused(api: Served) -> None:
    status, answer = await api.call("POST", "/api/devices/~clock~1/deactivate", None, token=TOKEN)

    assert status == 400 and "reserved" in answer["error"]
    check_against_document("/api/devices/{device_id}/deactivate", "post", status, answer)
    assert api.worker.producer.sent == []


async def test_a_device_known_only_from_commands_reads_as_not_yet_reporting(
    api: Served,
) -> None:
    from streams import DEFAULT_POLICY, apply
    from tests.unit.factories import command

    known, _ = apply(None, command("deactivate", T0, "dev-77"), T0, DEFAULT_POLICY)
    assert known is not None
    api.view.take(b"dev-77", encode_state(known), 1)

    status, answer = await api.call("GET", "/api/devices/dev-77")

    assert status == 200
    assert answer["reporting"] is False and answer["deactivated"] is True
    assert answer["status"] == "known, not yet reporting"
    check_against_document("/api/devices/{device_id}", "get", status, answer)
    # Not a row of the fleet: it has nothing to report.
    _, page = await api.call("GET", "/api/devices")
    assert "dev-77" not in {d["device_id"] for d in page["devices"]}


async def test_a_user_leave_is_published_and_shown_on_the_user_page(api: Served) -> None:
    until = (T0 + 60 * DAY).isoformat()
    status, answer = await api.call(
        "POST", "/api/users/user-1/leave", {"until": until, "reason": "parental"}, token=TOKEN
    )

    assert status == 202, answer
    check_against_document("/api/users/{user_id}/leave", "post", status, answer)
    (sent,) = api.worker.producer.sent
    assert (sent.topic, sent.key) == (api.worker.settings.topic(USER_FACTS), b"user-1")
    record = decode_as(sent.value, UserFacts)
    (period,) = record.periods
    # In effect from the fleet's stream time (the latest partition clock).
    assert (period.kind, period.start, period.end) == ("leave", CLOCKS[2], T0 + 60 * DAY)
    assert (period.reason, period.actor) == ("parental", "api")

    status, page = await api.call("GET", "/api/users/user-1")
    assert status == 200
    check_against_document("/api/users/{user_id}", "get", status, page)
    assert page["facts"]["hold"]["text"] == f"on leave until {(T0 + 60 * DAY).date()}"

    # Ended at once: the next action edits the record just published.
    status, answer = await api.call("POST", "/api/users/user-1/leave/end", None, token=TOKEN)
    assert status == 202, answer
    ended = decode_as(api.worker.producer.sent[-1].value, UserFacts)
    assert ended.periods == []  # ended the instant it began
    assert ended.updated_at > record.updated_at


@pytest.mark.parametrize(
    ("path", "body", "status", "parameter"),
    [
        ("leave", {}, 400, "until"),
        ("leave", {"until": "soon"}, 400, "until"),
        ("leave", {"until": T0.isoformat()}, 400, "until"),  # before the stream time
        ("leave", {"until": (T0 + 60 * DAY).isoformat(), "reason": 3}, 400, "reason"),
        ("leave/end", None, 409, None),  # not on leave
        ("reactivate", None, 409, None),  # not deactivated
    ],
)
async def test_a_user_action_that_cannot_be_taken_is_refused(
    api: Served, path: str, body: Any, status: int, parameter: str | None
) -> None:
    got, answer = await api.call("POST", f"/api/users/user-1/{path}", body, token=TOKEN)

    assert got == status, answer
    assert answer.get("parameter") == parameter
    check_against_document(f"/api/users/{{user_id}}/{path}", "post", got, answer)
    assert api.worker.producer.sent == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
async def test_a_body_that_is_not_a_json_object_is_refused(
    api: Served, method: str, path: str, body: Any, raw: bytes
) -> None:
    status, answer = await api.call(method, path, raw, token=TOKEN)

    assert status == 400
    assert "JSON" in answer["error"]
    check_against_document(template(path), method.lower(), status, answer)
    assert api.worker.producer.sent == []


# --- the dashboard --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type", "name"),
    [
        ("/", "text/html", "index.html"),
        ("/static/index.html", "text/html", "index.html"),
        ("/static/app.js", "text/javascript", "app.js"),
        ("/static/app.css", "text/css", "app.css"),
    ],
)
async def test_the_dashboard_is_served(
    api: Served, path: str, content_type: str, name: str
) -> None:
    response = await api.client.get(path, headers=READER)

    assert response.status == 200
    assert response.content_type == content_type
    assert (
        await response.read() == (resources.files("agents.report") / "static" / name).read_bytes()
    )


@pytest.mark.parametrize(
    "path",
    [
        "/static/../x",
        "/static/..%2Fagents%2Fapi.py",
        "/static/%2E%2E%2Fapi.py",
        "/static/.hidden",
        "/static/nope.js",
        "/static/__init__.py",
        "/static/",
        "/x",
    ],
)
async def test_other_files_are_not_found(api: Served, path: str) -> None:
    # Sent as written: no client-side clean-up of the path.
    response = await api.client.get(URL(path, encoded=True), headers=READER)

    assert response.status == 404
    assert b"def " not in await response.read()
