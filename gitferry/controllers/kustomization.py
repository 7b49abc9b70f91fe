"""Reconcile a Kustomization: render its source path, apply to the target, prune, check health.

The order is Flux's: dependencies and source first, then render and validate the WHOLE set,
and only then apply. A failure at any step leaves what was running in place and says why.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gitferry.api.catalog import is_self_managed, parse_object
from gitferry.api.keys import ObjectKey, timestamp
from gitferry.api.kustomizations import Kustomization, parse_kustomization
from gitferry.api.manifests import Manifest, Resource
from gitferry.api.meta import parse_duration
from gitferry.controllers import dependencies, statuses
from gitferry.controllers.gitrepository import artifact_from_status
from gitferry.controllers.inventory import changes, inventory_entries, to_prune
from gitferry.controllers.outcome import Outcome
from gitferry.controllers.world import SELF_MANAGED_KINDS, RenderCacheEntry, World
from gitferry.errors import (
    DependencyNotReadyError,
    GitferryError,
    InvalidObjectError,
    PathNotFoundError,
    RenderError,
    is_permanent,
)
from gitferry.render import build as render_build
from gitferry.render.substitute import merge_variables
from gitferry.store.sqlite import BOOTSTRAP_OWNER, StoredObject
from gitferry.targets.base import Applied, ApplyOptions, Health, Owner, Target

log = logging.getLogger("gitferry.kustomization")

KIND = "Kustomization"


def target_of(ks: Kustomization, world: World) -> Target:
    """The target of this Kustomization: a remote cluster (``spec.kubeConfig``) or gitferry's own."""
    return world.target_for(ks.metadata.namespace, ks.spec.kube_config, ks.spec.service_account_name)


def owner_of(key: ObjectKey) -> Owner:
    return Owner(key.namespace, key.name)


def owner_id(key: ObjectKey) -> str:
    return key.namespaced_name


async def reconcile(stored: StoredObject, world: World, *, failures: int = 0) -> Outcome:
    key = stored.key
    old = world.store.get_status(key)
    try:
        ks = parse_kustomization(stored.manifest, stored.origin)
    except InvalidObjectError as e:
        return _fail(world, key, old, stored.generation, e, retry=60.0, revision="")
    if ks.spec.suspend or stored.suspended:
        return Outcome(requeue_after=ks.spec.interval_seconds, ready=statuses.ready_of(old), message="suspended")
    revision = ""
    try:
        unsupported = ks.unsupported_fields()
        if unsupported:
            raise InvalidObjectError(f"not supported yet: {', '.join(unsupported)}")
        artifact = artifact_from_status(world.store.get_status(ks.source_key()))
        if artifact is None:
            raise DependencyNotReadyError(
                f"source '{ks.spec.source_ref.kind}/{ks.source_key().namespace}/{ks.spec.source_ref.name}'"
                " has no artifact yet"
            )
        revision = artifact.revision
        _check_dependencies(ks, world, revision)
        if revision != old.get("lastAttemptedRevision") or stored.generation != old.get("observedGeneration"):
            # Something new to apply: say so while it happens (Flux's Reconciling condition).
            old = statuses.mark(
                old,
                ready=None,
                reason=statuses.PROGRESSING,
                message=f"Reconciliation in progress: revision '{revision}'",
                generation=stored.generation,
                reconciling=True,
            )
            world.store.put_status(key, old)
        manifests = await render(ks, world, artifact.path, artifact.digest)
        return await _apply(ks, stored, world, old, manifests, revision)
    except GitferryError as e:
        retry = ks.spec.retry_interval_seconds
        return _fail(world, key, old, stored.generation, e, retry=retry, revision=revision)


def _check_dependencies(ks: Kustomization, world: World, revision: str) -> None:
    deps = ks.dependency_keys()
    if not deps:
        return

    def deps_of(key: ObjectKey) -> list[ObjectKey]:
        stored = world.store.get_object(key)
        return dependencies_of(stored) if stored is not None and not stored.deleted else []

    cycle = dependencies.find_cycle(deps_of, ks.key)
    if cycle:
        path = " -> ".join(f"{k.namespace}/{k.name}" for k in cycle)
        raise InvalidObjectError(f"Kustomization {owner_id(ks.key)}: field spec.dependsOn: dependency cycle {path}")
    states = {}
    for dep in deps:
        stored = world.store.get_object(dep)
        if stored is None or stored.deleted:
            continue
        status = world.store.get_status(dep)
        states[dep] = dependencies.DependencyState(
            ready=statuses.ready_of(status),
            generation=stored.generation,
            observed_generation=int(status.get("observedGeneration", 0)),
            source=source_of(stored),
            last_applied_revision=str(status.get("lastAppliedRevision", "")),
        )
    blocked = dependencies.blocking_dependency(deps, states, ks.source_key(), revision)
    if blocked:
        raise DependencyNotReadyError(f"{blocked[1]} (field spec.dependsOn)")


