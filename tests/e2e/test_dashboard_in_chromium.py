"""The dashboard in a real headless Chromium (Debian's), against a worker fed by the
simulator: tiles and rows agree with the API, bar colours follow the console's rule,
filters work, a click opens the device with its destinations, chart and diagnosis;
percentages, sizes and diagnosis codes read as a person reads them.

The worker has tokens, as a production one does: each page signs in through the
dashboard's login form first; the last tests try the form itself, a wrong token, a new
browser session and a token rotated away. Every page runs under the dashboard's
Content-Security-Policy, and a violation fails the test.

Screenshots go to `var/test-artifacts/` (or `BACKUPWATCH_TEST_ARTIFACTS`);
`make screenshot` writes the README's picture, docs/dashboard.png, from the fleet page.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.api_harness import END, TOKEN, VIEWER, Fed, call, fed_worker, until
from tests.kafka_harness import REPO

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("BACKUPWATCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("BACKUPWATCH_TEST_ARTIFACTS", REPO / "var" / "test-artifacts"))
# Where `make screenshot` wants the README's picture of the fleet page.
SCREENSHOT = os.environ.get("BACKUPWATCH_SCREENSHOT")

# The bar colours of app.css: green, yellow, red.
COLOURS = {
    "ok": "rgb(46, 157, 68)",
    "warning": "rgb(224, 168, 0)",
    "critical": "rgb(212, 58, 47)",
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fed(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fed]:
    async with fed_worker(kafka_bootstrap, tmp_path_factory.mktemp("dashboard")) as run:
        yield run


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium (.ci/run does)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def open_page(browser: Browser) -> tuple[BrowserContext, Page, list[str]]:
    """A page of a new browser session, and the JavaScript errors and Content-Security-
    Policy violations it meets."""
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return context, page, errors


async def sign_in(page: Page, web: str, token: str) -> None:
    """Open the dashboard and sign in through its form."""
    await page.goto(f"{web}/")
    await page.wait_for_selector("#login-form", state="visible")
    await page.fill('#login-form input[name="token"]', token)
    await page.click('#login-form button[type="submit"]')


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser, fed: Fed) -> AsyncIterator[Page]:
    context, page, errors = await open_page(browser)
    try:
        await sign_in(page, fed.worker.web, VIEWER)
        await page.wait_for_selector("#devices tbody tr")
        yield page
    finally:
        await context.close()
    assert not errors, f"JavaScript errors or CSP violations on the page: {errors}"


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


async def rows_on_page(page: Page) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await page.eval_on_selector_all(
        "#devices tbody tr",
        """rows => rows.map(tr => {
            const bar = tr.querySelector('.bar');
            const fill = bar.querySelector('.fill');
            const cause = tr.querySelector('.cause-name');
            return {
                device_id: tr.dataset.deviceId,
                worst_state: tr.dataset.worstState,
                backup_state: bar.dataset.state,
                percent: Number(bar.dataset.percent),
                label: bar.querySelector('.pct').textContent,
                cause: cause ? [cause.dataset.cause, cause.textContent, cause.title] : null,
                colour: getComputedStyle(fill).backgroundColor,
                width: fill.getBoundingClientRect().width / bar.getBoundingClientRect().width,
            };
        })""",
    )
    return rows


def cause_words(code: str) -> str:
    """A diagnosis code as the dashboard writes it."""
    words = code.replace("_", " ").replace("cpu", "CPU")
    return words[0].upper() + words[1:]


def percent_label(percent: float) -> str:
    """Completed % as the dashboard writes it: one decimal, cut rather than rounded."""
    return "100%" if percent >= 100 else f"{math.floor(percent * 10) / 10:.1f}%"


async def test_a_backup_short_of_100_percent_never_reads_100(fed: Fed, page: Page) -> None:
    await page.goto(f"{fed.worker.web}/")
    await page.wait_for_selector("#devices tbody tr")
    percents = [99.96, 99.99, 99.9, 100, 80, 35.55, 0.04, 0]
    labels = await page.evaluate(
        "ps => ps.map(p => progressBar('ok', p).querySelector('.pct').textContent)", percents
    )

    assert labels == ["99.9%", "99.9%", "99.9%", "100%", "80.0%", "35.5%", "0.0%", "0.0%"]
    assert labels == [percent_label(p) for p in percents]


async def test_evidence_figures_read_with_units_and_separators(fed: Fed, page: Page) -> None:
    await page.goto(f"{fed.worker.web}/")
    await page.wait_for_selector("#devices tbody tr")
    figures = [
        ["todo_bytes", 36_649_989_611],
        ["bytes_sent_14d", 512],
        ["locked_files", 12_345],
        ["estimated_hours_to_finish", 255.234],
        ["session_state", "sending"],
        ["last_heartbeat", "2026-11-03T03:57:35+00:00"],
        ["last_completed", "2026-11-03T03:57:35.250000+00:00"],
        ["local_time", "2026-11-03T03:57:35+02:00"],
        ["newer_device_last_seen", None],
        ["online", False],
        ["reachable", ["cloud-eu", "nas-office"]],
        ["percent_complete", 99.996],
    ]
    shown = await page.evaluate("fs => fs.map(([k, v]) => evidenceValue(k, v))", figures)

    assert shown == [
        "34.1 GiB",
        "512 B",
        "12,345",
        "255.23",
        "sending",
        "2026-11-03 03:57 UTC",
        "2026-11-03 03:57 UTC",
        "2026-11-03T03:57:35+02:00",
        "—",
        "no",
        "cloud-eu, nas-office",
        "99.9%",
    ]


async def tile(page: Page, name: str) -> int:
    text = await page.inner_text(f'.tile[data-tile="{name}"] .n')
    return int(text)


async def test_the_fleet_page_agrees_with_the_api(fed: Fed, page: Page) -> None:
    await page.goto(f"{fed.worker.web}/")
    await page.wait_for_selector("#devices tbody tr")
    await page.wait_for_selector('.tile[data-tile="critical"]')
    await shot(page, "fleet")
    if SCREENSHOT:
        await page.screenshot(path=SCREENSHOT)

    _, summary, _ = call(fed.worker, "/api/summary")
    for state in ("critical", "warning", "ok"):
        assert await tile(page, state) == summary["totals"][state], state
    assert await tile(page, "devices") == summary["totals"]["devices"]

    _, api_page, _ = call(fed.worker, "/api/devices?limit=100")
    _, catalogue, _ = call(fed.worker, "/api/causes")
    causes = {c["code"]: c for c in catalogue["causes"]}
    shown = await rows_on_page(page)
    assert [r["device_id"] for r in shown] == [d["device_id"] for d in api_page["devices"]]
    by_id = {d["device_id"]: d for d in api_page["devices"]}
    for row in shown:
        device = by_id[row["device_id"]]
        assert row["worst_state"] == device["worst_state"]
        # The console's rule: the colour is the backup freshness state; the fill, completed %.
        assert row["backup_state"] == device["alert_states"]["backup"]
        assert row["colour"] == COLOURS[row["backup_state"]], row
        assert row["percent"] == pytest.approx(device["percent_complete"])
        assert row["width"] == pytest.approx(device["percent_complete"] / 100, abs=0.02)
        assert row["label"] == percent_label(device["percent_complete"]), row
        # The top cause in words, its summary and action on hover.
        if device["top_cause"] is None:
            assert row["cause"] is None
        else:
            code = device["top_cause"]
            cause = causes[code]
            assert row["cause"] == [
                code,
                cause_words(code),
                f"{cause['summary']}. {cause['action']}",
            ]
    assert {r["colour"] for r in shown} >= {COLOURS["ok"]}
    assert any(r["cause"] for r in shown)
    total = await page.get_attribute("#count", "data-total")
    assert total is not None and int(total) == api_page["total"]


async def test_filtering_critical_devices_shows_exactly_those(fed: Fed, page: Page) -> None:
    await page.goto(f"{fed.worker.web}/")
    await page.wait_for_selector("#devices tbody tr")
    await page.click('.tile[data-tile="critical"]')
    _, critical, _ = call(fed.worker, "/api/devices?state=critical&limit=1000")
    await page.wait_for_function(
        "n => document.querySelector('#count').dataset.total === String(n)", arg=critical["total"]
    )
    shown = await rows_on_page(page)
    assert {r["device_id"] for r in shown} == {d["device_id"] for d in critical["devices"]}
    assert all(r["worst_state"] == "critical" for r in shown)
    await shot(page, "critical")

    await page.fill('input[name="q"]', shown[0]["device_id"])
    await page.wait_for_function("() => document.querySelector('#count').dataset.total === '1'")
    assert [r["device_id"] for r in await rows_on_page(page)] == [shown[0]["device_id"]]


async def test_a_state_tile_lists_as_many_devices_as_it_counts(fed: Fed, page: Page) -> None:
    # The tiles leave deactivated devices out (the simulated fleet has some).
    await page.goto(f"{fed.worker.web}/")
    await page.wait_for_selector("#devices tbody tr")
    await page.wait_for_selector('.tile[data-tile="ok"]')
    _, summary, _ = call(fed.worker, "/api/summary")

    for state in ("ok", "warning", "critical"):
        counted = await tile(page, state)
        assert counted == summary["totals"][state], state
        await page.click(f'.tile[data-tile="{state}"]')
        await page.wait_for_function(
            "([state, n]) => location.hash.includes(`state=${state}`)"
            " && document.querySelector('#count').dataset.total === String(n)",
            arg=[state, counted],
        )
        assert await page.input_value('select[name="deactivated"]') == "false"


async def test_a_column_header_sorts_the_table_and_a_second_click_turns_it_round(
    fed: Fed, page: Page
) -> None:
    await page.goto(f"{fed.worker.web}/")
    await page.wait_for_selector("#devices tbody tr")

    for order, arrow in (("desc", "descending"), ("asc", "ascending")):
        await page.click('#devices th[data-sort="days_inactive"]')
        _, expected, _ = call(fed.worker, f"/api/devices?sort=days_inactive&order={order}")
        ids = [d["device_id"] for d in expected["devices"]]
        await page.wait_for_function(
            "ids => [...document.querySelectorAll('#devices tbody tr')]"
            ".map(tr => tr.dataset.deviceId).join() === ids.join()",
            arg=ids,
        )
        sorted_by = await page.eval_on_selector_all(
            "#devices th[aria-sort]", "ths => ths.map(th => [th.dataset.sort, th.ariaSort])"
        )
        assert sorted_by == [["days_inactive", arrow]]
        assert await page.input_value('select[name="sort"]') == "days_inactive"
        assert await page.input_value('select[name="order"]') == order

    # The state column says which kinds the worst state comes from.
    states = await page.eval_on_selector_all(
        "#devices tbody tr td:nth-child(4)", "tds => tds.map(td => td.title)"
    )
    by_id = {d["device_id"]: d for d in expected["devices"]}
    for device_id, title in zip(ids, states, strict=True):
        kinds = by_id[device_id]["alert_states"]
        assert title == " · ".join(
            f"{k} {kinds[k]}" for k in ("connection", "backup", "completion")
        )


async def test_the_filters_are_in_the_address_and_come_back_after_a_device(
    fed: Fed, page: Page
) -> None:
    query = "state=critical&sort=days_inactive&order=asc"
    await page.goto(f"{fed.worker.web}/#/?{query}")
    _, expected, _ = call(fed.worker, f"/api/devices?{query}")
    ids = [d["device_id"] for d in expected["devices"]]
    assert ids
    rows = "[...document.querySelectorAll('#devices tbody tr')].map(tr => tr.dataset.deviceId)"
    await page.wait_for_function(f"ids => {rows}.join() === ids.join()", arg=ids)
    assert await page.input_value('select[name="state"]') == "critical"
    assert await page.input_value('select[name="sort"]') == "days_inactive"
    assert await page.input_value('select[name="order"]') == "asc"

    # A filter changed in the page is written back to the address.
    await page.select_option('select[name="kind"]', "connection")
    await page.wait_for_function("() => location.hash.includes('kind=connection')")
    hash_ = await page.evaluate("location.hash")
    assert hash_ == f"#/?{query.replace('&sort', '&kind=connection&sort')}"
    _, expected, _ = call(fed.worker, f"/api/devices?{hash_[3:]}")
    ids = [d["device_id"] for d in expected["devices"]]
    await page.wait_for_function(f"ids => {rows}.join() === ids.join()", arg=ids)

    # A device and back: the same filters, the same rows.
    if ids:
        await page.click(f'#devices tbody tr[data-device-id="{ids[0]}"]')
        await page.wait_for_selector(f'#device h2[data-device-id="{ids[0]}"]')
        await page.click("text=← all devices")
        await page.wait_for_function(f"ids => {rows}.join() === ids.join()", arg=ids)
        assert await page.evaluate("location.hash") == hash_
        assert await page.input_value('select[name="kind"]') == "connection"


async def test_clicking_a_device_opens_its_details_and_diagnosis(fed: Fed, page: Page) -> None:
    _, critical, _ = call(fed.worker, "/api/devices?state=critical&limit=1")
    device_id = critical["devices"][0]["device_id"]
    _, device, _ = call(fed.worker, f"/api/devices/{device_id}")

    await page.goto(f"{fed.worker.web}/")
    await page.click('.tile[data-tile="critical"]')
    await page.wait_for_selector(f'#devices tbody tr[data-device-id="{device_id}"]')
    await page.click(f'#devices tbody tr[data-device-id="{device_id}"]')
    await page.wait_for_selector(f'#device h2[data-device-id="{device_id}"]')
    assert page.url.endswith(f"#/devices/{device_id}")

    alerts = await page.eval_on_selector_all(
        "#device .alert", "cards => cards.map(c => [c.dataset.kind, c.dataset.state])"
    )
    expected = sorted((a["kind"], a["state"]) for a in device["open_alerts"])
    assert sorted(map(tuple, alerts)) == expected
    causes = await page.eval_on_selector_all("#device .cause", "cs => cs.map(c => c.dataset.cause)")
    assert causes[0] == device["open_alerts"][0]["diagnosis"][0]["code"]
    # Each cause in words, as in the table, with its summary and its code.
    names = await page.eval_on_selector_all(
        "#device .cause", "cs => cs.map(c => c.querySelector('div').textContent)"
    )
    first = device["open_alerts"][0]["diagnosis"][0]
    assert names[0] == f"{cause_words(first['code'])} — {first['summary']} {first['code']}"
    # The evidence names the fields as the API does; sizes read with their unit.
    evidence = await page.eval_on_selector_all(
        "#device .cause .evidence", "es => es.map(e => e.textContent)"
    )
    diagnosed = [c for a in device["open_alerts"] for c in a["diagnosis"]]
    assert len(evidence) == len(diagnosed)
    for text, cause in zip(evidence, diagnosed, strict=True):
        for name, value in cause["evidence"].items():
            assert f"{name}: " in text
            if "bytes" in name and isinstance(value, int):
                assert re.search(rf"{name}: \d+(\.\d)? (B|KiB|MiB|GiB|TiB)\b", text), text
    destinations = await page.eval_on_selector_all(
        "#device .destination", "ds => ds.map(d => d.dataset.destination)"
    )
    assert destinations == [d["destination_id"] for d in device["destinations"]]
    # The chart shows the 14-day window: two bars a day, the days with data as the API has them.
    titles = await page.eval_on_selector_all(
        "#device .chart rect title", "ts => ts.map(t => t.textContent)"
    )
    assert len(titles) == 2 * 14
    chart_right, card_right = await page.eval_on_selector(
        "#device .chart",
        "svg => [svg, svg.closest('.card')].map(e => e.getBoundingClientRect().right)",
    )
    assert chart_right <= card_right, "the chart overflows its card"
    for day in device["daily"]:
        if day["date"] >= titles[0][:10]:
            assert f"{day['date']}: {day['heartbeats']} heartbeats" in titles
    await shot(page, "device")

    await page.click("text=← all devices")
    await page.wait_for_selector("#devices tbody tr")


# -- access -------------------------------------------------------------------------


async def login_shown(page: Page) -> bool:
    return await page.is_visible("#login-form") and not await page.is_visible("#fleet")


async def test_the_dashboard_asks_for_a_token_and_refuses_a_wrong_one(
    fed: Fed, browser: Browser
) -> None:
    context, page, errors = await open_page(browser)
    try:
        await page.goto(f"{fed.worker.web}/")
        await page.wait_for_selector("#login-form", state="visible")
        assert await login_shown(page)
        assert await page.locator("#devices tbody tr").count() == 0
        await shot(page, "login")

        await page.fill('#login-form input[name="token"]', "not-a-token")
        await page.click('#login-form button[type="submit"]')
        await page.wait_for_function(
            "() => document.querySelector('#login-error').textContent.includes('not accepted')"
        )
        assert await login_shown(page)
        assert await page.evaluate("sessionStorage.length") == 0

        # The admin token reads too.
        await page.fill('#login-form input[name="token"]', TOKEN)
        await page.click('#login-form button[type="submit"]')
        await page.wait_for_selector("#devices tbody tr")
        assert not await page.is_visible("#login-form")
        _, summary, _ = call(fed.worker, "/api/summary")
        await page.wait_for_selector('.tile[data-tile="devices"]')
        assert await tile(page, "devices") == summary["totals"]["devices"]

        # Kept for the browser session: a reload asks nothing.
        await page.reload()
        await page.wait_for_selector("#devices tbody tr")
        assert not await page.is_visible("#login-form")
    finally:
        await context.close()
    assert not errors, errors


async def test_a_new_browser_session_asks_again(fed: Fed, browser: Browser) -> None:
    first, page, errors = await open_page(browser)
    second, other, other_errors = await open_page(browser)
    try:
        await sign_in(page, fed.worker.web, VIEWER)
        await page.wait_for_selector("#devices tbody tr")

        await other.goto(f"{fed.worker.web}/#/devices/{fed.fleet.devices[0].device_id}")
        await other.wait_for_selector("#login-form", state="visible")
        assert not await other.is_visible("#device h2")
    finally:
        await first.close()
        await second.close()
    assert not errors and not other_errors, errors + other_errors


async def test_the_csv_download_carries_the_token(fed: Fed, page: Page) -> None:
    await page.select_option('select[name="state"]', "critical")
    await page.wait_for_function("() => location.hash.includes('state=critical')")
    async with page.expect_download() as download_info:
        await page.click("#csv")
    download = await download_info.value
    text = Path(await download.path()).read_text(encoding="utf-8")

    _, critical, _ = call(fed.worker, "/api/devices?state=critical&limit=1000")
    lines = text.strip().splitlines()
    assert lines[0].startswith("Org,User,Device,"), lines[0]
    assert len(lines) - 1 == critical["total"]


async def test_a_token_rotated_away_ends_the_session(fed: Fed, page: Page) -> None:
    rotated = "rotated-viewer-token"
    fed.viewer_tokens.write_text(f"{rotated}\n")
    try:
        # The dashboard refreshes every 5 s; the worker reads the changed file within 1 s.
        await page.wait_for_selector("#login-form", state="visible", timeout=60_000)
        assert "session has ended" in await page.inner_text("#login-error")
        assert await page.evaluate("sessionStorage.length") == 0

        await page.fill('#login-form input[name="token"]', rotated)
        await page.click('#login-form button[type="submit"]')
        await page.wait_for_selector("#devices tbody tr")
        assert not await page.is_visible("#login-form")
    finally:
        fed.viewer_tokens.write_text(f"{VIEWER}\n")
        await until(lambda: call(fed.worker, "/api/summary")[0] == 200, "VIEWER back")


# Last: it changes the fleet (a user on leave, a tick after the simulation's end).
async def test_the_user_view_shows_a_leave_and_the_devices_it_holds(fed: Fed, page: Page) -> None:
    _, critical, _ = call(fed.worker, "/api/devices?state=critical&limit=1")
    user_id = critical["devices"][0]["user_id"]
    leave_until = END + timedelta(days=30)
    status, answer, _ = call(
        fed.worker,
        f"/api/users/{user_id}/leave",
        method="POST",
        body={"until": leave_until.isoformat(), "reason": "parental leave"},
        token=TOKEN,
    )
    assert status == 202, answer
    # The next tick decides the user's devices under the leave.
    await fed.pipeline.tick(END + timedelta(minutes=5))

    def held() -> bool:
        _, user, _ = call(fed.worker, f"/api/users/{user_id}")
        return all(d["hold"] is not None for d in user["device_list"])

    await until(held, f"{user_id}'s devices to be held by the leave")
    text = f"on leave until {leave_until.date()}, by user"

    await page.goto(f"{fed.worker.web}/#/users/{user_id}")
    await page.wait_for_selector(f'#user h2[data-user-id="{user_id}"]')
    assert await page.text_content("#user .user-hold") == (
        f"on leave until {leave_until.date()} (parental leave)"
    )
    holds = await page.eval_on_selector_all(
        "#user tbody tr[data-device-id] .hold", "hs => hs.map(h => h.textContent.trim())"
    )
    assert holds and set(holds) == {text}
    await shot(page, "user")
    # From the fleet's row to the user view, by the user's link.
    await page.goto(f"{fed.worker.web}/#/?q={user_id}")
    await page.wait_for_selector(f"#devices tbody tr a[href='#/users/{user_id}']")
    await page.click(f"#devices tbody tr a[href='#/users/{user_id}']")
    await page.wait_for_selector(f'#user h2[data-user-id="{user_id}"]')
