"""The status report API and the dashboard.

Each worker's report reader (`agents.report.reader`, a process beside the worker) serves these
routes, and the worker's web server passes requests through to it. Reads come from a
`FleetView` (the whole fleet, whichever worker is asked); admin writes are published to
the policy and command topics, never written to a table, so that they are ordered with
the devices' telemetry like any other input.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any

import msgspec
import orjson
from aiohttp import web

from agents import webhook_targets
from agents.books.targets import TargetDirectory
from agents.kafka.topics import DEVICE_COMMANDS, ORG_POLICIES, USER_FACTS
from agents.report import bodies
from agents.report.access import Tokens
from agents.report.answers import AnswerCache
from agents.report.download import csv_lines
from agents.report.errors import QueryError
from agents.report.openapi import served_document
from agents.report.query import next_cursor, parse_query, parse_top, single_parameters
from schemas.codec import decode_as, encode
from schemas.errors import InvalidRecord
from schemas.models import DeviceCommand, OrgPolicy, UserFacts
from schemas.recipients import redact_url
from schemas.types import as_utc
from streams.diagnosis import CAUSES, newer_device_hint
from streams.errors import InvalidPolicy, UserFactsConflict
from streams.kinds import KIND_NAMES
from streams.pipeline import CLOCK_KEY_PREFIX
from streams.policy import policy_from_record
from streams.report import (
    DeviceQuery,
    days_inactive,
    hold_of,
    select,
    sibling,
    summarize_fleet,
    summarize_org,
    summarize_user,
)
from streams.status import device_status
from streams.users import (
    deactivate_user,
    end_leave,
    put_on_leave,
    reactivate_user,
    timeline_from_record,
)

if TYPE_CHECKING:
    from agents.books.policies import PolicyBook
    from agents.books.users import UserBook
    from agents.report.fleet import FleetView
    from agents.settings import Settings

__all__ = ["ROUTES", "Api", "Publish", "attach_routes"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Appends one record (topic, key, value) and returns once the broker acknowledged it.
Publish = Callable[[str, bytes, bytes], Awaitable[None]]

STATIC = resources.files("agents.report") / "static"
_STATIC_FILES = frozenset(entry.name for entry in STATIC.iterdir() if entry.is_file())
_STATIC_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


def _json(
    body: msgspec.Struct, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(body),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _error(status: int, message: str, parameter: str | None = None) -> web.Response:
    error = bodies.Error(error=message)
    if parameter is not None:
        error.parameter = parameter
    return _json(error, status)


class Api:
    def __init__(
        self,
        settings: Settings,
        view: FleetView,
        policies: PolicyBook,
        publish: Publish,
        targets: TargetDirectory | None = None,
        users: UserBook | None = None,
    ) -> None:
        self.settings = settings
        self.view = view
        self.policies = policies
        self.publish = publish
        self.tokens = Tokens(settings)
        # The target names the notifier announced: a policy naming another is refused.
        self.targets = targets if targets is not None else TargetDirectory()
        self.users = users
        # The JSON of recent answers by request (path and query), with the view's
        # generation and the policies' revision they were computed at. A dashboard polled
        # by several admins, or a script polling one page, asks the same question many
        # times while the view stays the same (rows are cut at most once a second).
        # Bounded by bytes: distinct query strings are free to make.
        self.answers = AnswerCache(_REMEMBERED_BYTES)

    def _as_of(self) -> tuple[int, int, bool]:
        users = self.users.revision if self.users is not None else 0
        return (
            self.view.generation,
            self.policies.revision * 1_000_003 + users,
            self.view.caught_up.is_set(),
        )

    def remembered(self, handler: Handler) -> Handler:
        """`handler`, answering again from its last answer while nothing it reads changed."""

        async def answer(request: web.Request) -> web.StreamResponse:
            await self.view.refresh()
            hit = self.answers.get(request.path_qs, self._as_of())
            if hit is not None:
                return web.Response(body=hit, content_type="application/json")
            response = await handler(request)
            if isinstance(response, web.Response) and response.status == 200:
                body = response.body
                if isinstance(body, bytes):
                    self.answers.put(request.path_qs, self._as_of(), body)
            return response

        return answer

    def _view_info(self) -> bodies.View:
        stream_time = self.view.stream_time()
        return bodies.View(
            caught_up=self.view.caught_up.is_set(),
            devices=len(self.view.rows),
            stream_time=stream_time.isoformat() if stream_time else None,
        )

    def _not_found(self, what: str, ident: str) -> web.Response:
        message = f"no {what} {ident!r}"
        if not self.view.caught_up.is_set():
            message += " (the fleet view is still reading the changelog; try again shortly)"
        return _error(404, message)

    # -- reads ------------------------------------------------------------------------

    async def devices(self, request: web.Request) -> web.Response:
        await self.view.refresh()
        try:
            query = _device_query(request, paging=True)
        except QueryError as err:
            return _error(400, err.message, err.parameter)
        ctx = self.view.context()
        page = select(list(self.view.rows.values()), query, ctx)
        return _json(
            bodies.DevicePage(
                devices=[bodies.device_entry(row, ctx) for row in page.rows],
                total=page.total,
                next_cursor=next_cursor(query, page),
                view=self._view_info(),
            )
        )

    async def devices_csv(self, request: web.Request) -> web.StreamResponse:
        await self.view.refresh()
        try:
            query = _device_query(request, paging=False)
        except QueryError as err:
            return _error(400, err.message, err.parameter)
        ctx = self.view.context()
        page = select(list(self.view.rows.values()), query, ctx, everything=True)
        stamp = (self.view.stream_time() or datetime.now(UTC)).strftime("%Y%m%dT%H%MZ")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="devices-{stamp}.csv"',
            }
        )
        await response.prepare(request)
        for chunk in csv_lines(page.rows, ctx):
            await response.write(chunk.encode())
        await response.write_eof()
        return response

    async def device(self, request: web.Request) -> web.Response:
        await self.view.refresh()
        device_id = request.match_info["device_id"]
        row = self.view.rows.get(device_id)
        state = self.view.state(device_id)
        if row is None or state is None:
            known = self.view.known(device_id)
            if known is None:
                return self._not_found("device", device_id)
            return _json(bodies.known_device(known[0]), status=200)
        now = self.view.now_of_partition(row.partition)
        policy = self.view.policy_for(state.org_id)
        # The user's other devices tell whether a newer one replaced this one.
        siblings = [sibling(other) for other in self.view.of_user(state.user_id)]
        status = device_status(state, now, policy, newer_device_hint(state, siblings, now, policy))
        ctx = self.view.context()
        return _json(
            bodies.DeviceDetail.of(
                status,
                days_inactive=round(days_inactive(row, ctx), 2),
                hold=bodies.device_hold(hold_of(row, ctx)),
                thresholds=bodies.thresholds(policy, KIND_NAMES),
                recent_transitions=bodies.transition_entries(state),
                view=self._view_info(),
            )
        )

    async def user(self, request: web.Request) -> web.Response:
        await self.view.refresh()
        user_id = request.match_info["user_id"]
        rows = self.view.of_user(user_id)
        record = self.users.record_for(user_id) if self.users is not None else None
        if not rows and record is None:
            return self._not_found("user", user_id)
        ctx = self.view.context()
        return _json(
            bodies.user_summary(
                summarize_user(user_id, rows, ctx), ctx, self._user_facts(record), self._view_info()
            )
        )

    def _user_facts(self, record: UserFacts | None) -> bodies.UserFactsNow:
        """The user's recorded facts, and what holds at the fleet's stream time."""
        now = self.view.stream_time() or datetime.now(UTC)
        if record is None:
            return bodies.user_facts_now(None, [], None)
        hold = timeline_from_record(record).hold_at(now)
        return bodies.user_facts_now(hold, list(record.periods), record.updated_at)

    async def org_summary(self, request: web.Request) -> web.Response:
        await self.view.refresh()
        org_id = request.match_info["org_id"]
        rows = self.view.of_org(org_id)
        if not rows:
            return self._not_found("org", org_id)
        try:
            top = parse_top(single_parameters(request.query.items()))
        except QueryError as err:
            return _error(400, err.message, err.parameter)
        ctx = self.view.context()
        rollup = summarize_org(org_id, rows, ctx, top=top)
        record = self.policies.record_for(org_id)
        return _json(bodies.org_summary(rollup, ctx, record, self._view_info()))

    async def summary(self, request: web.Request) -> web.Response:
        await self.view.refresh()
        return _json(
            bodies.fleet_summary(summarize_fleet(self.view.rows.values()), self._view_info())
        )

    async def openapi(self, request: web.Request) -> web.Response:
        return web.Response(body=served_document(), content_type="application/json")

    async def causes(self, request: web.Request) -> web.Response:
        # Every code a diagnosis can give, so that a client (the dashboard's list, an
        # integration) can show what a device row's `top_cause` means.
        return _json(
            bodies.CauseCatalogue(
                causes=[
                    bodies.CauseEntry(code=code, summary=summary, action=action)
                    for code, (summary, action) in CAUSES.items()
                ]
            )
        )

    # -- admin writes -------------------------------------------------------------------

    def _authorize(self, request: web.Request) -> web.Response | None:
        if not self.tokens.writes_enabled:
            return _error(
                403,
                "admin writes are disabled on this worker: set BACKUPWATCH_API_TOKEN and send "
                "it as 'Authorization: Bearer <token>'",
            )
        if self.tokens.role(request) != "admin":
            return _json(
                bodies.Error(error="missing or wrong bearer token"),
                401,
                headers={"WWW-Authenticate": 'Bearer realm="backupwatch"'},
            )
        return None

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            return _error(400, f"the body is not JSON: {err}")
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        return body

    async def put_policy(self, request: web.Request) -> web.Response:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        org_id = request.match_info["org_id"]
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        for fixed in ("schema", "org_id", "updated_at"):
            if fixed in body:
                return _error(400, f"{fixed} is set by the API, not the body", fixed)
        # The topic tolerates fields from newer producers; a person's typo is an error.
        known = sorted(set(OrgPolicy.__struct_fields__) - {"org_id", "updated_at"})
        for name in body:
            if name not in known:
                return _error(400, f"unknown policy field; known: {', '.join(known)}", name)
        document = {
            **body,
            "schema": "org_policy/1",
            "org_id": org_id,
            "updated_at": datetime.now(UTC).isoformat(),
        }
        try:
            record = decode_as(orjson.dumps(document), OrgPolicy)
            policy_from_record(record, self.policies.base)
        except InvalidRecord as err:
            return _error(400, err.message, _field_of(err.message))
        except InvalidPolicy as err:
            return _error(400, str(err))
        unknown_target = self.targets.problem(record)
        if unknown_target is not None:
            return _error(400, unknown_target, "recipients")
        refused = _refused_webhook(record, body, self.settings.webhook_internal_hosts)
        if refused is not None:
            return refused
        await self.publish(self.settings.topic(ORG_POLICIES), org_id.encode(), encode(record))
        return _json(bodies.PolicyAccepted(accepted=True, policy=record), status=202)

    async def _command(self, request: web.Request, action: str, **fields: Any) -> web.Response:
        device_id = request.match_info["device_id"]
        await self.view.refresh()
        row = self.view.rows.get(device_id)
        # A device that has not reported yet: the command is kept in its partition and
        # honoured at its first report (no row to find it by: its partition is the
        # producers' partitioner's).
        if row is not None:
            partition = row.partition
        elif device_id.startswith(CLOCK_KEY_PREFIX):
            return _error(400, f"device ids starting with {CLOCK_KEY_PREFIX} are reserved")
        else:
            known = self.view.known(device_id)
            partition = known[1] if known is not None else self._partition_for(device_id)
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            return _error(400, "expected a string", "reason")
        # Commands are ordered with the device's telemetry by its own stream time.
        issued_at = self.view.now_of_partition(partition)
        document: dict[str, Any] = {
            "schema": "device_command/1",
            "command_id": str(uuid.uuid4()),
            "device_id": device_id,
            "action": action,
            "issued_at": issued_at.isoformat(),
            "reason": reason,
            "actor": "api",
            **fields,
        }
        if action == "snooze":
            until = _snooze_until(body, issued_at)
            if isinstance(until, web.Response):
                return until
            document["snooze_until"] = until.isoformat()
        try:
            command = decode_as(orjson.dumps(document), DeviceCommand)
        except InvalidRecord as err:
            return _error(400, err.message, _field_of(err.message))
        await self.publish(
            self.settings.topic(DEVICE_COMMANDS), device_id.encode(), encode(command)
        )
        answer = bodies.CommandAccepted(accepted=True, command=command)
        if row is None:
            answer.held = True
            answer.message = (
                f"device {device_id!r} has not reported yet: the command is kept and "
                "applied when it first reports"
            )
        return _json(answer, status=202)

    def _partition_for(self, device_id: str) -> int:
        """The producers' partitioner (murmur2, as the Java client)."""
        from aiokafka.partitioner import murmur2

        return int(murmur2(device_id.encode()) & 0x7FFFFFFF) % self.settings.partitions

    # -- user actions -----------------------------------------------------------------

    def user_action(self, action: str) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            denied = self._authorize(request)
            if denied is not None:
                return denied
            return await self._user_action(request, action)

        return handle

    async def _user_action(self, request: web.Request, action: str) -> web.Response:
        """Edit the user's record at the fleet's stream time and publish it."""
        if self.users is None:
            return _error(503, "this worker does not follow the user facts")
        user_id = request.match_info["user_id"]
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        reason = body.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 1024:
            return _error(400, "expected a string of at most 1024 characters", "reason")
        await self.view.refresh()
        # The instant the action takes effect: the fleet's stream time, so that a
        # simulated month, or a worker catching up, applies it where its clock is.
        at = self.view.stream_time() or datetime.now(UTC)
        updated_at = datetime.now(UTC)
        previous = self.users.record_for(user_id)
        try:
            if action == "leave":
                until = _leave_until(body, at)
                if isinstance(until, web.Response):
                    return until
                record = put_on_leave(
                    previous,
                    user_id,
                    at=at,
                    until=until,
                    reason=reason,
                    actor="api",
                    updated_at=updated_at,
                )
            elif action == "leave/end":
                record = end_leave(previous, user_id, at=at, updated_at=updated_at)
            elif action == "deactivate":
                record = deactivate_user(
                    previous, user_id, at=at, reason=reason, actor="api", updated_at=updated_at
                )
            else:
                record = reactivate_user(previous, user_id, at=at, updated_at=updated_at)
        except UserFactsConflict as err:
            return _error(409, str(err))
        value = encode(record)
        await self.publish(self.settings.topic(USER_FACTS), user_id.encode(), value)
        # Taken at once, so that the next action on this user edits this record.
        self.users.apply_record(value, user_id.encode())
        return _json(
            bodies.UserActionAccepted(
                accepted=True, effective_at=at.isoformat(), facts=self._user_facts(record)
            ),
            status=202,
        )

    def command(self, action: str) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            denied = self._authorize(request)
            if denied is not None:
                return denied
            return await self._command(request, action)

        return handle

    # -- the dashboard -------------------------------------------------------------------

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info.get("name") or "index.html"
        # Only the dashboard's own files: a name is looked up, never opened as a path
        # (one longer than the file system allows would fail to open, not be missing).
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        if name not in _STATIC_FILES or suffix not in _STATIC_TYPES:
            return _error(404, f"no file {name[:100]!r}")
        return web.Response(
            body=(STATIC / name).read_bytes(),
            content_type=_STATIC_TYPES[suffix],
            headers={"Cache-Control": "no-cache"},
        )


