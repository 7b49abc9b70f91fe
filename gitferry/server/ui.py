"""The web pages under ``/ui``: server-rendered (Jinja2), kept live by htmx over server-sent events.

Each page is a frame plus fragments; a fragment is fetched again when ``/api/v1/stream`` says the
store changed, so a page follows reconciles without reloading. Actions are buttons that post to
this router and show its answer in place. Every error is a page (or a fragment) with a sentence,
never a trace.
"""

import asyncio
import html
import urllib.parse
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from gitferry.api.manifests import dump_documents
from gitferry.controllers import diffs
from gitferry.errors import GitferryError
from gitferry.pipelines.resolution import task_nodes
from gitferry.reactor.loop import Reactor
from gitferry.server import actions, graphs, problems, queries, streams
from gitferry.server.api import find, find_run, sse
from gitferry.server.auth import COOKIE, Principal, requires
from gitferry.sources.git import show_commit
from gitferry.store import runs as records
from gitferry.store.tokens import Tokens

PREFIX = "/ui"
templates = Jinja2Templates(directory=str(resources.files("gitferry.server").joinpath("templates")))
Page = Callable[..., Awaitable[Response]]


def object_url(kind: str, namespace: str, name: str) -> str:
    return f"{PREFIX}/objects/{kind}/{urllib.parse.quote(namespace)}/{urllib.parse.quote(name)}"


templates.env.globals["object_url"] = object_url
templates.env.filters["plural"] = queries.plural
# Where the object is named just before its message: the message's own "Kind ns/name: " is not repeated.
templates.env.filters["after_name"] = lambda message, o: str(message).removeprefix(
    f"{o['kind']} {o['namespace']}/{o['name']}: "
)
# 'main@sha1:' and 12 hex digits, as git abbreviates: the full revision is in the link's title.
templates.env.filters["short_revision"] = lambda revision: str(revision)[: str(revision).find(":") + 13]


def _graph(record: records.RunRecord, tasks: list[dict[str, Any]]) -> str:
    """The run's task graph as SVG, from the pipeline spec recorded with it (edges unknown for old runs)."""
    spec = (record.manifest.get("status") or {}).get("pipelineSpec")
    parents: dict[str, tuple[str, ...]] = {}
    if spec:
        try:
            parents = {n.name: n.parents for n in task_nodes(spec)}
        except GitferryError:
            parents = {}
    nodes = [graphs.GraphNode(t["name"], parents.get(t["name"], ()), t["status"], t["finally"]) for t in tasks]
    return graphs.task_graph_svg(nodes)


AT_A_GLANCE = 100  # rows per kind on the overview; every object that is not ready is shown whatever the count


