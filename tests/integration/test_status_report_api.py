"""The status report API of a real worker fed by the simulator: the whole fleet from any
worker, consistent with the alerts topic; filters, sorting, cursor paging, CSV; admin
writes published to the topics and taking effect."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from schemas.codec import decode_as
from schemas.models import OrgPolicy
from streams.kinds import worst
from tests.api_harness import TOKEN, Fed, call, fed_worker, until

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fed(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fed]:
    async with fed_worker(kafka_bootstrap, tmp_path_factory.mktemp("api")) as run:
        yield run


async def test_any_worker_lists_the_whole_fleet_consistent_with_the_alerts(fed: Fed) -> None:
    rows = fed.all_rows()
    assert sorted(r["device_id"] for r in rows) == sorted(d.device_id for d in fed.fleet.devices)
    for row in rows:
        assert row["alert_states"] == fed.levels(row["device_id"]), row["device_id"]
        assert row["worst_state"] == worst(row["alert_states"].values())
    # The simulated faults put some devices in every state.
    states = {r["worst_state"] for r in rows}
    assert states == {"ok", "warning", "critical"} or states >= {"ok", "critical"}


async def test_filters_select_exactly_the_matching_devices(fed: Fed) -> None:
    rows = {r["device_id"]: r for r in fed.all_rows()}
    critical = {d for d, r in rows.items() if r["worst_state"] == "critical"}
    assert critical
    assert {r["device_id"] for r in fed.all_rows("state=critical")} == critical
    backup_not_ok = {d for d, r in rows.items() if r["alert_states"]["backup"] != "ok"}
    assert {r["device_id"] for r in fed.all_rows("kind=backup")} == backup_not_ok
    offline = {d for d, r in rows.items() if not r["online"]}
    assert {r["device_id"] for r in fed.all_rows("online=false")} == offline
    stale = {d for d, r in rows.items() if r["days_inactive"] >= 3}
    assert {r["device_id"] for r in fed.all_rows("min_days_inactive=3")} == stale
    org = next(iter(rows.values()))["org_id"]
    assert {r["device_id"] for r in fed.all_rows(f"org={org}")} == {
        d for d, r in rows.items() if r["org_id"] == org
    }
    incomplete = {d for d, r in rows.items() if r["percent_complete"] < 50}
    assert {r["device_id"] for r in fed.all_rows("completed_below=50")} == incomplete


async def test_cursor_paging_walks_every_device_once_in_order(fed: Fed) -> None:
    for sort in ("days_inactive", "hostname", "last_connected", "worst_state"):
        for order in ("asc", "desc"):
            paged = fed.all_rows(f"sort={sort}&order={order}", limit=7)
            whole = fed.all_rows(f"sort={sort}&order={order}", limit=1000)
            assert [r["device_id"] for r in paged] == [r["device_id"] for r in whole]
            assert len({r["device_id"] for r in paged}) == len(fed.fleet.devices)
    by_days = fed.all_rows("sort=days_inactive&order=desc")
    days = [r["days_inactive"] for r in by_days]
    assert days == sorted(days, reverse=True)


async def test_the_csv_download_has_the_report_columns_and_every_match(fed: Fed) -> None:
    status, text, headers = call(fed.worker, "/api/devices.csv?state=critical")
    assert status == 200
    assert headers["Content-Type"].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(text)))
    critical = {r["device_id"] for r in fed.all_rows("state=critical")}
    assert {row["Device"] for row in table} == critical
    for column in (
        "Org",
        "User",
        "Destinations",
        "App version",
        "Online",
        "Completed %",
        "Last connected",
        "Last completed backup",
        "Last activity",
        "Selected bytes",
        "To do bytes",
        "Top diagnosis",
    ):
        assert column in table[0], column
    assert all(row["Alert state"] == "critical" for row in table)


async def test_a_device_shows_destinations_windows_and_diagnosed_open_alerts(fed: Fed) -> None:
    critical = fed.all_rows("state=critical")[0]
    status, device, _ = call(fed.worker, f"/api/devices/{critical['device_id']}")
    assert status == 200
    assert device["alert_states"] == fed.levels(critical["device_id"])
    assert device["destinations"] and device["daily"]
    assert device["open_alerts"], device
    for alert in device["open_alerts"]:
        assert alert["diagnosis"], alert
        cause = alert["diagnosis"][0]
        assert cause["code"] and cause["evidence"] and cause["action"]
    assert device["top_cause"] == critical["top_cause"]
    assert device["recent_transitions"]

    status, body, _ = call(fed.worker, "/api/devices/no-such-device")
    assert status == 404 and "no-such-device" in body["error"]


async def test_users_and_orgs_roll_up_their_devices(fed: Fed) -> None:
    rows = fed.all_rows()
    user = rows[0]["user_id"]
    status, body, _ = call(fed.worker, f"/api/users/{user}")
    assert status == 200
    mine = [r for r in rows if r["user_id"] == user]
    assert body["devices"] == len(mine)
    active = [r for r in mine if not r["deactivated"]]
    assert body["worst_state"] == worst(r["worst_state"] for r in active)

    org = rows[0]["org_id"]
    status, summary, _ = call(fed.worker, f"/api/orgs/{org}/summary")
    assert status == 200
    in_org = [r for r in rows if r["org_id"] == org and not r["deactivated"]]
    for level in ("ok", "warning", "critical"):
        assert summary["by_state"][level] == sum(r["worst_state"] == level for r in in_org)
    urgent = summary["most_urgent"]
    assert all(r["worst_state"] != "ok" for r in urgent)
    ranks = [{"critical": 0, "warning": 1}[r["worst_state"]] for r in urgent]
    assert ranks == sorted(ranks)
    assert call(fed.worker, "/api/orgs/no-such-org/summary")[0] == 404
    assert call(fed.worker, "/api/users/nobody")[0] == 404


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("state=bad", "state"),
        ("kind=disk", "kind"),
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("sort=shoe_size", "sort"),
        ("online=perhaps", "online"),
        ("completed_below=101", "completed_below"),
        ("min_days_inactive=x", "min_days_inactive"),
        ("cursor=garbage!", "cursor"),
        ("colour=red", "colour"),
    ],
)
async def test_bad_parameters_get_a_400_naming_them(fed: Fed, query: str, parameter: str) -> None:
    status, body, _ = call(fed.worker, f"/api/devices?{query}")
    assert status == 400
    assert body["parameter"] == parameter and body["error"]


async def test_admin_writes_need_the_bearer_token(fed: Fed) -> None:
    device = fed.all_rows()[0]["device_id"]
    status, body, headers = call(
        fed.worker, f"/api/devices/{device}/deactivate", method="POST", token=None
    )
    assert status == 401 and "WWW-Authenticate" in headers
    status, body, _ = call(fed.worker, f"/api/devices/{device}/deactivate", method="POST")
    assert status == 403 and "admin token" in body["error"], "a viewer token writes nothing"
    status, body, _ = call(
        fed.worker, f"/api/devices/{device}/deactivate", method="POST", token="wrong"
    )
    assert status == 401
    status, body, _ = call(
        fed.worker, "/api/orgs/o/policy", method="PUT", body={"backup_warning_days": 9}, token=""
    )
    assert status == 401


async def test_reads_through_the_worker_need_a_token_and_its_own_endpoints_do_not(
    fed: Fed,
) -> None:
    for path in ("/api/summary", "/api/devices?limit=1", "/api/devices.csv", "/api/causes"):
        status, body, headers = call(fed.worker, path, token=None)
        assert status == 401, path
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert call(fed.worker, path, token="wrong")[0] == 401, path
        assert call(fed.worker, path)[0] == 200, path
        assert call(fed.worker, path, token=TOKEN)[0] == 200, path
    for path in ("/metrics", "/healthz"):
        assert call(fed.worker, path, token=None)[0] == 200, path
    assert call(fed.worker, "/readyz", token=None)[0] in (200, 503)
    # The dashboard's files hold no fleet data; its headers come through the worker.
    status, page, headers = call(fed.worker, "/", token=None)
    assert status == 200 and 'id="login-form"' in page
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


async def test_deactivating_a_device_resolves_its_alerts_through_the_topics(fed: Fed) -> None:
    target = fed.all_rows("state=critical")[-1]
    device = target["device_id"]
    status, body, _ = call(
        fed.worker,
        f"/api/devices/{device}/deactivate",
        method="POST",
        body={"reason": "left the company"},
        token=TOKEN,
    )
    assert status == 202, body
    assert body["command"]["action"] == "deactivate"

    def deactivated() -> bool:
        _, row, _ = call(fed.worker, f"/api/devices/{device}")
        return bool(row["deactivated"] and row["worst_state"] == "ok")

    await until(deactivated, f"{device} to show deactivated")
    alerts = await fed.pipeline.alerts()
    resolved = [
        a
        for a in alerts
        if a.device_id == device and a.transition == "resolved" and a.reason == "deactivated"
    ]
    assert resolved


async def test_snooze_and_policy_writes_are_validated_and_published(fed: Fed) -> None:
    device = fed.all_rows()[0]["device_id"]
    bad = call(fed.worker, f"/api/devices/{device}/snooze", method="POST", body={}, token=TOKEN)
    assert bad[0] == 400 and bad[1]["parameter"] == "until"
    status, body, _ = call(
        fed.worker,
        f"/api/devices/{device}/snooze",
        method="POST",
        body={"hours": 48, "reason": "parental leave"},
        token=TOKEN,
    )
    assert status == 202, body

    def snoozed() -> bool:
        _, page, _ = call(fed.worker, f"/api/devices?snoozed=true&q={device}")
        return any(r["device_id"] == device for r in page["devices"])

    await until(snoozed, f"{device} to show snoozed")

    org = fed.all_rows()[0]["org_id"]
    status, body, _ = call(
        fed.worker,
        f"/api/orgs/{org}/policy",
        method="PUT",
        body={"backup_warning_days": 8, "backup_critical_days": 4},
        token=TOKEN,
    )
    assert status == 400 and "warning" in body["error"]
    status, body, _ = call(
        fed.worker,
        f"/api/orgs/{org}/policy",
        method="PUT",
        body={"backup_warnnig_days": 2},
        token=TOKEN,
    )
    assert status == 400 and body["parameter"] == "backup_warnnig_days"
    status, body, _ = call(
        fed.worker,
        f"/api/orgs/{org}/policy",
        method="PUT",
        body={"backup_warning_days": 2, "backup_critical_days": 4, "minimum_app_version": "99"},
        token=TOKEN,
    )
    assert status == 202, body
    records = await fed.pipeline.read("org-policies", settle=0.5)
    policies = [decode_as(r.value, OrgPolicy) for r in records]
    assert any(p.org_id == org and p.backup_warning_days == 2 for p in policies)

    def outdated() -> bool:
        _, summary, _ = call(fed.worker, f"/api/orgs/{org}/summary")
        return bool(summary["policy"] and summary["app_version_outdated"] > 0)

    await until(outdated, "the org summary to count devices below the new minimum version")
