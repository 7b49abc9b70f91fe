"""Flux ``Receiver`` webhooks: ``POST /hook/<digest>``.

A webhook request finds its Receiver by path (Flux's ``/hook/`` + sha256 of token, name and
namespace), passes the sender type's check (``webhooks.check``), and asks the reactor to reconcile
each object the Receiver names, without waiting for them: the answer comes back in milliseconds,
as the senders (GitHub, GitLab, a post-receive hook) expect. Every request that is refused or
handled leaves an event on the Receiver.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gitferry.api.receivers import HOOK_PREFIX, Receiver, missing, targets, webhook_path
from gitferry.controllers.receiver import receivers, token_of
from gitferry.errors import GitferryError
from gitferry.server import webhooks

if TYPE_CHECKING:
    from gitferry.reactor.loop import Reactor


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _find(reactor: Reactor, path: str) -> tuple[Receiver, str] | None:
    """The Receiver whose webhook path is ``path``, with its token (read afresh: rotation works at once)."""
    store = reactor.world.store
    for receiver in receivers(store):
        try:
            token = token_of(receiver, store)
        except GitferryError:
            continue
        if hmac.compare_digest(webhook_path(token, receiver.metadata.name, receiver.metadata.namespace), path):
            return receiver, token
    return None


def router(reactor: Reactor) -> APIRouter:
    hooks = APIRouter(tags=["webhooks"])
    store = reactor.world.store

    @hooks.post(HOOK_PREFIX + "{digest}", summary="A Receiver's webhook (authenticated by its path and signature)")
    async def hook(digest: str, request: Request) -> JSONResponse:
        found = _find(reactor, HOOK_PREFIX + digest)
        if found is None:
            return _error(404, "no Receiver has this path (see 'gitferry get receivers')")
        receiver, token = found
        name = f"Receiver {receiver.metadata.namespace}/{receiver.metadata.name}"
        stored = store.get_object(receiver.key)
        if stored is not None and stored.is_suspended:
            return _error(503, f"{name} is suspended: nothing triggered")
        verdict = webhooks.check(receiver, token, request.headers, await request.body())
        sender = request.client.host if request.client else "unknown"
        if verdict.status != 200:
            refused = f"request from {sender} refused: {verdict.message}"
            store.add_event(receiver.key, "Warning", "ValidationFailed", refused)
            return _error(verdict.status, f"{name}: {verdict.message}")
        reply: dict[str, Any] = {"receiver": receiver.key.namespaced_name, "event": verdict.event, "triggered": []}
        if not verdict.trigger:
            return JSONResponse({**reply, "message": verdict.message})
        objects = [(s.key, dict((s.manifest.get("metadata") or {}).get("labels") or {})) for s in store.list_objects()]
        keys = [key for key in targets(receiver, objects) if reactor.nudge(key)]
        absent = missing(receiver, keys)
        message = f"{verdict.message}: reconcile requested for {', '.join(map(str, keys)) or 'nothing'}"
        if absent:
            message += f"; not found: {', '.join(absent)}"
        store.add_event(receiver.key, "Warning" if absent else "Normal", "Triggered", message)
        return JSONResponse({**reply, "triggered": [str(k) for k in keys], "missing": absent, "message": message})

    return hooks
