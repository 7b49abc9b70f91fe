"""Reconcile a GitRepository: fetch the ref, store an artifact, write status.

A failing remote never loses the last good artifact: status keeps it, and the retry backs off.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gitferry.api.keys import ObjectKey, timestamp
from gitferry.api.sources import GitRepository, parse_git_repository
from gitferry.controllers import statuses
from gitferry.controllers.failures import report_failure
from gitferry.controllers.outcome import Outcome
from gitferry.controllers.world import World
from gitferry.errors import DependencyNotReadyError, GitferryError, InvalidObjectError
from gitferry.sources.git import Artifact, GitCredentials, fetch
from gitferry.store.sqlite import CommitInfo, StoredObject

log = logging.getLogger("gitferry.gitrepository")

KIND = "GitRepository"


def artifact_to_status(artifact: Artifact) -> dict[str, Any]:
    return {
        "revision": artifact.revision,
        "digest": artifact.digest,
        "path": str(artifact.path),
        "commit": artifact.commit,
        "message": artifact.message,
        "author": artifact.author,
        "lastUpdateTime": timestamp(),
    }


def artifact_from_status(status: dict[str, Any]) -> Artifact | None:
    raw = status.get("artifact")
    if not raw:
        return None
    return Artifact(
        revision=raw["revision"],
        commit=raw.get("commit", raw["revision"].rsplit(":", 1)[-1]),
        path=Path(raw["path"]),
        digest=raw["digest"],
        message=raw.get("message", ""),
        author=raw.get("author", ""),
    )


def credentials_for(repo: GitRepository, world: World) -> GitCredentials | None:
    ref = repo.spec.secret_ref
    if ref is None:
        return None
    data = world.lookup_data("Secret", repo.metadata.namespace, ref.name)
    if data is None:
        raise InvalidObjectError(
            f"GitRepository {repo.metadata.namespace}/{repo.metadata.name}: field spec.secretRef.name: "
            f"Secret '{ref.name}' not found in namespace '{repo.metadata.namespace}'"
        )
    return GitCredentials(
        username=data.get("username"),
        password=data.get("password"),
        bearer_token=data.get("bearerToken"),
        identity=data.get("identity"),
        known_hosts=data.get("known_hosts"),
    )


async def reconcile(stored: StoredObject, world: World, *, failures: int = 0) -> Outcome:
    """One pass: validate, fetch if the remote moved, record the artifact and conditions."""
    key = stored.key
    old = world.store.get_status(key)
    generation = stored.generation
    try:
        repo = parse_git_repository(stored.manifest, stored.origin)
    except InvalidObjectError as e:
        return report_failure(
            world,
            stored,
            old,
            e,
            transient_reason=statuses.GIT_OPERATION_FAILED,
            interval=60.0,
            failures=failures,
            kept=_kept(old),
        )
    interval = repo.spec.interval_seconds
    if repo.spec.suspend or stored.suspended:
        return Outcome(requeue_after=interval, ready=statuses.ready_of(old), message="suspended")
    try:
        unsupported = repo.unsupported_fields()
        if unsupported:
            raise InvalidObjectError(
                f"GitRepository {key.namespace}/{key.name}: not supported yet: {', '.join(unsupported)}"
            )
        includes = {}
        for include in repo.spec.include:
            inc_key = ObjectKey(KIND, key.namespace, include.repository.name)
            included = artifact_from_status(world.store.get_status(inc_key))
            if included is None:
                raise DependencyNotReadyError(
                    f"included GitRepository '{inc_key.namespace}/{inc_key.name}' has no artifact yet"
                    " (field spec.include)"
                )
            includes[include.repository.name] = included
        last = artifact_from_status(old)
        artifact = await fetch(
            repo, storage=world.storage, credentials=credentials_for(repo, world), last=last, includes=includes
        )
    except GitferryError as e:
        return report_failure(
            world,
            stored,
            old,
            e,
            transient_reason=statuses.GIT_OPERATION_FAILED,
            interval=interval,
            failures=failures,
            kept=_kept(old),
        )
    changed = last is None or artifact.revision != last.revision or artifact.digest != last.digest
    message = f"stored artifact for revision '{artifact.revision}'"
    new = statuses.mark(
        old,
        ready=True,
        reason=statuses.SUCCEEDED,
        message=message,
        generation=generation,
        fields={"artifact": artifact_to_status(artifact) if changed else old["artifact"]},
    )
    if changed or not statuses.same_apart_from_times(old, new):
        world.store.put_status(key, new)
    if changed:
        log.info("%s: %s", key, message)
        world.store.add_event(key, "Normal", "NewArtifact", f"{message}: {artifact.message}".rstrip(": "))
        commit = CommitInfo(key, artifact.commit, artifact.author, artifact.message)
        world.store.put_commit(key, artifact.revision, commit)
    return Outcome(requeue_after=interval, ready=True, message=message, new_artifact=changed)


def _kept(old: dict[str, Any]) -> str:
    kept = old.get("artifact")
    return f"serving last good revision '{kept['revision']}'" if kept else ""
