"""Run one Tekton step as a podman container: the pipeline engine's only door to podman.

A step becomes one ``podman run --rm`` whose output is streamed line by line. Its fields map the
way Kubernetes and Tekton map them:

- ``script`` is written to a file under ``scratch`` and mounted read-only at
  ``/tekton/scripts/<step>``, which is the entrypoint; ``args`` become its arguments. A script
  that does not start with ``#!`` gets Tekton's preamble ``#!/bin/sh`` + ``set -e``.
- Otherwise ``command`` replaces the image's entrypoint and ``args`` its CMD; a ``command``
  without ``args`` drops the CMD, as in Kubernetes. Neither: the image's own.
- ``workingDir`` is ``-w``. Kubernetes creates a missing working directory; podman 4.3 does
  that only under a mount and otherwise refuses with "workdir ... does not exist". Then the step
  is run once more with an empty tmpfs (mode 755, exec allowed) at that path, which is what the
  runtime would have made: the directory is not in the image, and the container is thrown away.
- ``--network=host``: a step reaches services on 127.0.0.1 (the loopback registry, a test
  database) as a pod reaches cluster services; there is no cluster DNS here to reach them by
  name. It is also the fastest: a ``podman run --rm`` of busybox ``true`` takes 0.09 s with host
  networking against 0.25 s with its own network namespace (median of 5, on these hosts).
- The image's user, environment and entrypoint are kept unless the step overrides them.

Timeouts and cancellation end the container with ``podman rm -f -t 0`` (SIGKILL, as Tekton's
entrypoint does on a step timeout) and wait for ``podman run`` to return, so no container is left.
Every container carries the engine's ``labels``; ``remove_containers`` finds and ends leftovers of
a crashed engine by them.

Images: ``ensure_image`` runs ``podman image exists`` once per image and process (the answer
"present" is cached), else ``podman pull``. So a step costs one podman call, its ``run``: a
``true`` step takes 80 ms through ``run_step``, as long as a bare ``podman run --rm
--network=host`` of it (median of 11, on these hosts). At most ``GITFERRY_MAX_PROCESSES`` (8)
steps run at once: ``process.stream`` holds one slot per ``podman run``.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gitferry import process
from gitferry.errors import CommandError, PodmanError

PODMAN = "podman"
SCRIPTS_DIR = "/tekton/scripts"
DEFAULT_SCRIPT_PREAMBLE = "#!/bin/sh\nset -e\n"  # Tekton's pkg/pod/script.go
PULL_TIMEOUT = 600.0
# How long to go on removing a container whose ``podman run`` has not returned yet.
_STOP_PATIENCE = 30.0
# podman run's own exit codes; 126 and 127 are podman's only when it also printed an Error line.
_PODMAN_FAILED, _NOT_RUNNABLE, _NOT_FOUND = 125, 126, 127

_Stopped = Literal["done", "timeout", "cancel"]
Reason = Literal["Completed", "Failed", "TimedOut", "Cancelled", "ImageNotFound", "StartFailed"]

_present_images: set[str] = set()


@dataclass(frozen=True)
class Mount:
    host: Path
    container: str
    read_only: bool = False


@dataclass(frozen=True)
class StepSpec:
    name: str
    image: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    script: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    mounts: tuple[Mount, ...] = ()
    timeout: float | None = None


@dataclass(frozen=True)
class StepOutcome:
    """How a step ended. ``exit_code`` is None when its process did not run to its own end."""

    exit_code: int | None
    reason: Reason
    message: str
    started: float  # seconds since the epoch
    finished: float

    @property
    def succeeded(self) -> bool:
        return self.reason == "Completed"


def script_text(script: str) -> str:
    """The file Tekton writes for a ``script``: as it is with a shebang, else with the preamble."""
    stripped = script.lstrip()
    # Tekton looks for the shebang after leading whitespace too; the kernel needs it at byte 0.
    return stripped if stripped.startswith("#!") else DEFAULT_SCRIPT_PREAMBLE + script


def run_argv(
    spec: StepSpec,
    *,
    container_name: str,
    labels: Mapping[str, str],
    script_file: Path | None,
    tls_verify: bool,
    tmpfs_working_dir: bool = False,
) -> list[str]:
    """The ``podman run`` command line for ``spec`` (its script already written to ``script_file``)."""
    argv = [PODMAN, "run", "--rm", "--name", container_name, "--network=host"]
    argv += [f"--tls-verify={'true' if tls_verify else 'false'}"]
    for key, value in labels.items():
        argv += ["--label", f"{key}={value}"]
    for key, value in spec.env.items():
        argv += ["--env", f"{key}={value}"]
    for mount in spec.mounts:
        argv += ["--volume", f"{mount.host}:{mount.container}{':ro' if mount.read_only else ''}"]
    if spec.working_dir:
        if tmpfs_working_dir:
            argv += ["--tmpfs", f"{spec.working_dir}:rw,exec,mode=755"]
        argv += ["--workdir", spec.working_dir]
    if script_file is not None:
        in_container = f"{SCRIPTS_DIR}/{spec.name}"
        argv += ["--volume", f"{script_file}:{in_container}:ro", "--entrypoint", _json_list([in_container])]
    elif spec.command:
        argv += ["--entrypoint", _json_list(spec.command)]
    return [*argv, spec.image, *spec.args]


def _json_list(items: tuple[str, ...] | list[str]) -> str:
    """An entrypoint in podman's JSON form, so each item stays one argument."""
    return json.dumps(list(items))


