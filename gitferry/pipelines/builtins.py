"""Tasks gitferry runs on the host instead of in a container: ``git-clone`` and ``build-image``.

A pipeline names them like any Task (``taskRef: {name: build-image}``); a Task of the same name
in ``.tekton/`` wins. They declare params, workspaces and results like a Task, so substitution,
``runAfter`` and result references work on them unchanged.

- ``git-clone`` (the Tekton catalog task's interface): params ``url``, ``revision``, ``subdirectory``;
  workspace ``output``; results ``commit``, ``url``, ``committer-date`` and ``short-commit``.
- ``build-image``: ``buildah build --isolation=chroot`` (no daemon, no privileged container) of the
  ``source`` workspace's Containerfile or Dockerfile, then ``buildah push`` of every tag. Params
  ``IMAGE`` (the repository), ``TAGS`` (default: the full and short commit from ``REVISION``),
  ``CONTEXT``, ``DOCKERFILE``, ``TLS_VERIFY``; results ``IMAGE_DIGEST``, ``IMAGE_URL``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gitferry import process
from gitferry.api.tekton_params import ParamValue
from gitferry.errors import CommandError
from gitferry.pipelines.containers import StepOutcome

GIT_CLONE = "git-clone"
BUILD_IMAGE = "build-image"

# Each as the Task a user could have written: what the engine validates and substitutes against.
SPECS: dict[str, dict[str, object]] = {
    GIT_CLONE: {
        "params": [
            {"name": "url"},
            {"name": "revision", "default": ""},
            {"name": "subdirectory", "default": ""},
            {"name": "deleteExisting", "default": "true"},
        ],
        "workspaces": [{"name": "output"}],
        "results": [{"name": "commit"}, {"name": "url"}, {"name": "committer-date"}, {"name": "short-commit"}],
        "steps": [{"name": "clone", "image": "gitferry/host"}],
    },
    BUILD_IMAGE: {
        "params": [
            {"name": "IMAGE"},
            {"name": "TAGS", "type": "array", "default": []},
            {"name": "REVISION", "default": ""},
            {"name": "CONTEXT", "default": "."},
            {"name": "DOCKERFILE", "default": ""},
            {"name": "TLS_VERIFY", "default": "true"},
        ],
        "workspaces": [{"name": "source"}],
        "results": [{"name": "IMAGE_DIGEST"}, {"name": "IMAGE_URL"}],
        "steps": [{"name": "build-and-push", "image": "gitferry/host"}],
    },
}

# Clones ``url`` at ``revision`` into a folder: the engine passes one that uses the trigger's mirror.
Cloner = Callable[[str, str, Path], Awaitable[None]]


@dataclass(frozen=True)
class HostTask:
    name: str
    params: Mapping[str, ParamValue]
    workspaces: Mapping[str, Path]
    results: Path  # the folder the task writes its result files to, as /tekton/results in a container
    on_line: Callable[[str], None]
    timeout: float | None = None


class _Failed(Exception):
    """A built-in step failed: the message is the reason a user reads."""


async def run(task: HostTask, *, clone: Cloner) -> StepOutcome:
    """Run a built-in task; never raises for the task's own failure (as ``run_step`` does not)."""
    started = time.time()
    work = run_git_clone(task, clone) if task.name == GIT_CLONE else run_build_image(task)
    try:
        await asyncio.wait_for(work, task.timeout)
    except TimeoutError:
        return StepOutcome(None, "TimedOut", f"{task.name} timed out after {task.timeout:g}s", started, time.time())
    except _Failed as e:
        return StepOutcome(1, "Failed", f"{task.name}: {e}", started, time.time())
    return StepOutcome(0, "Completed", "", started, time.time())


def _text(task: HostTask, name: str) -> str:
    value = task.params.get(name, "")
    if not isinstance(value, str):
        raise _Failed(f"param {name} must be a string")
    return value


async def _stream(task: HostTask, argv: list[str], cwd: Path) -> None:
    task.on_line("$ " + " ".join(argv))
    try:
        code = await process.stream(argv, task.on_line, cwd=cwd)
    except CommandError as e:
        raise _Failed(str(e)) from e
    if code != 0:
        raise _Failed(f"{' '.join(argv[:2])} exited with code {code}")


async def run_git_clone(task: HostTask, clone: Cloner) -> None:
    url, revision = _text(task, "url"), _text(task, "revision")
    dest = task.workspaces["output"] / _text(task, "subdirectory")
    task.on_line(f"cloning {url} at {revision or 'the default branch'} into {dest}")
    try:
        await clone(url, revision, dest)
        out = await process.run(["git", "log", "-1", "--format=%H %ct"], cwd=dest)
    except CommandError as e:
        raise _Failed(str(e)) from e
    commit, date = out.stdout.split()
    for name, value in {"commit": commit, "url": url, "committer-date": date, "short-commit": commit[:7]}.items():
        (task.results / name).write_text(value)
    task.on_line(f"checked out {commit}")


def _tags(task: HostTask) -> list[str]:
    tags = task.params.get("TAGS", [])
    if not isinstance(tags, list):
        raise _Failed("param TAGS must be an array")
    if tags:
        return tags
    revision = _text(task, "REVISION")
    if not revision:
        raise _Failed("set TAGS, or REVISION to tag the image with the commit (full and short)")
    return [revision, revision[:7]]


async def run_build_image(task: HostTask) -> None:
    source = task.workspaces["source"]
    image, tags = _text(task, "IMAGE"), _tags(task)
    context = source / _text(task, "CONTEXT")
    dockerfile = _text(task, "DOCKERFILE")
    if not dockerfile:
        found = [name for name in ("Containerfile", "Dockerfile") if (context / name).is_file()]
        if not found:
            raise _Failed(f"no Containerfile or Dockerfile in {_text(task, 'CONTEXT')} (set DOCKERFILE)")
        dockerfile = str(context / found[0])
    else:
        dockerfile = str(source / dockerfile)
    build = ["buildah", "build", "--isolation=chroot", "--layers", "-f", dockerfile]
    for tag in tags:
        build += ["-t", f"{image}:{tag}"]
    await _stream(task, [*build, str(context)], source)
    verify = _text(task, "TLS_VERIFY").lower() != "false"
    digest_file = task.results / ".digest"
    for tag in tags:
        push = ["buildah", "push", f"--tls-verify={str(verify).lower()}", "--digestfile", str(digest_file)]
        await _stream(task, [*push, f"{image}:{tag}", f"docker://{image}:{tag}"], source)
    (task.results / "IMAGE_DIGEST").write_text(digest_file.read_text().strip())
    (task.results / "IMAGE_URL").write_text(f"{image}:{tags[0]}")
    digest_file.unlink()