def _at_a_glance(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the overview lists of one kind: everything not ready, then ready ones up to AT_A_GLANCE
    (a fleet of 1,000 would otherwise make a page of 600 KiB that every open tab fetches at each change)."""
    if len(objects) <= AT_A_GLANCE:
        return objects
    unwell = [o for o in objects if o["state"] != "ready"]
    return unwell + [o for o in objects if o["state"] == "ready"][: max(0, AT_A_GLANCE - len(unwell))]


def router(reactor: Reactor, stopping: asyncio.Event, summaries: queries.Summaries) -> APIRouter:
    store = reactor.world.store
    runs = reactor.world.pipelines.store
    ui = APIRouter(prefix=PREFIX, include_in_schema=False)
    Viewer = Annotated[Principal, Depends(requires(store))]
    Admin = Annotated[Principal, Depends(requires(store, act=True))]

    def render(
        request: Request,
        template: str,
        principal: Principal | None,
        status: int = 200,
        *,
        since: tuple[int, int] | None = None,
        **values: Any,
    ) -> Response:
        """``since``: the store's change mark read before the page's data, so that a write made while the
        page was built is signalled by its stream at once."""
        values |= {
            "principal": principal,
            "can_act": bool(principal and principal.role.can_act),
            "mark": streams.mark_text(since or store.change_mark()),
        }
        return templates.TemplateResponse(request, template, values, status_code=status)

    @ui.get("/login")
    async def login_form(request: Request, next: str = "/ui/") -> Response:
        return render(request, "login.html", None, next=_local(next))

    @ui.post("/login")
    async def login(request: Request) -> Response:
        form = urllib.parse.parse_qs((await request.body()).decode(errors="replace"))
        token = (form.get("token") or [""])[0].strip()
        target = _local((form.get("next") or ["/ui/"])[0])
        record = Tokens(store).verify(token)
        if record is None:
            return render(request, "login.html", None, 401, next=target, error="That token is not valid.")
        reply = RedirectResponse(target, status_code=303)
        reply.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return reply

    @ui.post("/logout")
    async def logout() -> Response:
        reply = RedirectResponse(f"{PREFIX}/login", status_code=303)
        reply.delete_cookie(COOKIE, path="/")
        return reply

    @ui.get("/")
    async def overview(request: Request, principal: Viewer) -> Response:
        since = store.change_mark()
        return render(request, "overview.html", principal, since=since, overview=Markup(_overview()))

    @ui.get("/fragments/overview")
    async def overview_fragment(_: Viewer) -> Response:
        return HTMLResponse(_overview())

    overview_cache: dict[tuple[int, int], str] = {}

    def _overview() -> str:
        """The overview's body, rendered once per store change: it is the same for every reader, and
        every open tab fetches it again at each change."""
        mark = store.change_mark()
        if mark not in overview_cache:
            overview_cache.clear()
            overview_cache[mark] = templates.get_template("_overview.html").render(**_overview_data())
        return overview_cache[mark]

    def _overview_data() -> dict[str, Any]:
        items = [item for item in summaries.all() if item["kind"] in queries.KIND_ORDER]  # what gitferry reconciles
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            by_kind.setdefault(item["kind"], []).append(item)
        order = [k for k in queries.KIND_ORDER if k in by_kind]
        counts: dict[str, int] = {}
        for item in items:
            counts[item["state"]] = counts.get(item["state"], 0) + 1
        failing = [i for i in items if i["state"] == "failed"]
        recent = [queries.run(r) for r in runs.recent(limit=10)]
        kinds = [(k, _at_a_glance(by_kind[k]), len(by_kind[k])) for k in order]
        return {"kinds": kinds, "counts": counts, "failing": failing, "runs": recent}

    def live(path: str, template: str, data: Callable[[Request], dict[str, Any]]) -> None:
        """A page at ``path`` (``template``.html) and its live part at ``/fragments`` + ``path``
        (``_template``.html), which the page fetches again when the store changes: both from ``data``,
        which reads the request's path and query parameters."""

        @ui.get(path, name=f"{template}_page")
        async def page(request: Request, principal: Viewer) -> Response:
            since = store.change_mark()
            return render(request, f"{template}.html", principal, since=since, **data(request))

        @ui.get(f"/fragments{path}", name=f"{template}_fragment")
        async def fragment(request: Request, principal: Viewer) -> Response:
            return render(request, f"_{template}.html", principal, **data(request))

    def _kind(request: Request) -> dict[str, Any]:
        text = request.path_params["kind"]
        kind = queries.resolve_kind(store, text)
        if kind is None:
            raise problems.NotFoundError(f"unknown kind {text!r}")
        return {"kind": kind, "objects": summaries.select(kind, None, None)}

    def _object(request: Request) -> dict[str, Any]:
        stored = find(reactor, **request.path_params)
        return {
            "obj": queries.detail(store, stored),
            "events": [queries.event(e) for e in reversed(store.events(stored.key, 50))],
            "history": [queries.history(h) for h in reversed(store.history(stored.key, 30))],
            "manifest_yaml": dump_documents([queries.redacted(stored.manifest)]),
        }

    def _runs(_: Request) -> dict[str, Any]:
        return {"runs": [queries.run(r) for r in runs.recent(limit=100)]}

    def _run(request: Request) -> dict[str, Any]:
        record = find_run(runs, request.path_params["name"])
        detail = queries.run_detail(runs, record)
        return {"run": detail, "graph": _graph(record, detail["tasks"])}

    def _timeline(request: Request) -> dict[str, Any]:
        kind = request.query_params.get("kind") or None
        items: list[dict[str, Any]] = [
            {"at": e.time, "event": queries.event(e)} for e in store.events(None, 200, kind=kind)
        ]
        if not kind or kind == "PipelineRun":
            # Runs keep milliseconds; events whole seconds: compare and show them alike.
            items += [{"at": r.created[:19] + "Z", "run": queries.run(r)} for r in runs.recent(limit=50)]
        items.sort(key=lambda item: item["at"], reverse=True)
        kinds = [k["kind"] for k in queries.kinds(summaries.all())] + ["PipelineRun"]
        return {"items": items[:200], "kind": kind or "", "kinds": kinds}

    live("/kinds/{kind}", "kind", _kind)
    live("/objects/{kind}/{namespace}/{name}", "object", _object)
    live("/runs", "runs", _runs)
    live("/runs/{name}", "run", _run)
    live("/timeline", "timeline", _timeline)

    @ui.get("/fragments/objects/{kind}/{namespace}/{name}/inventory")
    async def inventory_fragment(request: Request, principal: Viewer, kind: str, namespace: str, name: str) -> Response:
        stored = find(reactor, kind, namespace, name)
        tree = await queries.inventory(reactor.world, stored)
        return render(request, "_inventory.html", principal, nodes=tree)

    @ui.get("/fragments/objects/{kind}/{namespace}/{name}/diff")
    async def diff_fragment(request: Request, principal: Viewer, kind: str, namespace: str, name: str) -> Response:
        stored = find(reactor, kind, namespace, name)
        try:
            text, problem = await diffs.diff(reactor.world, stored), ""
        except GitferryError as e:
            text, problem = "", str(e)
        return render(request, "_diff.html", principal, diff=text, problem=problem)

    def _act(verb: actions.Verb) -> Page:
        async def act(request: Request, principal: Admin, kind: str, namespace: str, name: str) -> Response:
            stored = find(reactor, kind, namespace, name)
            return flash(actions.act(reactor, principal, verb, stored.key, with_source=False, note=""))

        act.__name__ = f"ui_{verb}"
        return act

    for verb in ("reconcile", "suspend", "resume"):
        ui.post(f"/objects/{{kind}}/{{namespace}}/{{name}}/{verb}")(_act(verb))

    @ui.get("/runs/{name}/logs/stream")
    async def run_log_stream(request: Request, principal: Viewer, name: str) -> Response:
        find_run(runs, name)

        def as_html(batch: list[records.LogLine]) -> tuple[str, str]:
            lines = "".join(
                f'<div class="line" data-id="{line.id}"><span class="where">{html.escape(line.task)}/'
                f"{html.escape(line.step)}</span> {html.escape(line.line)}</div>"
                for line in batch
            )
            return "lines", lines

        return sse(streams.logs(runs, name, request, stopping, after=0, render=as_html))

    @ui.post("/runs/{name}/cancel")
    async def cancel_run(request: Request, principal: Admin, name: str) -> Response:
        return flash(actions.cancel_run(reactor, principal, name, ""))

    @ui.get("/commits/{namespace}/{name}/{sha}")
    async def commit_page(request: Request, principal: Viewer, namespace: str, name: str, sha: str) -> Response:
        find(reactor, "GitRepository", namespace, name)
        try:
            shown, problem = await show_commit(reactor.world.storage, namespace, name, sha), ""
        except GitferryError as e:
            shown, problem = "", str(e)
        return render(request, "commit.html", principal, namespace=namespace, name=name, sha=sha,
                      shown=shown, problem=problem)  # fmt: skip

    return ui


def flash(message: str, kind: str = "ok", status: int = 200) -> HTMLResponse:
    """The one-line answer an action (or a refused fragment) shows in place."""
    return HTMLResponse(f'<span class="flash {kind}">{html.escape(message, quote=False)}</span>', status_code=status)


def _local(target: str) -> str:
    """Only a path on this server may follow a login: never another site."""
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if local else f"{PREFIX}/"