async def ensure_image(image: str, *, tls_verify: bool) -> None:
    """Make ``image`` present in local storage, or raise PodmanError naming it and podman's reason."""
    if image in _present_images:
        return
    exists = await process.run([PODMAN, "image", "exists", image], check=False)
    if exists.returncode != 0:
        pull = [PODMAN, "pull", "-q", f"--tls-verify={'true' if tls_verify else 'false'}", image]
        try:
            await process.run(pull, timeout=PULL_TIMEOUT)
        except CommandError as e:
            said = podman_said(e.stderr or str(e))
            raise PodmanError(f"image {image} is not in local storage and cannot be pulled: {said}") from e
    _present_images.add(image)


async def run_step(
    spec: StepSpec,
    *,
    container_name: str,
    on_line: Callable[[str], None],
    scratch: Path,
    labels: Mapping[str, str] | None = None,
    cancel: asyncio.Event | None = None,
    tls_verify: bool = True,
) -> StepOutcome:
    """Run ``spec`` in a container named ``container_name`` and say how it ended; never raises for it.

    Output lines go to ``on_line`` as they come. ``cancel`` being set ends the step as Cancelled;
    cancelling the calling task removes the container too and then propagates.
    """
    started, clock = time.time(), time.monotonic()

    def outcome(code: int | None, reason: Reason, message: str) -> StepOutcome:
        return StepOutcome(code, reason, message, started, time.time())

    try:
        await ensure_image(spec.image, tls_verify=tls_verify)
    except PodmanError as e:
        return outcome(None, "ImageNotFound", f"step {spec.name}: {e}")
    script_file = _write_script(spec, container_name, scratch) if spec.script is not None else None
    tmpfs = False
    while True:
        if cancel is not None and cancel.is_set():
            return outcome(None, "Cancelled", f"step {spec.name} was cancelled before it started")
        argv = run_argv(
            spec,
            container_name=container_name,
            labels=labels or {},
            script_file=script_file,
            tls_verify=tls_verify,
            tmpfs_working_dir=tmpfs,
        )
        tail: collections.deque[str] = collections.deque(maxlen=5)
        runner = asyncio.create_task(process.stream(argv, _Forward(on_line, tail, spec.working_dir)))
        try:
            stopped = await _wait(runner, cancel, spec.timeout)
        except asyncio.CancelledError:
            await asyncio.shield(_stop(container_name, runner))
            raise
        elapsed = time.monotonic() - clock
        if stopped == "timeout":
            await _stop(container_name, runner)
            return outcome(None, "TimedOut", f"step {spec.name} timed out after {spec.timeout:g}s")
        if stopped == "cancel":
            await _stop(container_name, runner)
            return outcome(None, "Cancelled", f"step {spec.name} was cancelled after {elapsed:.1f}s")
        try:
            code = runner.result()
        except CommandError as e:
            return outcome(None, "StartFailed", f"step {spec.name}: {e}")
        except Exception:
            # ``on_line`` raised: ``podman run`` is gone but its container would run on.
            await _stop(container_name, runner)
            raise
        if not tmpfs and code == _NOT_RUNNABLE and any(_is_missing_workdir(line, spec.working_dir) for line in tail):
            tmpfs = True
            continue
        return _judge(spec, code, list(tail), outcome)