def source_of(stored: StoredObject) -> ObjectKey | None:
    """The source a stored Kustomization reads, without validating the whole object."""
    if stored.key.kind != KIND:
        return None
    ref = (stored.manifest.get("spec") or {}).get("sourceRef") or {}
    return ObjectKey(str(ref.get("kind")), str(ref.get("namespace") or stored.key.namespace), str(ref.get("name")))


def dependencies_of(stored: StoredObject) -> list[ObjectKey]:
    """The dependsOn keys of a stored Kustomization, without validating the whole object."""
    spec = stored.manifest.get("spec") or {}
    return [
        ObjectKey(KIND, str(d.get("namespace") or stored.key.namespace), str(d.get("name")))
        for d in spec.get("dependsOn") or []
        if isinstance(d, dict)
    ]


def variables_for(ks: Kustomization, world: World) -> dict[str, str]:
    post = ks.spec.post_build
    if post is None:
        return {}
    lookups: dict[tuple[str, str], dict[str, str] | None] = {
        (ref.kind, ref.name): world.lookup_data(ref.kind, ks.metadata.namespace, ref.name)
        for ref in post.substitute_from
    }
    return merge_variables(ks, lookups)


async def render(ks: Kustomization, world: World, source_root: Path, digest: str) -> list[Manifest]:
    """The rendered set, from kustomize or from the cache when nothing that feeds it changed."""
    variables = variables_for(ks, world)
    cache_key = hashlib.sha256(
        json.dumps(
            [digest, ks.spec.model_dump(by_alias=True), variables, world.strict_substitute], sort_keys=True
        ).encode()
    ).hexdigest()
    cached = world.render_cache.get(ks.key)
    if cached is not None and cached.key == cache_key:
        return cached.manifests
    manifests = await render_build.build(
        source_root, ks, variables=variables, strict_substitute=world.strict_substitute, scratch_dir=world.scratch
    )
    _validate(ks, world, manifests)
    world.render_cache[ks.key] = RenderCacheEntry(cache_key, manifests)
    return manifests


def _validate(ks: Kustomization, world: World, manifests: Sequence[Manifest]) -> None:
    """Every object must be one the target or gitferry can take, before any of them is applied.

    gitferry's own kinds are checked as the API server's schema would check them, so a bad child
    Kustomization fails its parent (naming file and field) and the running child keeps its spec.
    """
    target = target_of(ks, world)
    for manifest in manifests:
        try:
            if is_self_managed(manifest.obj):
                parse_object(manifest.obj, manifest.origin)
            else:
                # Unknown kinds raise here; kinds the target cannot run are skipped and reported later.
                target.unsupported_reason(manifest.obj)
                continue
        except InvalidObjectError as e:
            where = "" if manifest.origin in str(e) else f" (in {manifest.origin})"
            raise InvalidObjectError(f"{e}{where}") from e


