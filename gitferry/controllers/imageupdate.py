"""Reconcile an ImageUpdateAutomation: write the policies' latest images into Git and push.

Flux's image-automation-controller, step for step: clone the checkout branch (or the push
branch when it exists), run the Setters strategy under ``spec.update.path``, and when a value
changed, commit with the templated message and push without force. A push the remote refuses
because the branch moved is retried on a fresh clone, so another person's commit is never lost.
When neither the policies nor the branch moved since the last run, nothing is cloned.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gitferry.api.images import ImageUpdateAutomation, parse_image_update_automation
from gitferry.api.keys import ObjectKey, timestamp
from gitferry.api.sources import GitRepository, parse_git_repository
from gitferry.controllers import statuses
from gitferry.controllers.failures import report_failure
from gitferry.controllers.gitrepository import credentials_for
from gitferry.controllers.outcome import Outcome
from gitferry.controllers.world import World
from gitferry.errors import (
    DependencyNotReadyError,
    GitferryError,
    InvalidObjectError,
    PushRejectedError,
    UnsupportedError,
)
from gitferry.images import commit_message, gotemplate, setters
from gitferry.images.update import UpdateResult, update_with_setters
from gitferry.sources import refs, worktree
from gitferry.sources.remote import RemoteSession
from gitferry.store.sqlite import StoredObject

log = logging.getLogger("gitferry.imageupdate")

KIND = "ImageUpdateAutomation"
POLICY_KIND = "ImagePolicy"
DEFAULT_BRANCH = "master"  # what Flux checks out when neither the automation nor the source names a ref
PUSH_ATTEMPTS = 3
UPDATE_FAILED = "UpdateFailed"
UP_TO_DATE = "repository up-to-date"


@dataclass(frozen=True)
class Plan:
    """What one run does, checked before anything is cloned."""

    source: GitRepository
    checkout_branch: str
    push_branch: str
    path: str  # relative to the repository root, '' for all of it
    author: tuple[str, str]
    message: gotemplate.Template
    values: dict[str, str]


@dataclass(frozen=True)
class Run:
    base: str  # the commit the update started from
    commit: str | None  # None when no value changed
    result: UpdateResult


async def reconcile(stored: StoredObject, world: World, *, failures: int = 0) -> Outcome:
    key, old, generation = stored.key, world.store.get_status(stored.key), stored.generation
    try:
        automation = parse_image_update_automation(stored.manifest, stored.origin)
    except InvalidObjectError as e:
        return report_failure(
            world, stored, old, e, transient_reason=UPDATE_FAILED, interval=60.0, failures=failures, kept=_kept(old)
        )
    interval = automation.spec.interval_seconds
    if automation.spec.suspend or stored.suspended:
        return Outcome(requeue_after=interval, ready=statuses.ready_of(old), message="suspended")
    try:
        plan = _plan(automation, world)
        images, observed = latest_images(world, key.namespace)
        if not images:
            # Nothing could change: no clone. A policy that selects an image wakes this automation.
            raise DependencyNotReadyError(f"no ImagePolicy in namespace '{key.namespace}' has selected an image yet")
        source = plan.source
        target = refs.target_of(source.spec.ref)
        async with RemoteSession(source, target, credentials_for(source, world)) as remote:
            revision = await _branch_revision(remote, plan)
            if _nothing_new(old, generation, observed, revision):
                return _up_to_date(world, key, old, interval)
            run = await _update(remote, plan, key, images, world.scratch)
    except GitferryError as e:
        return report_failure(
            world, stored, old, e, transient_reason=UPDATE_FAILED, interval=interval, failures=failures, kept=_kept(old)
        )
    return _succeeded(world, key, old, generation, plan, observed, run, interval)


def _plan(automation: ImageUpdateAutomation, world: World) -> Plan:
    unsupported = automation.unsupported_fields()
    if unsupported:
        raise UnsupportedError(f"not supported yet: {', '.join(unsupported)}")
    git = automation.spec.git
    if git is None:
        raise InvalidObjectError("field spec.git: required, it says which branch to commit to and as whom")
    source_key = automation.source_key()
    stored = world.store.get_object(source_key)
    if stored is None or stored.deleted:
        raise DependencyNotReadyError(
            f"GitRepository '{source_key.namespace}/{source_key.name}' not found (field spec.sourceRef)"
        )
    source = parse_git_repository(stored.manifest, stored.origin)
    ref = git.checkout.ref if git.checkout is not None else source.spec.ref
    if ref is not None and (ref.tag or ref.semver or ref.commit or ref.name) and not ref.branch:
        field = "spec.git.checkout.ref" if git.checkout is not None else f"GitRepository {source_key.name} spec.ref"
        raise UnsupportedError(f"field {field}: updates can start only from a branch, not a tag or commit")
    checkout = (ref.branch if ref is not None else None) or DEFAULT_BRANCH
    push = git.push.branch if git.push is not None and git.push.branch else checkout
    return Plan(
        source=source,
        checkout_branch=checkout,
        push_branch=push,
        path=_relative_path(automation.spec.update.path),
        author=(git.commit.author.name or git.commit.author.email, git.commit.author.email),
        message=commit_message.check_template(git.commit.message_template),
        values=dict(git.commit.message_template_values),
    )


def _relative_path(path: str) -> str:
    clean = PurePosixPath(path.strip() or ".")
    if clean.is_absolute() or ".." in clean.parts:
        raise InvalidObjectError(f"field spec.update.path: '{path}' must be a path inside the repository")
    return "" if str(clean) == "." else str(clean)


def latest_images(world: World, namespace: str) -> tuple[dict[str, setters.LatestImage], dict[str, Any]]:
    """The latest image of every policy in ``namespace``, by setter name (``ns:name``) and as Flux observes them."""
    images: dict[str, setters.LatestImage] = {}
    observed: dict[str, Any] = {}
    for stored in world.store.list_objects(POLICY_KIND):
        if stored.key.namespace != namespace:
            continue
        latest = world.store.get_status(stored.key).get("latestRef")
        if latest:
            images[f"{namespace}:{stored.key.name}"] = setters.LatestImage(
                latest["name"], latest["tag"], latest.get("digest", "")
            )
            observed[stored.key.name] = latest
    return images, observed


async def _branch_revision(remote: RemoteSession, plan: Plan) -> str:
    """``branch@sha1:...`` of the branch the update starts from: the push branch once it exists."""
    branches = dict.fromkeys([plan.push_branch, plan.checkout_branch])
    listed = await remote.remote(
        "ls-remote", "--heads", remote.url, *(f"refs/heads/{b}" for b in branches), action="listing branches"
    )
    heads = {
        ref.removeprefix("refs/heads/"): sha for sha, _, ref in (line.partition("\t") for line in listed.splitlines())
    }
    for branch in branches:
        if branch in heads:
            return f"{branch}@sha1:{heads[branch]}"
    raise remote.error(f"branch '{plan.checkout_branch}' (field spec.git.checkout.ref.branch) not found")


def _nothing_new(old: dict[str, Any], generation: int, observed: dict[str, Any], revision: str) -> bool:
    return (
        statuses.ready_of(old) is True
        and old.get("observedGeneration") == generation
        and old.get("observedPolicies") == observed
        and old.get("observedSourceRevision") == revision
    )


async def _update(
    remote: RemoteSession, plan: Plan, key: ObjectKey, images: dict[str, setters.LatestImage], scratch: Path
) -> Run:
    scratch.mkdir(parents=True, exist_ok=True)
    rejected: PushRejectedError | None = None
    for attempt in range(PUSH_ATTEMPTS):
        with tempfile.TemporaryDirectory(dir=scratch, prefix="automation-") as tmp:
            checkout = Path(tmp) / "repo"
            await worktree.clone_branch(remote, checkout, plan.push_branch, start_from=plan.checkout_branch)
            base = await worktree.head(checkout) or ""
            root = checkout / plan.path
            if not root.exists():
                raise InvalidObjectError(
                    f"field spec.update.path: '{plan.path}' does not exist in branch '{plan.push_branch}'"
                )
            # Parsing YAML files is CPU work: off the loop, so other objects keep reconciling.
            result = await asyncio.to_thread(update_with_setters, root, images)
            if not result.files:
                return Run(base, None, result)
            data = commit_message.template_data(key.namespace, key.name, result, plan.values)
            try:
                message = plan.message.execute(data)
            except gotemplate.TemplateError as e:
                raise commit_message.template_error(e) from e
            commit = await worktree.commit_all(checkout, message, plan.author)
            if commit is None:
                return Run(base, None, result)
            try:
                await worktree.push(remote, checkout, plan.push_branch)
            except PushRejectedError as e:
                log.info("%s: push attempt %d rejected (the branch moved); cloning again", key, attempt + 1)
                rejected = e
                continue
            return Run(base, commit, result)
    assert rejected is not None
    raise rejected


def _up_to_date(world: World, key: ObjectKey, old: dict[str, Any], interval: float) -> Outcome:
    world.store.put_status(key, {**old, "lastAutomationRunTime": timestamp()})
    condition = statuses.condition_of(old) or {}
    return Outcome(requeue_after=interval, ready=True, message=str(condition.get("message", UP_TO_DATE)))


def _succeeded(
    world: World,
    key: ObjectKey,
    old: dict[str, Any],
    generation: int,
    plan: Plan,
    observed: dict[str, Any],
    run: Run,
    interval: float,
) -> Outcome:
    now = timestamp()
    fields: dict[str, Any] = {
        "lastAutomationRunTime": now,
        "observedPolicies": observed,
        "observedSourceRevision": f"{plan.push_branch}@sha1:{run.commit or run.base}",
    }
    if run.commit:
        fields |= {"lastPushCommit": run.commit, "lastPushTime": now}
        message = f"pushed commit '{run.commit[:7]}' to branch '{plan.push_branch}'"
    else:
        message = UP_TO_DATE
    if run.result.warnings:
        shown = "; ".join(str(w) for w in run.result.warnings[:5])
        more = f" and {len(run.result.warnings) - 5} more" if len(run.result.warnings) > 5 else ""
        message += f" ({len(run.result.warnings)} markers not applied: {shown}{more})"
    new = statuses.mark(
        old, ready=True, reason=statuses.SUCCEEDED, message=message, generation=generation, fields=fields
    )
    world.store.put_status(key, new)
    if run.commit:
        changes = ", ".join(f"{c.old_value} -> {c.new_value}" for c in run.result.changes)
        world.store.add_event(key, "Normal", statuses.SUCCEEDED, f"{message}: {changes}")
        log.info("%s: %s: %s", key, message, changes)
    elif run.result.warnings and not statuses.same_apart_from_times(old, new):
        world.store.add_event(key, "Warning", UPDATE_FAILED, message)
    # The source of the cluster follows the pushed branch: fetch it now rather than at its interval.
    tracked = plan.source.spec.ref.branch if plan.source.spec.ref is not None else DEFAULT_BRANCH
    wake = [ObjectKey("GitRepository", plan.source.metadata.namespace, plan.source.metadata.name)]
    return Outcome(
        requeue_after=interval,
        ready=True,
        message=message,
        wake=wake if run.commit and tracked == plan.push_branch else [],
    )


def _kept(old: dict[str, Any]) -> str:
    pushed = old.get("lastPushCommit")
    return f"nothing was committed; last push was {pushed[:7]}" if pushed else "nothing was committed"
