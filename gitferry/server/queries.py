"""What the HTTP API and the web pages show, read from the store: one shape for both.

Every function returns plain JSON-ready data. Secrets' values never leave here: a Secret's
``data`` and ``stringData`` are masked key by key, and kubectl's last-applied annotation (which
would hold them again) is dropped.
"""

from __future__ import annotations

from typing import Any

from gitferry.api.catalog import SELF_MANAGED_KINDS, is_self_managed
from gitferry.api.keys import ObjectKey
from gitferry.api.kustomizations import parse_kustomization
from gitferry.api.manifests import Resource
from gitferry.controllers import kustomization, statuses
from gitferry.controllers.diffs import masked
from gitferry.controllers.world import World
from gitferry.errors import GitferryError
from gitferry.store import runs as records
from gitferry.store.sqlite import Event, HistoryEntry, Store, StoredObject

# The overview's order: where changes come from, what applies them, images, pipelines, webhooks.
KIND_ORDER = (
    "GitRepository",
    "Kustomization",
    "ImageRepository",
    "ImagePolicy",
    "ImageUpdateAutomation",
    "Repository",
    "Receiver",
)
assert set(KIND_ORDER) == SELF_MANAGED_KINDS
_PLURALS = {"GitRepository": "GitRepositories", "ImageRepository": "ImageRepositories", "ImagePolicy": "ImagePolicies",
            "Repository": "Repositories"}  # fmt: skip
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def plural(kind: str) -> str:
    return _PLURALS.get(kind, kind + "s")


def redacted(obj: Resource) -> Resource:
    """``obj`` fit to be shown: a Secret's values masked, its last-applied annotation dropped."""
    if obj.get("kind") != "Secret":
        return obj
    out = masked(obj)
    annotations = dict((obj.get("metadata") or {}).get("annotations") or {})
    if _LAST_APPLIED in annotations:
        del annotations[_LAST_APPLIED]
        out = {**out, "metadata": {**out["metadata"], "annotations": annotations}}
    return out


def state_of(stored: StoredObject, status: dict[str, Any]) -> str:
    """One word for the badge: suspended, ready, failed, progressing or unknown; ``stored`` for what
    gitferry keeps but does not reconcile (a Secret made by ``gitferry create secret``)."""
    if stored.key.kind not in SELF_MANAGED_KINDS:
        return "stored"
    if stored.is_suspended:
        return "suspended"
    ready = statuses.condition_of(status)
    if statuses.condition_of(status, "Reconciling") is not None or (ready or {}).get("reason") == statuses.PROGRESSING:
        return "progressing"
    return {True: "ready", False: "failed", None: "unknown"}[statuses.ready_of(status)]


def sync_of(stored: StoredObject, status: dict[str, Any], sources: dict[ObjectKey, dict[str, Any]]) -> str | None:
    """For a Kustomization: ``synced`` when it last applied its source's current revision, as Argo CD says it."""
    if stored.key.kind != "Kustomization":
        return None
    ref = (stored.manifest.get("spec") or {}).get("sourceRef") or {}
    source = ObjectKey(
        str(ref.get("kind", "")), str(ref.get("namespace") or stored.key.namespace), str(ref.get("name"))
    )
    current = ((sources.get(source) or {}).get("artifact") or {}).get("revision")
    applied = status.get("lastAppliedRevision")
    if not current or not applied:
        return "unknown"
    return "synced" if current == applied else "out-of-sync"


def summary(stored: StoredObject, status: dict[str, Any], sources: dict[ObjectKey, dict[str, Any]]) -> dict[str, Any]:
    ready = statuses.condition_of(status) or {}
    label, value_of = statuses.DETAIL_COLUMNS.get(stored.key.kind, ("", lambda _: ""))
    return {
        "kind": stored.key.kind,
        "namespace": stored.key.namespace,
        "name": stored.key.name,
        "state": state_of(stored, status),
        "sync": sync_of(stored, status, sources),
        "ready": ready.get("status", "Unknown"),
        "reason": ready.get("reason", ""),
        "message": ready.get("message", "waiting to be reconciled" if stored.key.kind in SELF_MANAGED_KINDS else ""),
        "since": ready.get("lastTransitionTime", ""),
        "suspended": stored.is_suspended,
        "detail": {"label": label, "value": value_of(status)} if label else None,
        "origin": stored.origin,
        "owner": stored.owner,
    }


def list_objects(store: Store, kind: str | None = None, namespace: str | None = None) -> list[dict[str, Any]]:
    """Summaries of every stored object (of one kind, in one namespace), in one read of each table."""
    found = [s for s in store.list_objects(kind) if namespace is None or s.key.namespace == namespace]
    every_status = store.statuses(kind)
    sources = every_status if kind is None else store.statuses("GitRepository")
    return [summary(s, every_status.get(s.key, {}), sources) for s in found]