async def _apply(
    ks: Kustomization,
    stored: StoredObject,
    world: World,
    old: dict[str, Any],
    manifests: list[Manifest],
    revision: str,
) -> Outcome:
    objects = [m.obj for m in manifests]
    key = ks.key
    owner = owner_id(key)
    started, started_at = time.monotonic(), timestamp()
    old_inventory = world.store.get_inventory(owner)
    own = [m for m in manifests if is_self_managed(m.obj)]
    workloads = [o for o in objects if not is_self_managed(o)]
    options = ApplyOptions(force=ks.spec.force, timeout=ks.spec.timeout_seconds)
    target = target_of(ks, world)
    try:
        # A set of only gitferry objects (a cluster's root) need not ask the target anything.
        applied = await target.apply(owner_of(key), workloads, options) if workloads else []
    except GitferryError:
        # What the target did apply stays owned: keep old and new keys so nothing is orphaned.
        _save_inventory(world, owner, old_inventory, _union(old_inventory, objects))
        raise
    applied += _apply_own(own, owner, world)
    new_keys = [ObjectKey.of(o) for o in objects]
    pruned: list[ObjectKey] = []
    if ks.spec.prune:
        gone = to_prune(old_inventory, new_keys)
        pruned = await _prune(target, world, key, gone, old_inventory)
        kept = [old_inventory[k] for k in gone if k not in pruned]
        _save_inventory(world, owner, old_inventory, [*objects, *kept])
    else:
        _save_inventory(world, owner, old_inventory, _union(old_inventory, objects))
    changed = changes(applied) + [f"{k} pruned" for k in pruned]
    skipped = [a for a in applied if a.action == "skipped"]
    health_error = await _wait_healthy(ks, world, objects, applied) if (ks.spec.wait or ks.spec.health_checks) else None
    message = f"Applied revision: {revision}"
    if skipped:
        message += f"; not run on {target.name}: " + ", ".join(f"{a.key} ({a.detail})" for a in skipped)
    ignoring = [a for a in applied if a.action != "skipped" and a.detail]
    if ignoring:
        message += "; " + ", ".join(f"{a.key}: {a.detail}" for a in ignoring)
    duration = time.monotonic() - started
    applied_fields = {
        "lastAttemptedRevision": revision,
        "lastAppliedRevision": revision,
        "inventory": {"entries": inventory_entries(objects)},
    }
    new = statuses.mark(
        old,
        ready=not health_error,
        reason=statuses.HEALTH_CHECK_FAILED if health_error else statuses.RECONCILIATION_SUCCEEDED,
        message=health_error or message,
        generation=stored.generation,
        fields=applied_fields,
    )
    first_success = statuses.ready_of(old) is not True
    if changed or first_success or not statuses.same_apart_from_times(old, new):
        world.store.put_status(key, new)
    if changed or first_success or health_error:
        result = "HealthCheckFailed" if health_error else "Succeeded"
        world.store.add_history(
            key,
            revision=revision,
            started=started_at,
            duration=round(duration, 3),
            result=result,
            message=health_error or message,
            changed=changed,
        )
    if changed:
        world.store.add_event(key, "Normal", statuses.RECONCILIATION_SUCCEEDED, "\n".join(changed))
        log.info("%s: %s (%d changed) in %.2fs", key, message, len(changed), duration)
    if health_error and (statuses.condition_of(old) or {}).get("message") != health_error:
        world.store.add_event(key, "Warning", statuses.HEALTH_CHECK_FAILED, health_error)
    wake = [a.key for a in applied if a.key.kind in SELF_MANAGED_KINDS and a.action in ("created", "configured")]
    retry = ks.spec.retry_interval_seconds if health_error else ks.spec.interval_seconds
    return Outcome(
        requeue_after=retry,
        ready=not health_error,
        message=health_error or message,
        wake=wake + [k for k in pruned if k.kind in SELF_MANAGED_KINDS],
    )


def _apply_own(manifests: Sequence[Manifest], owner: str, world: World) -> list[Applied]:
    """gitferry's own kinds (sources, Kustomizations, image objects) are stored: that is applying them."""
    applied = []
    for manifest in manifests:
        obj = manifest.obj
        key = ObjectKey.of(obj)
        existing = world.store.get_object(key)
        if existing is not None and existing.owner not in (owner, BOOTSTRAP_OWNER) and not existing.deleted:
            raise InvalidObjectError(f"{key} is already managed by Kustomization {existing.owner}")
        # The root objects stay owned by bootstrap, so pruning them from Git cannot cut the branch we sit on.
        stored_owner = BOOTSTRAP_OWNER if existing is not None and existing.owner == BOOTSTRAP_OWNER else owner
        changed = world.store.put_object(obj, owner=stored_owner, origin=manifest.origin)
        applied.append(Applied(key, ("created" if existing is None else "configured") if changed else "unchanged"))
    return applied


async def _prune(
    target: Target, world: World, key: ObjectKey, gone: list[ObjectKey], inventory: dict[ObjectKey, Resource]
) -> list[ObjectKey]:
    def ours(k: ObjectKey) -> bool:
        last = inventory.get(k)
        return is_self_managed(last) if last is not None else k.kind in SELF_MANAGED_KINDS

    own = [k for k in gone if ours(k)]
    for k in own:
        world.store.mark_deleted(k)
    workloads = [k for k in gone if not ours(k)]
    removed = await target.prune(owner_of(key), workloads) if workloads else []
    # Objects the target no longer has are gone either way; the inventory must not keep them.
    return own + [k for k in workloads if k in removed or k not in inventory]


def _save_inventory(world: World, owner: str, old: dict[ObjectKey, Resource], objects: Sequence[Resource]) -> None:
    """Write the inventory only when it changed: most reconciles change nothing."""
    if {ObjectKey.of(o): o for o in objects} != old:
        world.store.set_inventory(owner, objects)


def _union(old: dict[ObjectKey, Resource], objects: Sequence[Resource]) -> list[Resource]:
    merged = dict(old)
    for obj in objects:
        merged[ObjectKey.of(obj)] = obj
    return list(merged.values())