def _device_query(request: web.Request, *, paging: bool) -> DeviceQuery:
    """The device list's query from the URL, for the JSON pages and the CSV download
    alike (which has every match: it ignores the paging); `QueryError` names a bad or
    repeated parameter."""
    params = single_parameters(request.query.items())
    if not paging:
        params.pop("limit", None)
        params.pop("cursor", None)
    return parse_query(params)


def _refused_webhook(
    record: OrgPolicy, body: dict[str, Any], allowed: tuple[str, ...]
) -> web.Response | None:
    """400 for a webhook at a loopback or link-local address not in `allowed`
    (agents.webhook_targets), naming the field the body gave it in."""
    for recipient in record.recipients:
        if recipient.channel != "webhook":
            continue
        refused = webhook_targets.refusal(recipient.target, allowed)
        if refused is not None:
            given = body.get("webhook_urls")
            field = (
                "webhook_urls"
                if isinstance(given, list) and recipient.target in given
                else "recipients"
            )
            return _error(
                400, f"{redact_url(recipient.target)}: {refused}; {webhook_targets.RULE}", field
            )
    return None


def _field_of(message: str) -> str | None:
    """The field a validation message names: msgspec says "... - at `$.field`", a
    record's own checks begin "`field` ..."."""
    match = re.search(r"at `\$\.([A-Za-z_][A-Za-z0-9_]*)", message) or re.match(
        r"`([A-Za-z_][A-Za-z0-9_]*)`", message
    )
    return match.group(1) if match else None