class Summaries:
    """Every object's summary, computed again only when the store changed (its change mark moved):
    the overview and the list API ask for all of them, often, and a quiet fleet writes nothing.
    The lists handed out are shared: callers read them, never change them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._mark: tuple[int, int] | None = None
        self._items: list[dict[str, Any]] = []

    def all(self) -> list[dict[str, Any]]:
        mark = self.store.change_mark()
        if mark != self._mark:
            self._items, self._mark = list_objects(self.store), mark
        return self._items

    def select(self, kind: str | None, namespace: str | None, state: str | None) -> list[dict[str, Any]]:
        return [
            item
            for item in self.all()
            if (kind is None or item["kind"] == kind)
            and (namespace is None or item["namespace"] == namespace)
            and (state is None or item["state"] == state)
        ]


def kinds(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each kind among ``items``, gitferry's own first in the overview's order, with counts by state."""
    counts: dict[str, dict[str, int]] = {}
    for item in items:
        by_state = counts.setdefault(item["kind"], {})
        by_state[item["state"]] = by_state.get(item["state"], 0) + 1
    order = [k for k in KIND_ORDER if k in counts] + sorted(set(counts) - set(KIND_ORDER))
    return [{"kind": k, "total": sum(counts[k].values()), "states": counts[k]} for k in order]


def resolve_kind(store: Store, text: str) -> str | None:
    """The stored kind ``text`` names, case-insensitively (``kustomization`` finds ``Kustomization``)."""
    known = {*KIND_ORDER, *store.kinds()}
    return next((k for k in sorted(known) if k.lower() == text.lower()), None)


def detail(store: Store, stored: StoredObject) -> dict[str, Any]:
    status = store.get_status(stored.key)
    return {
        **summary(stored, status, store.statuses("GitRepository")),
        "generation": stored.generation,
        "manifest": redacted(stored.manifest),
        "status": status,
    }


def event(item: Event) -> dict[str, Any]:
    return {
        "id": item.id,
        "time": item.time,
        "kind": item.key.kind,
        "namespace": item.key.namespace,
        "name": item.key.name,
        "type": item.type,
        "reason": item.reason,
        "message": item.message,
    }


def history(entry: HistoryEntry) -> dict[str, Any]:
    commit = entry.commit
    return {
        "id": entry.id,
        "revision": entry.revision,
        "started": entry.started,
        "duration": entry.duration,
        "result": entry.result,
        "message": entry.message,
        "changed": entry.changed,
        "commit": None
        if commit is None
        else {
            "source": {"kind": commit.source.kind, "namespace": commit.source.namespace, "name": commit.source.name},
            "sha": commit.git_commit,
            "author": commit.author,
            "subject": commit.subject,
        },
    }


def run(record: records.RunRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "namespace": record.namespace,
        "pipeline": record.pipeline,
        "repository": record.repository,
        "revision": record.revision,
        "trigger": record.trigger,
        "status": record.status,
        "reason": record.reason,
        "message": record.message,
        "created": record.created,
        "started": record.started,
        "finished": record.finished,
        "results": record.results,
    }


def run_detail(runs: records.PipelineRuns, record: records.RunRecord) -> dict[str, Any]:
    steps = runs.steps(record.name)
    return {
        **run(record),
        "tasks": [
            {
                "name": t.task,
                "finally": t.is_finally,
                "attempt": t.attempt,
                "status": t.status,
                "reason": t.reason,
                "message": t.message,
                "started": t.started,
                "finished": t.finished,
                "results": t.results,
                "steps": [
                    {
                        "name": s.step,
                        "status": s.status,
                        "exitCode": s.exit_code,
                        "reason": s.reason,
                        "started": s.started,
                        "finished": s.finished,
                    }
                    for s in steps
                    if s.task == t.task
                ],
            }
            for t in runs.tasks(record.name)
        ],
    }


def log_line(line: records.LogLine) -> dict[str, Any]:
    return {"id": line.id, "task": line.task, "step": line.step, "line": line.line}


async def inventory(world: World, stored: StoredObject, seen: set[ObjectKey] | None = None) -> list[dict[str, Any]]:
    """The objects a Kustomization applied, as a tree (owned Kustomizations expanded, as ``flux tree``),
    each with its health: the target's kstatus-style answer, or the Ready condition for gitferry's own kinds."""
    seen = (seen or set()) | {stored.key}
    applied = world.store.get_inventory(kustomization.owner_id(stored.key))
    workloads = [k for k, obj in applied.items() if not is_self_managed(obj)]
    health: dict[ObjectKey, tuple[str, str]] = {}
    if workloads:
        try:
            ks = parse_kustomization(stored.manifest, stored.origin)
            target = kustomization.target_of(ks, world)
            found = await target.health(kustomization.owner_of(stored.key), sorted(workloads))
            health = {h.key: (h.status, h.message) for h in found}
        except GitferryError as e:
            health = {k: ("Unknown", f"health not known: {e}") for k in workloads}
    nodes = []
    for key in sorted(applied):
        node: dict[str, Any] = {"kind": key.kind, "namespace": key.namespace, "name": key.name, "children": []}
        if key in health:
            node["health"], node["message"] = health[key]
        else:
            child = world.store.get_object(key)
            status = world.store.get_status(key) if child else {}
            node["health"] = state_of(child, status) if child else "NotFound"
            node["message"] = (statuses.condition_of(status) or {}).get("message", "")
            if child is not None and key.kind == "Kustomization" and key not in seen:
                node["children"] = await inventory(world, child, seen)
        nodes.append(node)
    return nodes
