"""The HTTP application ``gitferry up`` serves on 127.0.0.1.

- ``/healthz``: open to all, for probes.
- ``/hook/...``: Flux ``Receiver`` webhooks (``receiving.py``), authenticated by their own paths and signatures.
- ``/api/v1/...``: the JSON API (``api.py``); its OpenAPI document is ``/openapi.json``.
- ``/ui/...``: the web pages (``ui.py``).

Errors a client causes come back as ``{"error": "..."}`` (an HTML page under ``/ui``), never as a
trace; an error of ours is logged with its trace and answered with a sentence.
"""

from __future__ import annotations

import asyncio
import logging
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from gitferry import __version__
from gitferry.reactor.loop import Reactor
from gitferry.server import api, problems, queries, receiving, ui
from gitferry.server.auth import AuthError

log = logging.getLogger("gitferry.server")


def _is_page(request: Request) -> bool:
    return request.url.path.startswith(ui.PREFIX)


def _problem(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if not _is_page(request):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    if request.headers.get("hx-request"):  # a fragment: a line in place, not a whole page
        return ui.flash(message, "error", status)
    return ui.templates.TemplateResponse(
        request, "error.html", {"message": message, "principal": None, "can_act": False}, status_code=status
    )


def create_app(reactor: Reactor) -> FastAPI:
    app = FastAPI(
        title="gitferry",
        version=__version__,
        description="What runs, why, and what changed: objects, events, apply history, diffs, pipeline runs.",
        docs_url=None,  # Swagger UI and ReDoc load from a CDN; the OpenAPI document is served
        redoc_url=None,
    )
    stopping = asyncio.Event()
    app.state.stopping = stopping

    @app.get("/healthz", tags=["health"], summary="Liveness: open to all")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(f"{ui.PREFIX}/")

    app.include_router(receiving.router(reactor))
    summaries = queries.Summaries(reactor.world.store)
    app.include_router(api.router(reactor, stopping, summaries))
    app.include_router(ui.router(reactor, stopping, summaries))
    static = resources.files("gitferry.server").joinpath("static")
    app.mount(f"{ui.PREFIX}/static", StaticFiles(directory=str(static)), name="static")

    @app.exception_handler(AuthError)
    async def unauthorized(request: Request, error: AuthError) -> Response:
        if error.status == 401 and _is_page(request):
            login = f"{ui.PREFIX}/login?next={request.url.path}"
            if request.headers.get("hx-request"):
                return Response(status_code=401, headers={"HX-Redirect": login})
            return RedirectResponse(login, status_code=303)
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return _problem(request, error.status, error.message, headers)

    @app.exception_handler(problems.NotFoundError)
    async def not_found(request: Request, error: problems.NotFoundError) -> Response:
        return _problem(request, 404, str(error))

    @app.exception_handler(problems.ConflictError)
    async def conflict(request: Request, error: problems.ConflictError) -> Response:
        return _problem(request, 409, str(error))

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, error: RequestValidationError) -> Response:
        problems = [_where(e) for e in error.errors()]
        message = "malformed request: " + "; ".join(problems)
        if _is_page(request):
            return _problem(request, 422, message)
        return JSONResponse({"error": message, "problems": problems}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        message = str(error.detail)
        if error.status_code == 404:
            message = f"no such page or endpoint: {request.url.path} (the API is under {api.PREFIX}, see /openapi.json)"
        return _problem(request, error.status_code, message)

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=error)
        return _problem(request, 500, "internal error in gitferry; the log of 'gitferry up' has the details")

    return app


def _where(problem: Any) -> str:
    """One readable line per validation problem: ``body.withSource: Input should be a valid boolean``."""
    where = ".".join(str(p) for p in problem.get("loc", ()))
    return f"{where}: {problem.get('msg', 'invalid')}"
