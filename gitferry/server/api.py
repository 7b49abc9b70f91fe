"""The JSON API under ``/api/v1``: every kind with its status, events, apply history, inventory,
diff, pipeline runs and their logs (also streamed), and the admin actions.

Objects are addressed as ``/objects/{kind}/{namespace}/{name}``; the kind is matched without
regard to case. Errors are ``{"error": "..."}`` with 401, 403, 404, 409 or 422, never a trace.
"""

import asyncio
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from gitferry.api.keys import ObjectKey
from gitferry.controllers import diffs
from gitferry.errors import GitferryError
from gitferry.reactor.loop import Reactor
from gitferry.server import actions, problems, queries, streams
from gitferry.server.auth import Principal, requires
from gitferry.store import runs as records
from gitferry.store.sqlite import StoredObject

PREFIX = "/api/v1"


class ActionRequest(BaseModel):
    """Optional body of an action."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    reason: str = Field("", max_length=500, description="Why; recorded in the event with who acted.")
    with_source: bool = Field(False, alias="withSource", description="Reconcile the source first (reconcile only).")


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def find(reactor: Reactor, kind: str, namespace: str, name: str) -> StoredObject:
    store = reactor.world.store
    resolved = queries.resolve_kind(store, kind)
    if resolved is None:
        known = ", ".join(queries.KIND_ORDER)
        raise problems.NotFoundError(f"unknown kind {kind!r} (kinds: {known}, and any other kind stored, as Secret)")
    stored = store.get_object(ObjectKey(resolved, namespace, name))
    if stored is None or stored.deleted:
        raise problems.NotFoundError(f"{resolved} {namespace}/{name} not found")
    return stored


def find_run(runs: records.PipelineRuns, name: str) -> records.RunRecord:
    record = runs.get(name)
    if record is None:
        raise problems.NotFoundError(f"PipelineRun {name} not found")
    return record


def sse(stream: Any) -> StreamingResponse:
    return StreamingResponse(stream, media_type="text/event-stream", headers={"Cache-Control": "no-store"})


def router(reactor: Reactor, stopping: asyncio.Event, summaries: queries.Summaries) -> APIRouter:
    store = reactor.world.store
    runs = reactor.world.pipelines.store

    Viewer = Annotated[Principal, Depends(requires(store))]
    Admin = Annotated[Principal, Depends(requires(store, act=True))]
    api = APIRouter(prefix=PREFIX, tags=["gitferry"])

    @api.get("/whoami", summary="The token's name and role")
    async def whoami(principal: Viewer) -> JSONResponse:
        return ok({"name": principal.name, "role": principal.role.value, "canAct": principal.role.can_act})

    @api.get("/kinds", summary="Each kind stored, with counts by state")
    async def kinds(_: Viewer) -> JSONResponse:
        return ok(queries.kinds(summaries.all()))

    @api.get("/objects", summary="Every object with its status summary")
    async def list_objects(
        _: Viewer, kind: str | None = None, namespace: str | None = None, state: str | None = None
    ) -> JSONResponse:
        resolved = None
        if kind is not None:
            resolved = queries.resolve_kind(store, kind)
            if resolved is None:
                return ok([])
        return ok(summaries.select(resolved, namespace, state))

    @api.get("/objects/{kind}/{namespace}/{name}", summary="One object: summary, manifest (Secrets masked), status")
    async def get_object(_: Viewer, kind: str, namespace: str, name: str) -> JSONResponse:
        return ok(queries.detail(store, find(reactor, kind, namespace, name)))

    @api.get("/objects/{kind}/{namespace}/{name}/events", summary="The object's events, newest last")
    async def object_events(
        _: Viewer, kind: str, namespace: str, name: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> JSONResponse:
        stored = find(reactor, kind, namespace, name)
        return ok([queries.event(e) for e in store.events(stored.key, limit)])

    @api.get("/objects/{kind}/{namespace}/{name}/history", summary="Apply history with each revision's commit")
    async def object_history(
        _: Viewer, kind: str, namespace: str, name: str, limit: Annotated[int, Query(ge=1, le=1000)] = 50
    ) -> JSONResponse:
        stored = find(reactor, kind, namespace, name)
        return ok([queries.history(h) for h in reversed(store.history(stored.key, limit))])

    @api.get("/objects/{kind}/{namespace}/{name}/inventory", summary="What a Kustomization applied, with health")
    async def object_inventory(_: Viewer, kind: str, namespace: str, name: str) -> JSONResponse:
        stored = find(reactor, kind, namespace, name)
        return ok(await queries.inventory(reactor.world, stored))

    @api.get("/objects/{kind}/{namespace}/{name}/diff", summary="Unified diff of Git against what runs")
    async def object_diff(_: Viewer, kind: str, namespace: str, name: str) -> JSONResponse:
        stored = find(reactor, kind, namespace, name)
        if stored.key.kind != "Kustomization":
            raise problems.NotFoundError(
                f"{stored.key.kind} {namespace}/{name} has no diff: only Kustomizations apply objects"
            )
        try:
            text = await diffs.diff(reactor.world, stored)
        except GitferryError as e:
            return ok({"error": f"cannot diff {stored.key}: {e}"}, 409)
        return ok({"inSync": not text, "diff": text})

    def _action(verb: actions.Verb) -> Callable[..., Any]:
        async def run_action(
            principal: Admin,
            kind: str,
            namespace: str,
            name: str,
            body: Annotated[ActionRequest | None, Body()] = None,
        ) -> JSONResponse:
            stored = find(reactor, kind, namespace, name)
            request = body or ActionRequest.model_validate({})
            message = actions.act(
                reactor, principal, verb, stored.key, with_source=request.with_source, note=request.reason
            )
            return ok({"message": f"{stored.key}: {message}"}, 202)

        return run_action

    for verb in ("reconcile", "suspend", "resume"):
        api.post(f"/objects/{{kind}}/{{namespace}}/{{name}}/{verb}", summary=f"{verb.capitalize()} (admin)",
                 status_code=202)(_action(verb))  # fmt: skip

    @api.get("/events", summary="Events across everything, newest first (the timeline)")
    async def all_events(
        _: Viewer,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        kind: str | None = None,
        type: str | None = None,
    ) -> JSONResponse:
        found = [queries.event(e) for e in store.events(None, limit=limit, kind=kind, type_=type)]
        return ok(list(reversed(found)))

    @api.get("/pipelineruns", summary="Pipeline runs, newest first")
    async def list_runs(
        _: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 50, repository: str | None = None
    ) -> JSONResponse:
        return ok([queries.run(r) for r in runs.recent(limit=limit, repository=repository)])

    @api.get("/pipelineruns/{name}", summary="A run with its tasks and steps")
    async def get_run(_: Viewer, name: str) -> JSONResponse:
        return ok(queries.run_detail(runs, find_run(runs, name)))

    @api.get("/pipelineruns/{name}/logs", summary="Log lines after an id")
    async def run_logs(
        _: Viewer, name: str, after: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1)] = 10_000
    ) -> JSONResponse:
        find_run(runs, name)
        return ok([queries.log_line(line) for line in runs.logs(name, after=after, limit=limit)])

    @api.get("/pipelineruns/{name}/logs/stream", summary="Log lines as server-sent events until the run ends")
    async def stream_logs(_: Viewer, name: str, request: Request, after: Annotated[int, Query(ge=0)] = 0) -> Any:
        find_run(runs, name)

        def as_json(batch: list[records.LogLine]) -> tuple[str, str]:
            return "lines", json.dumps([queries.log_line(line) for line in batch])

        return sse(streams.logs(runs, name, request, stopping, after=after, render=as_json))

    @api.post("/pipelineruns/{name}/cancel", summary="Cancel a pending or running run (admin)", status_code=202)
    async def cancel(principal: Admin, name: str, body: Annotated[ActionRequest | None, Body()] = None) -> JSONResponse:
        message = actions.cancel_run(reactor, principal, name, (body or ActionRequest.model_validate({})).reason)
        return ok({"message": f"PipelineRun {name}: {message}"}, 202)

    @api.get("/stream", summary="A 'change' server-sent event whenever anything was written")
    async def changes(_: Viewer, request: Request, since: str = "") -> Any:
        return sse(streams.changes(store, request, stopping, since))

    return api
