"""Local fake servers for the six sources: real HTTP on 127.0.0.1 (a thread each), answering like the real
APIs with the recorded/published payloads in fixtures/.

Every fake checks the auth its API documents, pages as its API pages, and can be told to misbehave first
(`fake.fail_next(Reply(429, ...))`): the queued replies are served before any normal answer.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, bytes):
            return self.body, headers
        if isinstance(self.body, str) and "Content-Type" in headers:
            return self.body.encode(), headers
        if self.body is None and self.status != 200:
            return b"", headers
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return json.dumps(self.body).encode(), headers


class FakeServer:
    """Serves `self.handle(request)`; records every request; queued `fail_next` replies come first."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._queue: list[Reply] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command, path=parts.path,
                    query={k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                reply = owner.dispatch(request)
                body, headers = reply.encoded()
                self.send_response(reply.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def dispatch(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            queued = self._queue.pop(0) if self._queue else None
        if queued is not None:
            return queued
        denied = self.deny(request)
        if denied is not None:
            return denied
        return self.handle(request)

    def deny(self, request: Request) -> Reply | None:
        return None

    def handle(self, request: Request) -> Reply:
        return Reply(404, {"error": "Not Found"})

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


def _basic(request: Request) -> tuple[str, str] | None:
    value = request.header("authorization") or ""
    if not value.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    return user, password


# ----------------------------------------------------------------------------------------------------
# Harvest API v2


class FakeHarvest(FakeServer):
    """`GET /v2/time_entries` paged like the recording (per_page, links.next), from the 119 recorded entries.

    Filters: from/to on spent_date, updated_since on updated_at. `entries` may be edited by a test.
    """

    TOKEN = "harvest-test-token"
    ACCOUNT = "1234567"

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[dict[str, Any]] = (fixture("harvest/time_entries_list_page1.json")["time_entries"]
                                              + fixture("harvest/time_entries_list_page2.json")["time_entries"])

    def deny(self, request: Request) -> Reply | None:
        if not request.header("user-agent"):
            return Reply(400, {"message": "User-Agent header is required"})
        if request.header("authorization") != f"Bearer {self.TOKEN}" or \
                request.header("harvest-account-id") != self.ACCOUNT:
            recorded = next(x for x in fixture("harvest/recorded_exchanges.json")
                            if x.get("file") == "error_401_invalid_token.json")
            return Reply(401, fixture("harvest/error_401_invalid_token.json"),
                         {"WWW-Authenticate": recorded["response_headers"]["Www-Authenticate"][0],
                          "Content-Type": "application/json"})
        return None

    def handle(self, request: Request) -> Reply:
        if request.path == "/v2/time_entries":
            return self._list(request)
        if request.path == "/v2/projects":
            projects = {}
            for entry in self.entries:
                project = dict(entry["project"], client=entry["client"])
                projects[project["id"]] = project
            return Reply(200, self._page("projects", list(projects.values()), request, "/v2/projects"))
        return Reply(404, {"status": 404, "error": "Not Found"})

    def _list(self, request: Request) -> Reply:
        q = request.query
        rows = self.entries
        if "from" in q:  # a malformed entry (no spent_date) is served anyway: the client must reject it
            rows = [e for e in rows if str(e.get("spent_date", q["from"])) >= q["from"]]
        if "to" in q:
            rows = [e for e in rows if str(e.get("spent_date", q["to"])) <= q["to"]]
        if "updated_since" in q:
            rows = [e for e in rows if e["updated_at"] >= q["updated_since"]]
        return Reply(200, self._page("time_entries", rows, request, "/v2/time_entries"))

    def _page(self, key: str, rows: list[dict[str, Any]], request: Request, path: str) -> dict[str, Any]:
        per_page = int(request.query.get("per_page", 100))
        page = int(request.query.get("page", 1))
        pages = max(1, -(-len(rows) // per_page))
        chunk = rows[(page - 1) * per_page: page * per_page]
        base = {k: v for k, v in request.query.items() if k not in ("page", "per_page")}

        def link(number: int | None) -> str | None:
            if number is None:
                return None
            return f"{self.url}{path}?" + urlencode({**base, "page": number, "per_page": per_page})

        following = page + 1 if page < pages else None
        previous = page - 1 if page > 1 else None
        return {key: chunk, "per_page": per_page, "total_pages": pages, "total_entries": len(rows),
                "next_page": following, "previous_page": previous, "page": page,
                "links": {"first": link(1), "next": link(following), "previous": link(previous),
                          "last": link(pages)}}


# ----------------------------------------------------------------------------------------------------
# Toggl Track API v9


class FakeToggl(FakeServer):
    """`/api/v9/me`, `/me/time_entries` (by window, with meta, or `since` with deleted entries)."""

    TOKEN = "toggl-test-token"

    def __init__(self) -> None:
        super().__init__()
        seen: dict[int, dict[str, Any]] = {}
        for item in fixture("toggl/related_time_entries.json") + fixture("toggl/me_time_entries_start_end.json"):
            seen[item["id"]] = item
        self.entries = list(seen.values())
        self.since = fixture("toggl/me_time_entries_since_incl_deleted.json")
        self.projects = fixture("toggl/related_projects.json")
        self.clients = fixture("toggl/related_clients.json")
        self.me = fixture("toggl/me.json")

    def deny(self, request: Request) -> Reply | None:
        if _basic(request) != (self.TOKEN, "api_token"):
            return Reply(401, None, {"X-Authorization-Missing": "true"} if _basic(request) is None else {})
        return None

    def handle(self, request: Request) -> Reply:
        workspace = self.me["default_workspace_id"]
        if request.path == "/api/v9/me":
            return Reply(200, self.me)
        if request.path == f"/api/v9/workspaces/{workspace}/projects":
            return Reply(200, self.projects)
        if request.path == f"/api/v9/workspaces/{workspace}/clients":
            return Reply(200, self.clients)
        if request.path == "/api/v9/me/time_entries":
            q = request.query
            if "since" in q and "before" in q:
                return Reply(400, fixture("toggl/error_400_since_and_before.json"))
            if "since" in q:
                rows = [e for e in self.since if _toggl_at(e) >= int(q["since"])]
            else:
                begin = datetime.fromisoformat(q["start_date"])
                finish = datetime.fromisoformat(q["end_date"])
                rows = [e for e in self.entries if begin <= datetime.fromisoformat(e["start"]) < finish]
            if q.get("meta") == "true":
                rows = [self._meta(e) for e in rows]
            return Reply(200, rows)
        return Reply(404, "Not Found")

    def _meta(self, entry: dict[str, Any]) -> dict[str, Any]:
        """meta=true adds the names (as me_time_entries_meta.json shows) from the recorded projects/clients."""
        entry = dict(entry)
        project = next((p for p in self.projects if p["id"] == entry.get("project_id")), None)
        client = next((c for c in self.clients if project and c["id"] == project.get("client_id")), None)
        if project:
            entry.update(project_name=project["name"], project_color=project.get("color"),
                         project_active=project.get("active"), project_billable=project.get("billable"))
        if client:
            entry["client_name"] = client["name"]
        entry["user_name"] = self.me["fullname"]
        return entry


def _toggl_at(entry: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(entry["at"].replace("Z", "+00:00")).timestamp())


# ----------------------------------------------------------------------------------------------------
# Clockify (Reports API + API v1)


class FakeClockify(FakeServer):
    """`POST /v1/workspaces/{id}/reports/detailed` paged by detailedFilter.page/pageSize; `/api/v1/.../projects`.

    `entries` starts from the one recorded report entry; `add(...)` makes more of it (another id and time).
    """

    KEY = "clockify-test-key"
    WORKSPACE = "79d95471c93cff26089752cc"

    def __init__(self) -> None:
        super().__init__()
        self.report = fixture("clockify/reports_detailed_response.json")
        self.entries: list[dict[str, Any]] = list(self.report["timeentries"])

    def add(self, entry_id: str, start: str, end: str, seconds: int, **changes: Any) -> dict[str, Any]:
        entry = copy.deepcopy(self.report["timeentries"][0])
        entry.update(_id=entry_id, **changes)
        entry["timeInterval"] = {"start": start, "end": end, "duration": seconds}
        self.entries.append(entry)
        return entry

    def deny(self, request: Request) -> Reply | None:
        if request.header("x-api-key") != self.KEY:
            return Reply(401, {"message": "Full authentication is required to access this resource", "code": 1000})
        return None

    def handle(self, request: Request) -> Reply:
        if request.method == "POST" and request.path == f"/v1/workspaces/{self.WORKSPACE}/reports/detailed":
            body = request.json()
            begin = datetime.fromisoformat(body["dateRangeStart"].replace("Z", "+00:00"))
            finish = datetime.fromisoformat(body["dateRangeEnd"].replace("Z", "+00:00"))
            rows = [e for e in self.entries if _within(e["timeInterval"]["start"], begin, finish)]
            page, size = body["detailedFilter"]["page"], body["detailedFilter"]["pageSize"]
            chunk = rows[(page - 1) * size: page * size]
            totals = [{**self.report["totals"][0], "entriesCount": len(rows)}]
            return Reply(200, {"totals": totals, "timeentries": chunk})
        if request.path == f"/api/v1/workspaces/{self.WORKSPACE}/projects":
            page = int(request.query.get("page", 1))
            return Reply(200, [fixture("clockify/project.json")] if page == 1 else [])
        return Reply(404, {"message": "Not found", "code": 404})


def _within(text: str, begin: datetime, finish: datetime) -> bool:
    try:
        return begin <= datetime.fromisoformat(text) <= finish
    except ValueError:  # a malformed time is served: the client must reject it
        return True


# ----------------------------------------------------------------------------------------------------
# Asana


def asana_task(gid: str, name: str, *, project: tuple[str, str], section: str = "In progress",
               completed_at: str | None = None, amount: str | None = None, field_name: str = "Milestone amount",
               modified_at: str = "2026-10-23T16:00:00.000Z") -> dict[str, Any]:
    """A task from task_get_response.json (an OAS composite), with these fields changed: gid, name,
    completed/completed_at, memberships/projects (one project and section), modified_at, assignee, and
    custom_fields reduced to one number field (the composite fills every type's value slot at once)."""
    task = copy.deepcopy(fixture("asana/task_get_response.json")["data"])
    field = copy.deepcopy(task["custom_fields"][0])
    field.update(gid="1209990001", name=field_name, type="number", resource_subtype="number",
                 number_value=json.loads(amount) if amount is not None else None, text_value=None,
                 display_value=amount, enum_value=None, date_value=None, people_value=None, reference_value=None)
    task.update(
        gid=gid, name=name, completed=completed_at is not None, completed_at=completed_at, modified_at=modified_at,
        memberships=[{"project": {"gid": project[0], "resource_type": "project", "name": project[1]},
                      "section": {"gid": "5550" + gid[-3:], "resource_type": "section", "name": section}}],
        projects=[{"gid": project[0], "resource_type": "project", "name": project[1]}],
        assignee={"gid": "12345", "resource_type": "user", "name": "Ben Adeyemi"},
        custom_fields=[field],
    )
    return task


class FakeAsana(FakeServer):
    """`GET /api/1.0/tasks/{gid}`, `GET /api/1.0/tasks?project=..` (limit/offset, next_page), projects."""

    TOKEN = "asana-test-token"

    def __init__(self) -> None:
        super().__init__()
        self.tasks: dict[str, dict[str, Any]] = {}

    def deny(self, request: Request) -> Reply | None:
        if request.header("authorization") != f"Bearer {self.TOKEN}":
            return Reply(401, {"errors": [{"message": "Not Authorized",
                                           "help": fixture("asana/error_response.json")["errors"][0]["help"]}]})
        return None

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/api/1.0/tasks/"):
            gid = request.path.rsplit("/", 1)[1]
            if gid not in self.tasks:
                return Reply(404, {"errors": [{"message": f"task: Unknown object: {gid}"}]})
            return Reply(200, {"data": self.tasks[gid]})
        if request.path == "/api/1.0/tasks":
            project = request.query["project"]
            rows = [t for t in self.tasks.values() if any(p["gid"] == project for p in t["projects"])]
            if "modified_since" in request.query:
                rows = [t for t in rows if t["modified_at"] >= request.query["modified_since"]]
            limit, offset = int(request.query.get("limit", 100)), int(request.query.get("offset") or 0)
            chunk = rows[offset: offset + limit]
            more = offset + limit < len(rows)
            token = str(offset + limit)
            next_page = ({"offset": token, "path": f"/tasks?project={project}&limit={limit}&offset={token}",
                          "uri": f"{self.url}/api/1.0/tasks?project={project}&limit={limit}&offset={token}"}
                         if more else None)
            return Reply(200, {"data": chunk, "next_page": next_page})
        if request.path == "/api/1.0/projects":
            project = fixture("asana/project_response.json")["data"]
            return Reply(200, {"data": [{"gid": project["gid"], "name": project["name"],
                                         "resource_type": "project"}], "next_page": None})
        return Reply(404, {"errors": [{"message": "Not found"}]})


# ----------------------------------------------------------------------------------------------------
# ClickUp API v2


def clickup_task(task_id: str, name: str, *, list_id: str = "123", status: str = "in progress", kind: str = "custom",
                 done_ms: str | None = None, amount: Any = None, updated_ms: str = "1567780450202") -> dict[str, Any]:
    """task_create_response.json with these fields changed: id, name, status, date_done/date_closed,
    date_updated, list, and one currency custom field (the docs collapse custom_fields to [{}])."""
    task = copy.deepcopy(fixture("clickup/task_create_response.json"))
    task.update(id=task_id, name=name, date_done=done_ms, date_closed=done_ms, date_updated=updated_ms,
                status={"status": status, "color": "#6bc950", "orderindex": 2, "type": kind},
                list={"id": list_id, "name": "Website rebuild"},
                custom_fields=[{"id": "be43f58e-0000-4000-8000-000000000001", "name": "Milestone amount",
                                "type": "currency", "type_config": {"currency_type": "GBP"}, "value": amount}])
    return task


class FakeClickUp(FakeServer):
    TOKEN = "pk_test_token"

    def __init__(self, page_size: int = 100) -> None:
        super().__init__()
        self.page_size = page_size
        self.tasks: dict[str, dict[str, Any]] = {}

    def deny(self, request: Request) -> Reply | None:
        if request.header("authorization") != self.TOKEN:
            return Reply(401, {"err": "Token invalid", "ECODE": "OAUTH_025"})
        return None

    def handle(self, request: Request) -> Reply:
        parts = request.path.split("/")
        if len(parts) == 6 and parts[3] == "list" and parts[5] == "task":
            rows = [t for t in self.tasks.values() if t["list"]["id"] == parts[4]]
            if "date_updated_gt" in request.query:
                rows = [t for t in rows if int(t["date_updated"]) > int(request.query["date_updated_gt"])]
            page = int(request.query.get("page", 0))
            chunk = rows[page * self.page_size: (page + 1) * self.page_size]
            return Reply(200, {"tasks": chunk, "last_page": (page + 1) * self.page_size >= len(rows)})
        if len(parts) == 5 and parts[3] == "task":
            task = self.tasks.get(parts[4])
            return Reply(200, task) if task else Reply(404, {"err": "Task not found", "ECODE": "ITEM_013"})
        return Reply(404, {"err": "Route not found", "ECODE": "APP_001"})


# ----------------------------------------------------------------------------------------------------
# Jira Cloud REST API v3


def jira_issue(key: str, summary: str, *, status: str = "In Progress", category: str = "indeterminate",
               resolved: str | None = None, amount: Any = None, project: tuple[str, str, str] = ("10000", "EX",
               "Example"), issue_id: str = "10002") -> dict[str, Any]:
    """An issue shaped like jira-cli's search fixture (key + fields), with the fields the search asks for:
    id, project (as in search_response_v3.json), status with its statusCategory, resolutiondate, and a
    number custom field."""
    base = copy.deepcopy(fixture("jira/search_response_minimal_jira-cli.json")["issues"][0])
    fields = base["fields"]
    fields.update(summary=summary, status={"name": status, "statusCategory": {"key": category}},
                  resolutiondate=resolved, updated=resolved or "2026-10-20T10:00:00.000+0000",
                  project={"id": project[0], "key": project[1], "name": project[2]},
                  assignee={"displayName": "Person A"}, customfield_10042=amount)
    return {"id": issue_id, "key": key, "fields": fields}


class FakeJira(FakeServer):
    EMAIL = "ops@example.com"
    TOKEN = "jira-test-token"

    def __init__(self, page_size: int = 50) -> None:
        super().__init__()
        self.page_size = page_size
        self.issues: list[dict[str, Any]] = []

    def deny(self, request: Request) -> Reply | None:
        if _basic(request) != (self.EMAIL, self.TOKEN):
            return Reply(401, {"errorMessages": ["You are not authenticated. Authentication required to perform "
                                                 "this operation."], "errors": {}})
        return None

    def handle(self, request: Request) -> Reply:
        if request.path == "/rest/api/3/search/jql":
            start = int(request.query.get("nextPageToken") or 0)
            chunk = self.issues[start: start + self.page_size]
            last = start + self.page_size >= len(self.issues)
            body: dict[str, Any] = {"issues": chunk, "isLast": last,
                                    "names": {"customfield_10042": "Milestone amount"}}
            if not last:
                body["nextPageToken"] = str(start + self.page_size)
            return Reply(200, body)
        if request.path.startswith("/rest/api/3/issue/"):
            key = request.path.rsplit("/", 1)[1]
            issue = next((i for i in self.issues if key in (i["key"], i["id"])), None)
            if issue is None:
                return Reply(404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                                   "errors": {}})
            return Reply(200, {**issue, "names": {"customfield_10042": "Milestone amount"}})
        return Reply(404, {"errorMessages": ["not found"], "errors": {}})


def epoch_ms(day: date, hour: int = 12) -> str:
    return str(int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp() * 1000))


Factory = Callable[[], FakeServer]
