"""What an admin may do over HTTP: reconcile, suspend, resume an object; cancel a pipeline run.

Each action is recorded as an event on its object naming who did it, so the audit trail is the
timeline everybody already reads (and ``gitferry events``), and logged to ``gitferry.audit``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

from gitferry.api.keys import ObjectKey
from gitferry.server.auth import Principal
from gitferry.server.problems import ConflictError, NotFoundError

if TYPE_CHECKING:
    from gitferry.reactor.loop import Reactor

log = logging.getLogger("gitferry.audit")

Verb = Literal["reconcile", "suspend", "resume"]


def _record(reactor: Reactor, key: ObjectKey, reason: str, what: str, principal: Principal, note: str) -> str:
    message = f"{what} by {principal} via the HTTP API" + (f": {note}" if note else "")
    reactor.world.store.add_event(key, "Normal", reason, message)
    log.info("%s: %s", key, message)
    return message


def act(reactor: Reactor, principal: Principal, verb: Verb, key: ObjectKey, *, with_source: bool, note: str) -> str:
    """Do ``verb`` on ``key`` and say what was done. A reconcile is requested, not awaited:
    the answer comes at once and the object's status and events tell the outcome."""
    store = reactor.world.store
    stored = store.get_object(key)
    if stored is None or stored.deleted:
        raise NotFoundError(f"{key.kind} {key.namespace}/{key.name} not found")
    if verb == "suspend":
        store.set_suspended(key, True)
        return _record(reactor, key, "Suspended", "suspended", principal, note)
    if verb == "resume":
        store.set_suspended(key, False)
    keys = [key]
    ref = (stored.manifest.get("spec") or {}).get("sourceRef") or {}
    if with_source and ref:
        keys.insert(
            0, ObjectKey(str(ref.get("kind")), str(ref.get("namespace") or key.namespace), str(ref.get("name")))
        )
    for each in keys:
        reactor.nudge(each)
    what = "resumed and reconcile requested" if verb == "resume" else "reconcile requested"
    if len(keys) > 1:
        what += f" (with its source {keys[0]})"
    return _record(reactor, key, "Resumed" if verb == "resume" else "ReconcileRequested", what, principal, note)


def cancel_run(reactor: Reactor, principal: Principal, name: str, note: str) -> str:
    record = reactor.world.pipelines.store.get(name)
    if record is None:
        raise NotFoundError(f"PipelineRun {name} not found")
    if not reactor.world.pipelines.cancel(name):
        raise ConflictError(f"PipelineRun {name} is {record.status}: only a pending or running run can be cancelled")
    return _record(reactor, ObjectKey("PipelineRun", record.namespace, name), "Cancelled", "cancel requested",
                   principal, note)  # fmt: skip
