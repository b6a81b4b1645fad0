// The backupwatch dashboard: plain JavaScript against the worker's /api, no build step.
"use strict";

const REFRESH_MS = 5000;
const $ = (selector, root = document) => root.querySelector(selector);

const ui = {
  org: "",
  loaded: 100, // rows shown; a refresh reloads as many
  timer: null,
  causes: new Map(), // diagnosis code -> { summary, action } (GET /api/causes, once)
  fleet: "#/", // the fleet view's address with its filters, for "← all devices"
  signingIn: false, // a token was just entered: a 401 now means it is wrong
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    // Through the CSSOM: the Content-Security-Policy refuses style attributes.
    else if (key === "style") Object.assign(node.style, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// -- access: a worker with tokens configured answers /api/ only with one ------------
// The token is kept for the browser session (this tab, until it is closed); any 401
// clears it and brings back the login form.

const TOKEN_KEY = "backupwatch.token";

class NeedsToken extends Error {}

function authorization() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function request(path, accept) {
  const response = await fetch(path, { headers: { Accept: accept, ...authorization() } });
  if (response.status === 401) {
    const had = sessionStorage.getItem(TOKEN_KEY) !== null;
    sessionStorage.removeItem(TOKEN_KEY);
    // Requests under way together meet the same 401: the first one says why.
    if (had && ui.signingIn) showLogin("That token was not accepted.");
    else if (had) showLogin("Your session has ended: the token is no longer accepted. Sign in again.");
    else if ($("#login").hidden) showLogin("");
    throw new NeedsToken("a token is needed");
  }
  return response;
}

async function api(path) {
  const response = await request(path, "application/json");
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function showLogin(message) {
  clearTimeout(ui.timer);
  $("#fleet").hidden = true;
  $("#device").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message;
  $("#view-info").textContent = "sign in to see the fleet";
  $("#login-form").token.focus();
}

async function signIn(event) {
  event.preventDefault();
  const field = event.target.token;
  const token = field.value.trim();
  if (!token) {
    $("#login-error").textContent = "Enter a token.";
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  field.value = "";
  $("#login").hidden = true;
  ui.signingIn = true;
  await render();
  schedule();
}

// The CSV goes through fetch, so that it carries the token a plain link could not.
async function downloadCsv(event) {
  event.preventDefault();
  const href = event.currentTarget.getAttribute("href");
  let response;
  try {
    response = await request(href, "text/csv");
  } catch (err) {
    if (err instanceof NeedsToken) return;
    throw err;
  }
  if (!response.ok) {
    const body = await response.json();
    $("#count").textContent = `CSV: ${body.error || response.statusText}`;
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: "devices.csv" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function ago(iso, now) {
  if (!iso) return "never";
  const days = (Date.parse(now) - Date.parse(iso)) / 86400000;
  if (days < 1 / 24) return `${Math.max(0, Math.round(days * 1440))} min ago`;
  if (days < 1) return `${Math.round(days * 24)} h ago`;
  return `${days.toFixed(1)} d ago`;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// Completed % with one decimal, cut rather than rounded: a backup at 99.96 % reads
// 99.9 %, and only a finished one reads 100 %.
function percentLabel(pct) {
  return pct >= 100 ? "100%" : `${(Math.floor(pct * 10) / 10).toFixed(1)}%`;
}

// The console's rule: the bar's colour is the backup freshness state (green: new data
// within the warning threshold, yellow: warning, red: critical); its fill is completed %.
function progressBar(state, percent) {
  const pct = Math.max(0, Math.min(100, Number(percent) || 0));
  return el("div", {
    class: "bar",
    dataset: { state, percent: String(pct) },
    title: `backup ${state} · ${percentLabel(pct)} complete`,
  },
  el("div", { class: `fill ${state}`, style: { width: `${pct}%` } }),
  el("span", { class: "pct" }, percentLabel(pct)));
}

// A diagnosis code in words: "backup_interval_too_short" is "Backup interval too short".
function causeWords(code) {
  const words = code.replaceAll("_", " ").replace(/\bcpu\b/, "CPU");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// The table's diagnosis cell: the top cause in words, its summary and action on hover.
function causeCell(code) {
  if (!code) return "";
  const known = ui.causes.get(code);
  return el("span", {
    class: "cause-name",
    dataset: { cause: code },
    title: known ? `${known.summary}. ${known.action}` : code,
  }, causeWords(code));
}

// Only the hover text depends on it: without it (a reader restarting), the table still
// loads, and the next refresh asks again.
async function loadCauses() {
  if (ui.causes.size) return;
  try {
    const catalogue = await api("/api/causes");
    ui.causes = new Map(catalogue.causes.map((c) => [c.code, c]));
  } catch (err) {
    if (err instanceof NeedsToken) throw err;
    console.warn(`no diagnosis catalogue yet: ${err.message}`);
  }
}

function badge(state, text) {
  return el("span", { class: `badge ${state}` }, text || state);
}

function setInfo(view) {
  const parts = [`${view.devices} devices`];
  if (view.stream_time) parts.push(`stream time ${view.stream_time.replace("T", " ").slice(0, 16)} UTC`);
  if (!view.caught_up) parts.push("catching up…");
  $("#view-info").textContent = parts.join(" · ");
}

// -- the fleet ---------------------------------------------------------------------

// The fleet view's filters live in the address (`#/?state=critical&org=org-01`), so a
// link to them can be shared or bookmarked and the back button returns to them.
// The fields are the form's; a field's default is its first option ("" for the search).
function filterFields() {
  return [...$("#filters").elements].filter((field) => field.name);
}

function defaultOf(field) {
  return field.options ? field.options[0].value : "";
}

function fleetHash() {
  const params = filterParams();
  for (const field of filterFields()) {
    if (params.get(field.name) === defaultOf(field)) params.delete(field.name);
  }
  const query = params.toString();
  return query ? `#/?${query}` : "#/";
}

function applyHash() {
  const query = location.hash.startsWith("#/?") ? location.hash.slice(3) : "";
  const params = new URLSearchParams(query);
  for (const field of filterFields()) field.value = params.get(field.name) ?? defaultOf(field);
  ui.org = params.get("org") || "";
  const select = $("#org");
  if (ui.org && ![...select.options].some((o) => o.value === ui.org)) {
    select.append(el("option", { value: ui.org }, ui.org));
  }
  select.value = ui.org;
}

function filterParams() {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData($("#filters"))) {
    if (value) params.set(key, String(value));
  }
  if (ui.org) params.set("org", ui.org);
  return params;
}

function tile(label, n, cls, onclick) {
  return el("div", { class: `tile ${cls || ""}`, dataset: { tile: label }, onclick },
    el("div", { class: "n" }, n), el("div", { class: "label" }, label));
}

// A state tile counts the active devices of the org (or fleet) in that state, whatever
// the filters: its click lists exactly those.
function pickState(state) {
  const form = $("#filters");
  form.state.value = state;
  form.kind.value = "";
  form.online.value = "";
  form.deactivated.value = "false";
  form.q.value = "";
  loadDevices();
}

async function loadSummary() {
  const fleet = await api("/api/summary");
  setInfo(fleet.view);
  const select = $("#org");
  const known = new Set([...select.options].map((o) => o.value));
  for (const org of fleet.orgs) {
    if (!known.has(org.org_id)) select.append(el("option", { value: org.org_id }, org.org_id));
  }
  const tiles = $("#tiles");
  if (ui.org) {
    const s = await api(`/api/orgs/${encodeURIComponent(ui.org)}/summary`);
    tiles.replaceChildren(
      tile("devices", s.devices),
      tile("critical", s.by_state.critical, "critical", () => pickState("critical")),
      tile("warning", s.by_state.warning, "warning", () => pickState("warning")),
      tile("ok", s.by_state.ok, "ok", () => pickState("ok")),
      tile("online", s.online),
      tile("snoozed", s.snoozed),
      tile("deactivated", s.deactivated),
      tile("outdated app", s.app_version_outdated),
    );
  } else {
    const t = fleet.totals;
    tiles.replaceChildren(
      tile("devices", t.devices),
      tile("critical", t.critical, "critical", () => pickState("critical")),
      tile("warning", t.warning, "warning", () => pickState("warning")),
      tile("ok", t.ok, "ok", () => pickState("ok")),
      tile("deactivated", t.deactivated),
      tile("orgs", fleet.orgs.length),
    );
  }
}

function userLink(userId) {
  return el("a", {
    href: `#/users/${encodeURIComponent(userId)}`,
    onclick: (e) => e.stopPropagation(),
  }, userId);
}

function deviceRow(d) {
  return el("tr", {
    dataset: { deviceId: d.device_id, worstState: d.worst_state, backupState: d.alert_states.backup },
    onclick: () => { location.hash = `#/devices/${encodeURIComponent(d.device_id)}`; },
  },
  el("td", {}, el("div", {}, d.hostname || d.device_id), el("div", { class: "muted" }, d.device_id)),
  el("td", {}, userLink(d.user_id)),
  el("td", {}, d.org_id),
  el("td", { title: Object.keys(d.alert_states).map((k) => `${k} ${d.alert_states[k]}`).join(" · ") },
    d.deactivated ? badge("off", "deactivated") : badge(d.worst_state),
    // What holds the device and who said so: "on leave until 2027-03-01, by user".
    d.hold ? el("span", { class: "muted hold" }, ` ${d.hold.text}`) : "",
    d.online ? "" : el("span", { class: "muted" }, " offline")),
  el("td", {}, progressBar(d.alert_states.backup, d.percent_complete)),
  el("td", {}, ago(d.last_completed_backup, d.stream_time)),
  el("td", {}, ago(d.last_connected, d.stream_time)),
  el("td", {}, `${d.days_inactive} d`),
  el("td", {}, causeCell(d.top_cause)));
}

// The column headers sort as the Sort and Order fields do (a click on the sorted
// column turns its order round); the sorted one says so (aria-sort, and an arrow).
function markSorted() {
  const form = $("#filters");
  for (const th of document.querySelectorAll("#devices th[data-sort]")) {
    if (th.dataset.sort === form.sort.value) {
      th.setAttribute("aria-sort", form.order.value === "asc" ? "ascending" : "descending");
    } else {
      th.removeAttribute("aria-sort");
    }
  }
}

function sortBy(column) {
  const form = $("#filters");
  if (form.sort.value === column) form.order.value = form.order.value === "asc" ? "desc" : "asc";
  else {
    form.sort.value = column;
    form.order.value = column === "hostname" ? "asc" : "desc";
  }
  loadDevices();
}

// mode: "reset" (first page), "refresh" (as many rows as shown), "more" (the next page).
async function loadDevices(mode = "reset") {
  markSorted();
  ui.fleet = fleetHash();
  if (location.hash !== ui.fleet) history.replaceState(null, "", ui.fleet);
  const params = filterParams();
  $("#csv").href = `/api/devices.csv?${params}`;
  const tbody = $("#devices tbody");
  const more = mode === "more" && ui.cursor;
  if (more) {
    params.set("cursor", ui.cursor);
    params.set("limit", "100");
  } else {
    const rows = mode === "refresh" ? ui.loaded : 100;
    params.set("limit", String(Math.min(1000, Math.max(100, rows))));
  }
  const page = await api(`/api/devices?${params}`);
  setInfo(page.view);
  const rows = page.devices.map(deviceRow);
  if (more) tbody.append(...rows); else tbody.replaceChildren(...rows);
  ui.cursor = page.next_cursor;
  ui.loaded = tbody.children.length;
  $("#count").textContent = `${page.total} matching devices, ${ui.loaded} shown`;
  $("#count").dataset.total = String(page.total);
  $("#more").hidden = !page.next_cursor;
}

// -- one device --------------------------------------------------------------------

// The 14-day window ending on the stream time's day; days with no record are zeros.
function window14(daily, streamTime) {
  const byDate = new Map(daily.map((d) => [d.date, d]));
  const end = Date.parse(streamTime.slice(0, 10) + "T00:00:00Z");
  const days = [];
  for (let i = 13; i >= 0; i -= 1) {
    const date = new Date(end - i * 86400000).toISOString().slice(0, 10);
    days.push(byDate.get(date) || { date, heartbeats: 0, bytes_sent: 0, completions: 0 });
  }
  return days;
}

function chart(days) {
  const width = 28 * Math.max(days.length, 1);
  const height = 90;
  const maxBytes = Math.max(1, ...days.map((d) => d.bytes_sent));
  const maxBeats = Math.max(1, ...days.map((d) => d.heartbeats));
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "chart");
  // Drawn at its natural size, shrunk to fit a narrower card.
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 14}`);
  svg.setAttribute("width", String(width));
  svg.style.maxWidth = "100%";
  svg.style.height = "auto";
  days.forEach((d, i) => {
    const add = (cls, x, w, value, max, title) => {
      const h = Math.round((value / max) * height);
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("class", cls);
      rect.setAttribute("x", String(x));
      rect.setAttribute("y", String(height - h));
      rect.setAttribute("width", String(w));
      rect.setAttribute("height", String(h));
      const t = document.createElementNS(ns, "title");
      t.textContent = title;
      rect.append(t);
      svg.append(rect);
    };
    add("beats", i * 28 + 2, 8, d.heartbeats, maxBeats, `${d.date}: ${d.heartbeats} heartbeats`);
    add("bytes", i * 28 + 11, 14, d.bytes_sent, maxBytes, `${d.date}: ${bytes(d.bytes_sent)} sent`);
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", String(i * 28 + 2));
    label.setAttribute("y", String(height + 12));
    label.textContent = d.date.slice(5);
    svg.append(label);
  });
  return svg;
}

// An evidence figure as a reader takes it in: sizes in bytes with their unit, other
// numbers with thousands separators, UTC times to the minute, yes/no, "—" for none;
// the field's name stays as the API gives it.
function evidenceValue(name, value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") {
    if (name.includes("bytes")) return bytes(value);
    // Cut, not rounded, as the progress bars are: 99.96 % never reads 100 %.
    if (name.includes("percent")) return percentLabel(value);
    return value.toLocaleString("en-US", { maximumFractionDigits: 2 });
  }
  if (Array.isArray(value)) return value.map((v) => evidenceValue(name, v)).join(", ");
  if (typeof value !== "string") return JSON.stringify(value);
  const utc = value.match(/^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)[:.\d]*(\+00:00|Z)$/);
  return utc ? `${utc[1]} ${utc[2]} UTC` : value;
}

function count(n) {
  return Number(n).toLocaleString("en-US");
}

function facts(pairs) {
  return el("dl", {}, pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "—")]));
}

async function showDevice(deviceId) {
  const section = $("#device");
  let d;
  try {
    d = await api(`/api/devices/${encodeURIComponent(deviceId)}`);
  } catch (err) {
    if (err instanceof NeedsToken) throw err;
    section.replaceChildren(el("a", { href: ui.fleet }, "← all devices"), el("p", {}, String(err.message)));
    return;
  }
  setInfo(d.view);
  const now = d.stream_time;
  const alerts = d.open_alerts.map((a) => el("div", { class: "card alert", dataset: { kind: a.kind, state: a.state } },
    el("h3", {}, badge(a.state), ` ${a.kind}${a.destination_id ? ` · ${a.destination_id}` : ""}`,
      el("span", { class: "muted" }, ` ${a.days_observed} days`)),
    a.diagnosis.map((c) => el("div", { class: "cause", dataset: { cause: c.code } },
      el("div", {}, el("strong", {}, causeWords(c.code)), ` — ${c.summary} `, el("code", { class: "muted" }, c.code)),
      el("div", { class: "evidence" }, Object.entries(c.evidence).map(([k, v]) => `${k}: ${evidenceValue(k, v)}`).join(" · ")),
      el("div", {}, el("strong", {}, "Action: "), c.action)))));
  const destinations = d.destinations.map((x) => el("div", { class: "card destination", dataset: { destination: x.destination_id } },
    el("h3", {}, x.destination_id, " ", badge(x.backup_state, `backup ${x.backup_state}`), " ",
      badge(x.completion_state, `completion ${x.completion_state}`)),
    progressBar(x.backup_state, x.percent_complete),
    facts([
      ["Last connected", ago(x.last_connected, now)],
      ["Last new data", ago(x.last_new_data, now)],
      ["Last completed", ago(x.last_completed_backup, now)],
      ["Last activity", ago(x.last_activity, now)],
      ["Session", x.session_state],
      ["Selected", `${count(x.selected_files)} files, ${bytes(x.selected_bytes)}`],
      ["To do", `${count(x.todo_files)} files, ${bytes(x.todo_bytes)}`],
    ])));
  const transitions = d.recent_transitions.map((t) => el("tr", {},
    el("td", {}, t.at.replace("T", " ").slice(0, 16)), el("td", {}, t.kind), el("td", {}, t.destination_id || ""),
    el("td", {}, badge(t.from), " → ", badge(t.to)), el("td", {}, t.reason)));
  section.replaceChildren(
    el("a", { href: ui.fleet }, "← all devices"),
    el("h2", { dataset: { deviceId: d.device_id } }, d.hostname || d.device_id, " ", badge(d.worst_state)),
    el("div", { class: "cards" },
      el("div", { class: "card" }, el("h3", {}, "Device"), facts([
        ["Device", d.device_id], ["User", userLink(d.user_id)], ["Org", d.org_id],
        ["Held", d.hold ? d.hold.text : "no"],
        ["OS", d.os], ["App version", `${d.app_version}${d.app_version_outdated ? " (outdated)" : ""}`],
        ["Online", d.online ? "yes" : "no"], ["Service", d.service_state],
        ["Paused", d.backup_paused ? "yes" : "no"], ["Deactivated", d.deactivated ? "yes" : "no"],
        ["Snoozed until", d.snoozed_until], ["Last heartbeat", ago(d.last_heartbeat, now)],
        ["Last connected", ago(d.last_connected, now)],
        ["States", el("span", {}, Object.keys(d.alert_states).map((k) => [badge(d.alert_states[k], `${k} ${d.alert_states[k]}`), " "]))],
      ])),
      el("div", { class: "card" }, el("h3", {}, "Daily activity (14 days)"), chart(window14(d.daily, d.stream_time)),
        el("div", { class: "muted" }, "light: heartbeats · dark: bytes sent"))),
    el("h3", {}, "Open alerts"), alerts.length ? el("div", { class: "cards" }, alerts) : el("p", { class: "muted" }, "None."),
    el("h3", {}, "Destinations"), el("div", { class: "cards" }, destinations),
    el("h3", {}, "Recent transitions"),
    transitions.length
      ? el("table", { class: "transitions" },
        el("thead", {}, el("tr", {}, ["When (UTC)", "Kind", "Destination", "Change", "Reason"].map((h) => el("th", {}, h)))),
        el("tbody", {}, transitions))
      : el("p", { class: "muted" }, "None."));
}

// A user: what administrators recorded of them (leaves, deactivation) and their devices.
async function showUser(userId) {
  const section = $("#user");
  let u;
  try {
    u = await api(`/api/users/${encodeURIComponent(userId)}`);
  } catch (err) {
    section.replaceChildren(el("a", { href: ui.fleet }, "← all devices"), el("p", {}, String(err.message)));
    return;
  }
  setInfo(u.view);
  const periods = u.facts.periods.map((p) => el("tr", {},
    el("td", {}, p.kind === "leave" ? "on leave" : "deactivated"),
    el("td", {}, p.start.replace("T", " ").slice(0, 16)),
    el("td", {}, p.end ? p.end.replace("T", " ").slice(0, 16) : "—"),
    el("td", {}, p.reason || ""), el("td", {}, p.actor || "")));
  section.replaceChildren(
    el("a", { href: ui.fleet }, "← all devices"),
    el("h2", { dataset: { userId: u.user_id } }, u.user_id, " ", badge(u.worst_state)),
    el("p", { class: "user-hold" }, u.facts.hold ? `${u.facts.hold.text}${u.facts.hold.reason ? ` (${u.facts.hold.reason})` : ""}` : "Active: no leave or deactivation holds now."),
    el("h3", {}, "Leaves and deactivations"),
    periods.length
      ? el("table", { class: "transitions" },
        el("thead", {}, el("tr", {}, ["What", "From (UTC)", "Until (UTC)", "Reason", "By"].map((h) => el("th", {}, h)))),
        el("tbody", {}, periods))
      : el("p", { class: "muted" }, "None recorded."),
    el("h3", {}, `Devices (${u.devices})`),
    el("table", { class: "transitions" },
      el("tbody", {}, u.device_list.map(deviceRow))));
}

// -- routing and refresh ------------------------------------------------------------

async function render() {
  if (!$("#login").hidden) return;
  const match = location.hash.match(/^#\/devices\/(.+)$/);
  const user = location.hash.match(/^#\/users\/(.+)$/);
  if (!match && !user) applyHash();
  $("#fleet").hidden = Boolean(match || user);
  $("#device").hidden = !match;
  $("#user").hidden = !user;
  try {
    if (match) await showDevice(decodeURIComponent(match[1]));
    else if (user) await showUser(decodeURIComponent(user[1]));
    else {
      await loadCauses();
      await Promise.all([loadSummary(), loadDevices("refresh")]);
    }
    ui.signingIn = false;
    document.body.dataset.loaded = String(Date.now());
  } catch (err) {
    if (err instanceof NeedsToken) return;
    $("#view-info").textContent = `error: ${err.message}`;
  }
}

function schedule() {
  clearTimeout(ui.timer);
  ui.timer = setTimeout(async () => {
    await render();
    if ($("#login").hidden) schedule();
  }, REFRESH_MS);
}

// A 401 met by a filter change or a click has shown the login form already.
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof NeedsToken) event.preventDefault();
});

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", signIn);
  $("#csv").addEventListener("click", downloadCsv);
  $("#org").addEventListener("change", (e) => {
    ui.org = e.target.value;
    ui.loaded = 100;
    history.replaceState(null, "", fleetHash());
    render();
  });
  $("#filters").addEventListener("change", () => loadDevices());
  $("#filters").addEventListener("submit", (e) => { e.preventDefault(); loadDevices(); });
  $("#filters").q.addEventListener("input", () => loadDevices());
  $("#more").addEventListener("click", () => loadDevices("more"));
  for (const th of document.querySelectorAll("#devices th[data-sort]")) {
    th.addEventListener("click", () => sortBy(th.dataset.sort));
  }
  window.addEventListener("hashchange", render);
  render();
  schedule();
});
