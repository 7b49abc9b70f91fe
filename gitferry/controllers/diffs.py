"""``diff`` and ``build``: what Git wants beside what runs, and offline rendering."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from gitferry.api.catalog import is_self_managed
from gitferry.api.keys import ObjectKey
from gitferry.api.kustomizations import Kustomization, parse_kustomization
from gitferry.api.manifests import Resource, dump_documents
from gitferry.controllers import kustomization
from gitferry.controllers.gitrepository import artifact_from_status
from gitferry.controllers.world import World
from gitferry.errors import DependencyNotReadyError
from gitferry.store.sqlite import StoredObject

MASK = "*** (masked)"


async def render_local(world: World, ks: Kustomization, folder: Path) -> list[Resource]:
    """Render ``folder`` as ``ks`` would render its source path, without touching any target."""
    world.render_cache.pop(ks.key, None)
    return [m.obj for m in await kustomization.render(ks, world, folder, digest="local")]


def project(desired: Any, live: Any) -> Any:
    """The part of ``desired`` that ``live`` can show: a target reports only what it runs."""
    if isinstance(desired, dict) and isinstance(live, dict):
        return {k: project(v, live[k]) for k, v in desired.items() if k in live}
    if isinstance(desired, list) and isinstance(live, list) and len(desired) == len(live):
        return [project(d, v) for d, v in zip(desired, live, strict=True)]
    return desired


def masked(obj: Resource, other: Resource | None = None, side: str = "") -> Resource:
    """A Secret with its values hidden; a value that differs from ``other``'s is marked with ``side``,
    so a diff shows which keys changed without showing what they hold."""
    if obj.get("kind") != "Secret":
        return obj
    out = dict(obj)
    for field in ("data", "stringData"):
        if field in obj:
            theirs = (other or {}).get(field) or {}
            out[field] = {
                k: MASK if other is None or theirs.get(k) == v else f"{MASK} ({side})"
                for k, v in (obj[field] or {}).items()
            }
    return out


def _unified(key: ObjectKey, have: Resource | None, want: Resource) -> list[str]:
    """The unified diff of one object, live against Git, Secrets' values masked; empty when equal."""
    before = dump_documents([masked(have, want, "live")]) if have is not None else ""
    after = dump_documents([masked(want, have, "git")])
    if before == after:
        return []
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), fromfile=f"live/{key}", tofile=f"git/{key}"
    )
    return list(lines)


async def diff(world: World, stored: StoredObject) -> str:
    """A unified diff, object by object, of desired (from Git) against live; empty when in sync."""
    ks = parse_kustomization(stored.manifest, stored.origin)
    artifact = artifact_from_status(world.store.get_status(ks.source_key()))
    if artifact is None:
        raise DependencyNotReadyError(f"source {ks.source_key()} has no artifact yet: reconcile it first")
    desired = [m.obj for m in await kustomization.render(ks, world, artifact.path, artifact.digest)]
    workloads = [o for o in desired if not is_self_managed(o)]
    keys = [ObjectKey.of(o) for o in workloads]
    target = kustomization.target_of(ks, world)
    owner = kustomization.owner_of(ks.key)
    live = await target.live(owner, keys)
    previews = await target.preview(owner, [o for o in workloads if target.unsupported_reason(o) is None])
    out: list[str] = []
    for obj in desired:
        key = ObjectKey.of(obj)
        if is_self_managed(obj):
            current = world.store.get_object(key)
            now: Resource | None = current.manifest if current and not current.deleted else None
            want = obj if now is None else project(obj, now)
        elif target.unsupported_reason(obj) is not None:
            continue
        elif key in previews:  # the cluster's own answer: whole objects compare exactly
            now, want = live.get(key), previews[key]
            out.extend(_unified(key, now, want))
            continue
        else:
            now = live.get(key)
            want = obj if now is None else project(obj, now)
        have = project(now, obj) if now is not None else None
        out.extend(_unified(key, have, want))
    owned = world.store.get_inventory(kustomization.owner_id(ks.key))
    wanted = {ObjectKey.of(o) for o in desired}
    for key in sorted(set(owned) - wanted):
        out.append(f"--- live/{key}\n+++ git/{key}\n@@ deleted from Git: pruned at the next reconcile @@\n")
    return "".join(out)