async def remove_containers(labels: Mapping[str, str]) -> int:
    """End and remove every container carrying all ``labels`` (a crashed run's leftovers); count them."""
    if not labels:
        raise ValueError("remove_containers needs at least one label: without, it would match every container")
    filters = [f"--filter=label={key}={value}" for key, value in labels.items()]
    try:
        found = await process.run([PODMAN, "ps", "-a", "-q", *filters])
        ids = found.stdout.split()
        if ids:
            await process.run([PODMAN, "rm", "-f", "-t", "0", "--ignore", *ids])
    except CommandError as e:
        raise PodmanError(f"podman could not remove containers: {podman_said(e.stderr or str(e))}") from e
    return len(ids)


def podman_said(output: str) -> str:
    """podman's error sentence (its last ``Error:`` line), else the last line of its output."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line.removeprefix("Error: ") for line in lines if line.startswith("Error: ")]
    return errors[-1] if errors else (lines[-1] if lines else "no output")


class _Forward:
    """Hands lines to the engine, keeps the last few for a message, hides podman's workdir refusal."""

    def __init__(self, on_line: Callable[[str], None], tail: collections.deque[str], working_dir: str | None) -> None:
        self.on_line, self.tail, self.working_dir = on_line, tail, working_dir

    def __call__(self, line: str) -> None:
        self.tail.append(line)
        if not _is_missing_workdir(line, self.working_dir):
            self.on_line(line)


def _is_missing_workdir(line: str, working_dir: str | None) -> bool:
    return (
        working_dir is not None
        and re.fullmatch(r'Error: workdir ".*" does not exist on container \w+', line) is not None
    )


def _write_script(spec: StepSpec, container_name: str, scratch: Path) -> Path:
    path = scratch / "scripts" / container_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script_text(spec.script or ""))
    path.chmod(0o755)
    return path


async def _wait(runner: asyncio.Task[int], cancel: asyncio.Event | None, timeout: float | None) -> _Stopped:
    """ "done", "timeout" or "cancel": whichever comes first."""
    cancelled = asyncio.create_task(cancel.wait()) if cancel is not None else None
    try:
        done, _ = await asyncio.wait(
            {runner} if cancelled is None else {runner, cancelled}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        if cancelled is not None:
            cancelled.cancel()
    if runner in done:
        return "done"
    return "cancel" if cancelled is not None and cancelled in done else "timeout"


async def _stop(container_name: str, runner: asyncio.Task[int]) -> None:
    """Remove the container and wait for its ``podman run`` to return; kill that if it does not."""
    rm = [PODMAN, "rm", "-f", "-t", "0", "--ignore", container_name]
    deadline = time.monotonic() + _STOP_PATIENCE
    await process.run(rm, check=False)
    while not runner.done():
        if time.monotonic() > deadline:
            runner.cancel()  # process.stream kills ``podman run``; its container may be left
            await asyncio.wait({runner})
        else:
            await asyncio.wait({runner}, timeout=0.5)
        if not runner.done() or runner.cancelled():
            # The container did not exist yet when last removed, or ``podman run`` was killed.
            await process.run(rm, check=False)
    if not runner.cancelled():
        runner.exception()  # retrieved, so asyncio does not log it as never retrieved


def _judge(
    spec: StepSpec, code: int, tail: list[str], outcome: Callable[[int | None, Reason, str], StepOutcome]
) -> StepOutcome:
    if code == 0:
        return outcome(0, "Completed", f"step {spec.name} completed")
    podman_error = bool(tail) and tail[-1].startswith("Error: ")
    if code == _PODMAN_FAILED or (code in (_NOT_RUNNABLE, _NOT_FOUND) and podman_error):
        if podman_error and "image not known" in tail[-1]:
            _present_images.discard(spec.image)
        said = podman_said("\n".join(tail))
        return outcome(None, "StartFailed", f"step {spec.name}: podman could not start it: {said}")
    return outcome(code, "Failed", f"step {spec.name} exited with code {code}")