async def _wait_healthy(
    ks: Kustomization, world: World, objects: Sequence[Resource], applied: Sequence[Applied]
) -> str | None:
    """None when every checked object is Current before the timeout; else which are not, and why."""
    if ks.spec.wait:
        keys = [a.key for a in applied if a.action != "skipped" and a.key.kind not in SELF_MANAGED_KINDS]
    else:
        keys = [ObjectKey(h.kind, h.namespace or ks.metadata.namespace, h.name) for h in ks.spec.health_checks]
    if not keys:
        return None
    target, deadline = target_of(ks, world), world.clock.monotonic() + ks.spec.timeout_seconds
    while True:
        report = await target.health(owner_of(ks.key), keys)
        bad = [h for h in report if h.status != "Current"]
        if not bad:
            return None
        if any(h.status == "Failed" for h in bad) or world.clock.monotonic() >= deadline:
            return "health check failed: " + "; ".join(_describe(h) for h in bad)
        await world.clock.sleep(world.health_poll_seconds)


def _describe(health: Health) -> str:
    return f"{health.key} {health.status}" + (f": {health.message}" if health.message else "")


def _fail(
    world: World,
    key: ObjectKey,
    old: dict[str, Any],
    generation: int,
    error: GitferryError,
    *,
    retry: float,
    revision: str,
) -> Outcome:
    permanent = is_permanent(error)
    waiting = isinstance(error, DependencyNotReadyError)  # expected while dependencies start: no alarm
    if waiting:
        reason = statuses.DEPENDENCY_NOT_READY
    elif isinstance(error, RenderError):
        reason = statuses.BUILD_FAILED
    elif isinstance(error, PathNotFoundError):
        reason = statuses.ARTIFACT_FAILED
    elif permanent:
        reason = statuses.INVALID
    else:
        reason = statuses.RECONCILIATION_FAILED
    message = statuses.naming(key, str(error))
    applied = old.get("lastAppliedRevision")
    if applied and not waiting:
        message += f" (last applied revision '{applied}' keeps running)"
    fields = {"lastAttemptedRevision": revision} if revision else {}
    new = statuses.mark(
        old, ready=False, reason=reason, message=message, generation=generation, stalled=permanent, fields=fields
    )
    if world.record_failure(key, old, new, ("Normal" if waiting else "Warning", reason)):
        if revision and not waiting:
            world.store.add_history(
                key, revision=revision, started=timestamp(), duration=0.0, result=reason, message=message, changed=[]
            )
        log.log(logging.INFO if waiting else logging.WARNING, "%s: %s", key, message)
    return Outcome(requeue_after=retry, ready=False, message=message)


def _timeout_of(spec: dict[str, Any]) -> float:
    try:
        return parse_duration(str(spec.get("timeout") or spec.get("interval") or "5m"))
    except ValueError:
        return 300.0


async def _wait_terminated(target: Target, world: World, key: ObjectKey, keys: list[ObjectKey], timeout: float) -> None:
    """Until the target has none of ``keys`` left, or ``timeout``; then it says which remain."""
    workloads = [k for k in keys if k.kind not in SELF_MANAGED_KINDS]
    deadline = world.clock.monotonic() + timeout
    while workloads:
        live = await target.live(owner_of(key), workloads)
        workloads = [k for k in workloads if live.get(k) is not None]
        if not workloads:
            return
        if world.clock.monotonic() > deadline:
            log.warning("%s deleted: still terminating after %.0fs: %s", key, timeout, ", ".join(map(str, workloads)))
            return
        await world.clock.sleep(world.health_poll_seconds)


def _finalizing_target(stored: StoredObject, world: World) -> Target:
    """The target its objects went to; gitferry's own if the last spec cannot say (it failed to parse)."""
    try:
        return target_of(parse_kustomization(stored.manifest, stored.origin), world)
    except GitferryError as e:
        log.warning("%s: pruning on gitferry's own target: %s", stored.key, e)
        return world.target


async def finalize(stored: StoredObject, world: World) -> None:
    """A Kustomization left Git: its objects go too or stay, by ``spec.deletionPolicy`` (Flux's
    finalizer): MirrorPrune (the default) follows ``prune``, Delete always deletes, Orphan never,
    WaitForTermination deletes and waits until they are gone. Then it is forgotten."""
    key = stored.key
    owner = owner_id(key)
    inventory = world.store.get_inventory(owner)
    spec = stored.manifest.get("spec") or {}
    policy = str(spec.get("deletionPolicy") or "MirrorPrune")
    prune = policy in ("Delete", "WaitForTermination") or (policy == "MirrorPrune" and bool(spec.get("prune")))
    if prune and inventory:
        target = _finalizing_target(stored, world)
        gone = to_prune(inventory, [])
        pruned = await _prune(target, world, key, gone, inventory)
        log.info("%s deleted: pruned %d objects (deletionPolicy %s)", key, len(pruned), policy)
        if policy == "WaitForTermination":
            await _wait_terminated(target, world, key, pruned, _timeout_of(spec))
    elif inventory:
        log.info("%s deleted: %d objects left running (deletionPolicy %s)", key, len(inventory), policy)
    world.store.set_inventory(owner, [])
    world.render_cache.pop(key, None)
    world.store.remove_object(key)
