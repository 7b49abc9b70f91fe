"""Reconcile an ImagePolicy: pick the latest tag from its repository's stored scan.

As Flux's image-reflector-controller, except in one place: on a failure the last ``latestRef``
is kept (Flux clears it), so an automation never sees a policy without an image because a
registry had a bad minute. An invalid range or pattern stalls the policy until Git changes.
"""

from __future__ import annotations

from typing import Any

from gitferry.api.images import ImagePolicy, ImageRepository, parse_image_policy, parse_image_repository
from gitferry.api.keys import ObjectKey
from gitferry.controllers import statuses
from gitferry.controllers.failures import report_failure
from gitferry.controllers.imagerepository import client_for
from gitferry.controllers.outcome import Outcome
from gitferry.controllers.world import World
from gitferry.errors import DependencyNotReadyError, GitferryError
from gitferry.images.policy import compile_policy
from gitferry.store.sqlite import StoredObject

KIND = "ImagePolicy"
AUTOMATION_KIND = "ImageUpdateAutomation"
# A policy without digest reflection has no interval of its own: its repository's scans wake it.
IDLE_SECONDS = 3600.0
POLICY_FAILED = "Failure"  # Flux's reason when no tag can be selected


async def reconcile(stored: StoredObject, world: World, *, failures: int = 0) -> Outcome:
    key, old, generation = stored.key, world.store.get_status(stored.key), stored.generation
    try:
        policy = parse_image_policy(stored.manifest, stored.origin)
        if policy.spec.suspend or stored.suspended:
            return Outcome(requeue_after=IDLE_SECONDS, ready=statuses.ready_of(old), message="suspended")
        compiled = compile_policy(policy.spec)
        repo, tags = _scanned(policy, world)
        selection = compiled.select(tags)
        image = repo.spec.image
        previous = old.get("latestRef")
        latest = {"name": image, "tag": selection.tag}
        digest = await _digest(policy, repo, selection.tag, previous, world)
        if digest:
            latest["digest"] = digest
    except GitferryError as e:
        return report_failure(
            world, stored, old, e, transient_reason=POLICY_FAILED, interval=60.0, failures=failures, kept=_kept(old)
        )
    fields: dict[str, Any] = {"latestRef": latest}
    if previous and previous != latest:
        fields["observedPreviousRef"] = previous
    message = f"Latest image tag for '{image}' resolved to {selection.tag}"
    if previous and previous.get("tag") != selection.tag:
        message = f"Latest image tag for '{image}' updated from {previous.get('tag')} to {selection.tag}"
    new = statuses.mark(
        old, ready=True, reason=statuses.SUCCEEDED, message=message, generation=generation, fields=fields
    )
    changed = previous != latest
    if changed or not statuses.same_apart_from_times(old, new):
        world.store.put_status(key, new)
    if changed:
        world.store.add_event(key, "Normal", statuses.SUCCEEDED, message)
    return Outcome(
        requeue_after=policy.interval_seconds or IDLE_SECONDS,
        ready=True,
        message=message,
        new_artifact=changed,
        # Flux's automations watch policies: a new latest image runs the automations of the namespace now.
        wake=automations_in(world, key.namespace) if changed else [],
    )


def _scanned(policy: ImagePolicy, world: World) -> tuple[ImageRepository, list[str]]:
    """The repository and the tags of its last good scan."""
    repo_key = policy.repository_key()
    repo = world.store.get_object(repo_key)
    where = f"ImageRepository '{repo_key.namespace}/{repo_key.name}'"
    if repo is None or repo.deleted:
        raise DependencyNotReadyError(f"{where} not found (field spec.imageRepositoryRef)")
    tags = world.store.get_tags(repo_key)
    if tags is None:
        raise DependencyNotReadyError(f"referenced {where} has not been scanned yet")
    if not tags:
        raise DependencyNotReadyError(f"referenced {where} has no tags")
    return parse_image_repository(repo.manifest, repo.origin), tags


async def _digest(
    policy: ImagePolicy, repo: ImageRepository, tag: str, previous: dict[str, Any] | None, world: World
) -> str:
    """The manifest digest of the selected tag, as ``digestReflectionPolicy`` asks (Flux's rules)."""
    reflect = policy.spec.digest_reflection_policy
    if reflect == "Never":
        return ""
    same = previous is not None and (previous.get("name"), previous.get("tag")) == (repo.spec.image, tag)
    if reflect == "IfNotPresent" and same and previous and previous.get("digest"):
        return str(previous["digest"])
    async with client_for(repo, world) as client:
        return await client.digest(repo.spec.image, tag)


def automations_in(world: World, namespace: str) -> list[ObjectKey]:
    return [s.key for s in world.store.list_objects(AUTOMATION_KIND) if s.key.namespace == namespace]


def source_of(stored: StoredObject) -> ObjectKey | None:
    """The ImageRepository a stored policy reads, without validating the whole object."""
    ref = (stored.manifest.get("spec") or {}).get("imageRepositoryRef") or {}
    return ObjectKey("ImageRepository", str(ref.get("namespace") or stored.key.namespace), str(ref.get("name")))


def _kept(old: dict[str, Any]) -> str:
    latest = old.get("latestRef")
    return f"latest image stays {latest['name']}:{latest['tag']}" if latest else ""
