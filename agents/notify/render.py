"""Alerts to email text: subject, plain-text and HTML bodies, digests. Pure: no I/O.

The subject says what a reader must know at a glance in a mailbox listing: severity,
which machine, what is wrong and for how long (`[CRITICAL] laptop-123 has not backed
up for 7 days`); the body adds who, where, the thresholds and the ranked causes with
their evidence and what to do.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from schemas.models import Alert, Cause
from streams.kinds import KIND_OF

__all__ = [
    "ChatMessage",
    "EmailContent",
    "device_link",
    "episode_key",
    "render_alert",
    "render_chat",
    "render_digest",
    "subject",
]


@dataclass(frozen=True, slots=True)
class EmailContent:
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """What a chat or paging service shows: a one-line title and a short body."""

    title: str
    body: str
    # "critical", "warning" or "ok" (a resolution): each channel maps it to its own notion.
    severity: str
    # Same for every alert of one episode (opened, escalated, resolved): paging services
    # de-duplicate on it, so a resolution closes the incident its opening raised.
    episode: str


_SEVERITY = {"critical": "CRITICAL", "warning": "WARNING", "ok": "RESOLVED"}


def _days(value: float) -> str:
    rounded = round(value, 1)
    number = f"{rounded:g}"
    return f"{number} day" if rounded == 1 else f"{number} days"


def _host(alert: Alert) -> str:
    return alert.hostname or alert.device_id


def _problem(alert: Alert) -> str:
    """What is wrong, as a predicate of the device: `has not backed up for 7 days`."""
    to = f" to {alert.destination_id}" if alert.destination_id else ""
    return f"{KIND_OF[alert.kind].trouble.format(to=to)} for {_days(alert.days_observed)}"


def _recovery(alert: Alert) -> str:
    """What closed an alert. Only a new event says the device is back: a policy change,
    or the end of a snooze (over which the policy may have changed), can close one with
    nothing new from the device, so those say how long it has been."""
    if alert.reason == "new_event":
        to = f" to {alert.destination_id}" if alert.destination_id else ""
        return KIND_OF[alert.kind].recovery.format(to=to)
    if alert.reason == "deactivated":
        return "was deactivated; its alert is closed"
    if alert.reason == "user_deactivated":
        return "belongs to a deactivated user (left the organization); its alert is closed"
    if alert.reason == "policy_changed":
        return f"{_problem(alert)}, within the org's new thresholds"
    if alert.reason == "snooze_ended":
        return f"{_problem(alert)}, within the thresholds when its snooze ended"
    if alert.reason == "leave_ended":
        return f"{_problem(alert)}, within the thresholds when its user's leave ended"
    return f"{_problem(alert)}; its alert is closed ({alert.reason})"


def subject(alert: Alert) -> str:
    host = _host(alert)
    if alert.transition == "resolved" or alert.to_state == "ok":
        return f"[RESOLVED] {host} {_recovery(alert)}"
    mark = _SEVERITY[alert.to_state]
    if alert.transition == "reminder":
        return f"[{mark}] Reminder: {host} still {_problem(alert)}"
    if alert.transition == "deescalated":
        return f"[{mark}] {host} {_problem(alert)} (down from {alert.from_state})"
    if alert.transition == "escalated":
        return f"[{mark}] {host} {_problem(alert)} (up from {alert.from_state})"
    return f"[{mark}] {host} {_problem(alert)}"


def device_link(dashboard_url: str, device_id: str) -> str:
    """The dashboard's page of one device, or "" when no dashboard is configured."""
    if not dashboard_url:
        return ""
    return f"{dashboard_url.rstrip('/')}/#/devices/{quote(device_id, safe='')}"


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _facts(alert: Alert) -> list[tuple[str, str]]:
    threshold = _days(alert.threshold_days) if alert.threshold_days is not None else "—"
    facts = [
        ("Device", f"{_host(alert)} ({alert.device_id})"),
        ("User", alert.user_id),
        ("Organization", alert.org_id),
    ]
    if alert.destination_id:
        facts.append(("Destination", alert.destination_id))
    facts += [
        ("Alert", f"{alert.kind}: {alert.from_state} → {alert.to_state} ({alert.transition})"),
        ("Days observed", _days(alert.days_observed)),
        ("Threshold", threshold),
        ("Since", _when(alert.episode_start)),
        ("Decided at", _when(alert.decided_at)),
    ]
    if alert.transition == "resolved" or alert.to_state == "ok":
        facts.append(("Reason", alert.reason))
    return facts


_SIZE_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")
_UTC_TIME = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)[:.\d]*(\+00:00|Z)")