def _leave_until(body: dict[str, Any], now: datetime) -> datetime | web.Response:
    if "until" not in body:
        return _error(400, "give 'until' (RFC 3339): when the user is back", "until")
    return _until_after(body["until"], now, "the stream time")


def _snooze_until(body: dict[str, Any], now: datetime) -> datetime | web.Response:
    if ("until" in body) == ("hours" in body):
        return _error(400, "give either 'until' (RFC 3339) or 'hours' (a number)", "until")
    if "hours" in body:
        hours = body["hours"]
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 8760:
            return _error(400, "hours must be a number between 0 and 8760", "hours")
        return now + timedelta(hours=hours)
    return _until_after(body["until"], now, "the device's stream time")


def _until_after(raw: Any, now: datetime, clock: str) -> datetime | web.Response:
    """The body's `until`: an RFC 3339 time with offset after `now` (`clock` names it)."""
    try:
        until = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        until = None
    if until is None or until.tzinfo is None:
        return _error(400, f"expected an RFC 3339 time with offset, got {raw!r}", "until")
    # Checked before anything converts it: a time near the end of year 9999 with a
    # negative offset is past what a datetime can hold once in UTC.
    try:
        until = as_utc(until, "until")
    except ValueError as err:
        return _error(400, str(err), "until")
    if until <= now:
        return _error(400, f"{raw} is not after {clock} {now.isoformat()}", "until")
    return until


