"""Reconcile a Pipelines-as-Code ``Repository``: when a branch moved, run the ``.tekton/``
PipelineRuns (and standalone TaskRuns) of its new commit that are meant for a push to that branch.

The remote's branches are listed each poll (or at once, when a webhook asks); the first look only
records them, as a webhook would only report pushes made after it was set up. A commit whose
message says ``[skip ci]`` starts nothing. A ``.tekton/`` file that does not parse starts nothing
and says which file and field, in the status and as an event; the next commit is tried afresh.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gitferry.api import tekton
from gitferry.api.manifests import load_documents
from gitferry.api.repositories import Repository, parse_repository
from gitferry.api.sources import GitRepository, parse_git_repository
from gitferry.controllers import statuses
from gitferry.controllers.failures import report_failure
from gitferry.controllers.outcome import Outcome
from gitferry.controllers.world import World
from gitferry.errors import GitferryError, InvalidObjectError, UnsupportedError
from gitferry.pipelines import builtins, triggers
from gitferry.pipelines.resolution import plan
from gitferry.sources import refs
from gitferry.sources.git import GitCredentials
from gitferry.sources.mirroring import Mirror, clone_url
from gitferry.sources.remote import RemoteSession
from gitferry.store.sqlite import StoredObject

log = logging.getLogger("gitferry.repository")

KIND = "Repository"
TEKTON_FOLDER = ".tekton"
TRIGGER_FAILED = "TriggerFailed"
INVALID_PIPELINE = "InvalidPipeline"
IDLE_SECONDS = 3600.0  # polling off: only a webhook or 'gitferry reconcile' looks


async def reconcile(stored: StoredObject, world: World, *, failures: int = 0) -> Outcome:
    old = world.store.get_status(stored.key)
    try:
        repo = parse_repository(stored.manifest, stored.origin)
    except InvalidObjectError as e:
        return report_failure(world, stored, old, e, transient_reason=TRIGGER_FAILED, interval=60.0, failures=failures)
    interval = repo.poll_seconds or IDLE_SECONDS
    if stored.suspended:
        return Outcome(requeue_after=interval, ready=statuses.ready_of(old), message="suspended")
    try:
        unsupported = repo.unsupported_fields()
        if unsupported:
            raise UnsupportedError(f"not supported yet: {', '.join(unsupported)}")
        source = _as_git_repository(repo)
        async with RemoteSession(source, refs.target_of(None), _credentials(repo, world)) as remote:
            mirror = Mirror(remote, world.storage / "ci" / repo.metadata.namespace / f"{repo.metadata.name}.git")
            heads = await mirror.heads()
            seen: dict[str, str] | None = old.get("observedHeads")
            started, problems = await _on_pushes(repo, world, mirror, heads, seen)
    except GitferryError as e:
        # Re-read: the branches handled before the failure are recorded and must stay so.
        current = world.store.get_status(stored.key)
        return report_failure(
            world, stored, current, e, transient_reason=TRIGGER_FAILED, interval=interval, failures=failures
        )
    message = f"started {', '.join(started)}" if started else f"watching {len(heads)} branches"
    if seen is None:
        message = f"watching {len(heads)} branches; pushes from now on start the .tekton/ PipelineRuns"
    # A branch whose head commit has a broken .tekton/ stays reported until that branch moves again.
    broken = [problems[b] for b in sorted(problems) if b in heads]
    if broken:
        message = "; ".join(broken) + (f" (started {', '.join(started)})" if started else "")
    new = statuses.mark(
        world.store.get_status(stored.key), ready=not broken, reason=INVALID_PIPELINE if broken else statuses.SUCCEEDED,
        message=message, generation=stored.generation,
        fields={"observedHeads": heads, "invalidPipelines": {b: problems[b] for b in problems if b in heads}},
    )  # fmt: skip
    if started or not statuses.same_apart_from_times(old, new):
        world.store.put_status(stored.key, new)
    return Outcome(requeue_after=interval, ready=not broken, message=message)


async def _on_pushes(
    repo: Repository, world: World, mirror: Mirror, heads: dict[str, str], seen: dict[str, str] | None
) -> tuple[list[str], dict[str, str]]:
    """Handle every branch that moved since ``seen``: the runs started, and by branch what is wrong
    in the ``.tekton/`` of its head.

    Each branch is recorded as seen once handled, so a failure on a later branch can never start
    the runs of an earlier one twice.
    """
    status = world.store.get_status(repo.key)
    problems: dict[str, str] = dict(status.get("invalidPipelines") or {})
    started: list[str] = []
    if seen is None:
        return started, problems
    observed = dict(seen)
    for branch in sorted(heads):
        if seen.get(branch) == heads[branch]:
            continue
        problems.pop(branch, None)
        try:
            started += await _on_push(repo, world, mirror, branch)
        except InvalidObjectError as e:  # this commit's pipeline is wrong: report it, try the next commit
            problems[branch] = str(e)
            world.store.add_event(repo.key, "Warning", INVALID_PIPELINE, str(e))
        observed[branch] = heads[branch]
        progress = {"observedHeads": observed, "invalidPipelines": problems}
        world.store.put_status(repo.key, {**world.store.get_status(repo.key), **progress})
    return started, problems


async def _on_push(repo: Repository, world: World, mirror: Mirror, branch: str) -> list[str]:
    """Start the PipelineRuns for the new head of ``branch``; their names."""
    commit = await mirror.fetch(branch)
    author, message = await mirror.describe(commit)
    where = f"{branch}@{commit[:12]}"
    if triggers.skips_ci(message):
        world.store.add_event(repo.key, "Normal", "Skipped", f"{where}: the commit message asks to skip CI")
        return []
    event = triggers.PushEvent(repo.spec.url, branch, commit, sender=author, message=message)
    files = await mirror.files(commit, TEKTON_FOLDER)
    objects = _parse(files, event.variables({p.name: p.value or "" for p in repo.spec.params}), where)
    tasks = {o.metadata.name: o for o in objects if isinstance(o, tekton.Task)}
    pipelines = {o.metadata.name: o for o in objects if isinstance(o, tekton.Pipeline)}
    runs = [o for o in objects if isinstance(o, tekton.PipelineRun)]
    # A standalone TaskRun runs too (Pipelines-as-Code starts only PipelineRuns), as a one-task PipelineRun.
    for task_run in (o for o in objects if isinstance(o, tekton.TaskRun)):
        if triggers.runs_on_push(task_run.metadata.annotations, branch):
            unsupported = task_run.unsupported_fields()
            if unsupported:
                raise UnsupportedError(
                    f"TaskRun {task_run.metadata.display_name} at {where}: not supported yet: {', '.join(unsupported)}"
                )
            runs.append(task_run.as_pipeline_run())
    for run in runs:
        if triggers.ON_CEL_EXPRESSION in run.metadata.annotations:
            raise UnsupportedError(
                f"PipelineRun {run.metadata.display_name} at {where}: field metadata.annotations"
                f"[{triggers.ON_CEL_EXPRESSION}]: not supported yet; use on-event and on-target-branch"
            )
    chosen = [r for r in runs if triggers.runs_on_push(r.metadata.annotations, branch)]
    # Checked for every run before any starts: a bad annotation starts nothing, like a bad file.
    keeps = [triggers.max_keep_runs(r.metadata.annotations, f"PipelineRun {r.metadata.display_name} at {where}")
             for r in chosen]  # fmt: skip
    names = []
    for run, keep in zip(chosen, keeps, strict=True):
        name = world.pipelines.start(
            run.model_copy(update={"metadata": run.metadata.model_copy(update={"namespace": repo.metadata.namespace})}),
            lambda r: plan(r, pipelines=pipelines, tasks=tasks),
            clone=cloner(mirror, repo.spec.url),
            repository=repo.key.namespaced_name,
            revision=commit,
            trigger="push",
            concurrency_limit=repo.spec.concurrency_limit,
            keep=keep,
        )
        names.append(name)
    detail = ", ".join(names) if names else f"no PipelineRun in {TEKTON_FOLDER}/ is for a push to {branch}"
    world.store.add_event(repo.key, "Normal", "PushReceived", f"{where} by {author}: {detail}")
    log.info("%s: push %s: %s", repo.key, where, detail)
    return names


def _parse(files: dict[str, str], variables: dict[str, str], where: str) -> list[tekton.TektonObject]:
    out: list[tekton.TektonObject] = []
    for path, text in files.items():
        for doc in load_documents(triggers.fill(text, variables), path):
            if str(doc.get("apiVersion", "")).startswith("tekton.dev/"):
                out.append(tekton.parse_tekton(doc, f"{path} at {where}"))
    return out


def cloner(mirror: Mirror, url: str) -> builtins.Cloner:
    """What the built-in git-clone does: the trigger's own repository from its mirror, others plainly."""

    async def clone(wanted: str, revision: str, dest: Path) -> None:
        if wanted.rstrip("/") == url:
            await mirror.checkout(revision or "HEAD", dest)
        else:
            await clone_url(wanted, revision, dest)

    return clone


def _as_git_repository(repo: Repository) -> GitRepository:
    """The Repository seen as a GitRepository, so it reads Git with the same code and messages."""
    spec: dict[str, Any] = {"url": repo.spec.url, "interval": "1m"}
    return parse_git_repository(
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": repo.metadata.name, "namespace": repo.metadata.namespace},
            "spec": spec,
        },
        f"Repository {repo.metadata.name}",
    )


def _credentials(repo: Repository, world: World) -> GitCredentials | None:
    """``git_provider.secret`` holds a token, sent as the password of ``git_provider.user`` (or ``git``)."""
    provider = repo.spec.git_provider
    if provider is None or provider.secret is None:
        return None
    ref = provider.secret
    data = world.lookup_data("Secret", repo.metadata.namespace, ref.name)
    if data is None or ref.key not in data:
        raise InvalidObjectError(
            f"field spec.git_provider.secret: Secret '{repo.metadata.namespace}/{ref.name}' with key '{ref.key}'"
            " not found"
        )
    return GitCredentials(username=provider.user or "git", password=data[ref.key])