def _evidence(name: str, value: Any) -> str:
    """An evidence figure as a reader takes it in: a size with its unit (and its exact
    count), a percentage to one decimal, other numbers with thousands separators, UTC
    times to the minute; the field's name stays as is."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_evidence(name, v) for v in value)
    if isinstance(value, str):
        utc = _UTC_TIME.fullmatch(value)
        return f"{utc[1]} {utc[2]} UTC" if utc else value
    if isinstance(value, int) and "bytes" in name:
        size, unit = float(value), 0
        while size >= 1024 and unit < len(_SIZE_UNITS) - 1:
            size, unit = size / 1024, unit + 1
        return (
            f"{value:,} bytes" if unit == 0 else f"{size:.1f} {_SIZE_UNITS[unit]} ({value:,} bytes)"
        )
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float) and "percent" in name:
        # Cut, not rounded, as the dashboard shows it: a backup short of 100 % never
        # reads 100.
        return f"{math.floor(value * 10) / 10:.1f}".removesuffix(".0")
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


def _causes_text(causes: Sequence[Cause]) -> list[str]:
    lines = []
    for rank, cause in enumerate(causes, start=1):
        lines.append(f"{rank}. {cause.summary}")
        for key, value in cause.evidence.items():
            lines.append(f"     {key}: {_evidence(key, value)}")
        lines.append(f"   What to do: {cause.action}")
    return lines


def _text_body(alert: Alert, link: str) -> str:
    lines = [subject(alert), ""]
    width = max(len(name) for name, _ in _facts(alert))
    lines += [f"{name + ':':<{width + 1}} {value}" for name, value in _facts(alert)]
    if alert.diagnosis:
        lines += ["", "Likely causes, most likely first:"]
        lines += _causes_text(alert.diagnosis)
    if link:
        lines += ["", f"Open the device in the dashboard: {link}"]
    lines += ["", f"Alert id: {alert.alert_id}"]
    return "\n".join(lines) + "\n"


def _causes_html(causes: Sequence[Cause]) -> str:
    items = []
    for cause in causes:
        evidence = "".join(
            f"<li><code>{html.escape(key)}</code>: {html.escape(_evidence(key, value))}</li>"
            for key, value in cause.evidence.items()
        )
        items.append(
            f"<li><p><strong>{html.escape(cause.summary)}</strong></p>"
            f"<ul>{evidence}</ul>"
            f"<p>What to do: {html.escape(cause.action)}</p></li>"
        )
    return f"<h3>Likely causes, most likely first</h3><ol>{''.join(items)}</ol>"


def _html_body(alert: Alert, link: str) -> str:
    rows = "".join(
        f"<tr><th align='left'>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
        for name, value in _facts(alert)
    )
    parts = [
        f"<h2>{html.escape(subject(alert))}</h2>",
        f"<table>{rows}</table>",
    ]
    if alert.diagnosis:
        parts.append(_causes_html(alert.diagnosis))
    if link:
        parts.append(f"<p><a href='{html.escape(link)}'>Open the device in the dashboard</a></p>")
    parts.append(f"<p><small>Alert id: {html.escape(alert.alert_id)}</small></p>")
    return "<html><body>" + "".join(parts) + "</body></html>"


def render_alert(alert: Alert, dashboard_url: str = "") -> EmailContent:
    link = device_link(dashboard_url, alert.device_id)
    return EmailContent(subject(alert), _text_body(alert, link), _html_body(alert, link))


def render_digest(org_id: str, alerts: Sequence[Alert], dashboard_url: str = "") -> EmailContent:
    """One email listing `alerts` of one org, in the order they were decided."""
    ordered = sorted(alerts, key=lambda a: (a.decided_at, a.device_id, a.alert_id))
    counts: dict[str, int] = {}
    for alert in ordered:
        mark = "RESOLVED" if alert.to_state == "ok" else _SEVERITY[alert.to_state]
        counts[mark] = counts.get(mark, 0) + 1
    summary = ", ".join(
        f"{counts[mark]} {mark.lower()}"
        for mark in ("CRITICAL", "WARNING", "RESOLVED")
        if mark in counts
    )
    noun = "alert" if len(ordered) == 1 else "alerts"
    title = f"[backupwatch] {org_id}: {len(ordered)} {noun} ({summary})"
    text = [title, ""]
    rows = []
    for alert in ordered:
        link = device_link(dashboard_url, alert.device_id)
        top = alert.diagnosis[0] if alert.diagnosis and alert.to_state != "ok" else None
        text.append(f"* {_when(alert.decided_at)}  {subject(alert)}")
        text.append(f"  user {alert.user_id}, alert id {alert.alert_id}")
        if top is not None:
            text.append(f"  likely cause: {top.summary}. What to do: {top.action}")
        if link:
            text.append(f"  {link}")
        cause = (
            f"<br><small>Likely cause: {html.escape(top.summary)}. "
            f"What to do: {html.escape(top.action)}</small>"
            if top is not None
            else ""
        )
        name = html.escape(subject(alert))
        headline = f"<a href='{html.escape(link)}'>{name}</a>" if link else name
        rows.append(
            f"<tr><td>{html.escape(_when(alert.decided_at))}</td>"
            f"<td>{headline}{cause}</td><td>{html.escape(alert.user_id)}</td></tr>"
        )
    body = (
        f"<html><body><h2>{html.escape(title)}</h2><table>"
        "<tr><th align='left'>Decided</th><th align='left'>Alert</th>"
        f"<th align='left'>User</th></tr>{''.join(rows)}</table></body></html>"
    )
    return EmailContent(title, "\n".join(text) + "\n", body)


def episode_key(alert: Alert) -> str:
    """The alert's episode: device, kind, destination and the start of the condition."""
    basis = "|".join(
        (alert.device_id, alert.kind, alert.destination_id or "", alert.episode_start.isoformat())
    )
    return "backupwatch-" + hashlib.sha256(basis.encode()).hexdigest()[:32]


def render_chat(alert: Alert, dashboard_url: str = "") -> ChatMessage:
    """The title of the email's subject; the top cause with its action, who and where,
    the dashboard link. A resolution's title already says what closed it."""
    link = device_link(dashboard_url, alert.device_id)
    resolved = alert.transition == "resolved" or alert.to_state == "ok"
    where = f"{alert.device_id}, user {alert.user_id}, org {alert.org_id}"
    lines = [where]
    if alert.diagnosis and not resolved:
        top = alert.diagnosis[0]
        lines.append(f"Likely cause: {top.summary}")
        lines.append(f"What to do: {top.action}")
    if link:
        lines.append(f"Dashboard: {link}")
    return ChatMessage(
        title=subject(alert),
        body="\n".join(lines),
        severity="ok" if resolved else alert.to_state,
        episode=episode_key(alert),
    )