# (method, path, handler name): the routes the OpenAPI document must describe.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/api/summary", "summary"),
    ("GET", "/api/devices", "devices"),
    ("GET", "/api/devices.csv", "devices_csv"),
    ("GET", "/api/devices/{device_id}", "device"),
    ("GET", "/api/users/{user_id}", "user"),
    ("GET", "/api/orgs/{org_id}/summary", "org_summary"),
    ("PUT", "/api/orgs/{org_id}/policy", "put_policy"),
    ("POST", "/api/devices/{device_id}/snooze", "snooze"),
    ("POST", "/api/devices/{device_id}/unsnooze", "unsnooze"),
    ("POST", "/api/devices/{device_id}/deactivate", "deactivate"),
    ("POST", "/api/devices/{device_id}/reactivate", "reactivate"),
    ("POST", "/api/users/{user_id}/leave", "leave"),
    ("POST", "/api/users/{user_id}/leave/end", "leave/end"),
    ("POST", "/api/users/{user_id}/deactivate", "user/deactivate"),
    ("POST", "/api/users/{user_id}/reactivate", "user/reactivate"),
    ("GET", "/api/causes", "causes"),
    ("GET", "/api/openapi.json", "openapi"),
)

_COMMANDS = ("snooze", "unsnooze", "deactivate", "reactivate")
_USER_ACTIONS = {
    "leave": "leave",
    "leave/end": "leave/end",
    "user/deactivate": "deactivate",
    "user/reactivate": "reactivate",
}
_REMEMBERED = ("summary", "devices", "device", "user", "org_summary")
# Enough for every page a few dashboards poll; what distinct query strings can make it
# hold, at most.
_REMEMBERED_BYTES = 32 << 20


def attach_routes(
    router: web.UrlDispatcher,
    settings: Settings,
    view: FleetView,
    policies: PolicyBook,
    publish: Publish,
    targets: TargetDirectory | None = None,
    users: UserBook | None = None,
) -> Api:
    """Add the API and the dashboard to an aiohttp router; returns the API."""
    api = Api(settings, view, policies, publish, targets, users)
    for method, path, name in ROUTES:
        handler: Handler
        if name in _COMMANDS:
            handler = api.command(name)
        elif name in _USER_ACTIONS:
            handler = api.user_action(_USER_ACTIONS[name])
        else:
            handler = getattr(api, name)
        if name in _REMEMBERED:
            handler = api.remembered(handler)
        router.add_route(method, path, handler)
    router.add_get("/", api.static)
    router.add_get("/static/{name}", api.static)
    return api
