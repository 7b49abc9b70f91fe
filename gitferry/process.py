"""The one place external programs are started: asyncio subprocesses with a timeout and a limit.

Adapters (git, kustomize, podman) call ``run`` and map ``CommandError`` to their own error type.
Long-running commands whose output is a log (a pipeline step's ``podman run``) use ``stream``,
which hands each line over as it comes instead of collecting the output until exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitferry.errors import CommandError

# Bounded so a burst of reconciles cannot fork hundreds of processes on a 2-core host.
# One semaphore per event loop: an asyncio primitive must not cross loops (tests run many).
_MAX_PROCESSES = int(os.environ.get("GITFERRY_MAX_PROCESSES", "8"))
_limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()
# Streams are limited apart from short commands: a stream holds its slot for as long as its
# process lives, and the command that stops it (``podman rm -f``) must never wait behind it.
_stream_limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()
# A line longer than this is handed over in pieces rather than held in memory whole.
_MAX_LINE = 64 * 1024


def _limit(
    limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = _limits,
) -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in limits:
        limits[loop] = asyncio.Semaphore(_MAX_PROCESSES)
    return limits[loop]


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


async def run(
    argv: Sequence[str],
    *,
    timeout: float = 60.0,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    check: bool = True,
) -> Completed:
    """Run ``argv`` and return its output; raise CommandError on timeout or (with check) failure."""
    args = [str(a) for a in argv]
    full_env = {**os.environ, **env} if env is not None else None
    async with _limit():
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                cwd=str(cwd) if cwd is not None else None,
                env=full_env,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                # Its own process group, so a timeout also ends helpers (git-remote-http, ssh)
                # that would otherwise hold the pipes open and hang the wait.
                start_new_session=True,
            )
        except FileNotFoundError as e:
            raise CommandError(f"{args[0]} is not installed (run 'gitferry check')", argv=args) from e
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin is not None else None), timeout)
        except TimeoutError as e:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise CommandError(f"{args[0]} timed out after {timeout:g}s", argv=args) from e
    done = Completed(args, proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))
    if check and done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines()
        tail = "; ".join(detail[-3:]) if detail else f"exit code {done.returncode}"
        raise CommandError(f"{' '.join(args[:3])} failed: {tail}", argv=args, stderr=done.stderr)
    return done


async def stream(
    argv: Sequence[str],
    on_line: Callable[[str], None],
    *,
    timeout: float | None = None,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run ``argv``, pass each line of its stdout and stderr (one pipe, in order) to ``on_line``.

    Lines are handed over as they arrive, without their line ending. Returns the exit code. On
    timeout the process group is killed and CommandError raised; when the awaiting task is
    cancelled (or ``on_line`` raises) the group is killed too and the exception propagates.
    """
    args = [str(a) for a in argv]
    full_env = {**os.environ, **env} if env is not None else None
    async with _limit(_stream_limits):
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                cwd=str(cwd) if cwd is not None else None,
                env=full_env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except FileNotFoundError as e:
            raise CommandError(f"{args[0]} is not installed (run 'gitferry check')", argv=args) from e
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(timeout):
                await _pump(proc.stdout, on_line)
                return await proc.wait()
        except TimeoutError as e:
            raise CommandError(f"{args[0]} timed out after {timeout:g}s", argv=args) from e
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()


async def _pump(reader: asyncio.StreamReader, on_line: Callable[[str], None]) -> None:
    """Hand over each line; one longer than ``_MAX_LINE`` goes in pieces cut at multiples of it."""
    pending = b""
    while chunk := await reader.read(_MAX_LINE):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            while len(line) > _MAX_LINE:
                on_line(line[:_MAX_LINE].decode(errors="replace"))
                line = line[_MAX_LINE:]
            on_line(line.removesuffix(b"\r").decode(errors="replace"))
        while len(pending) > _MAX_LINE:
            on_line(pending[:_MAX_LINE].decode(errors="replace"))
            pending = pending[_MAX_LINE:]
    if pending:
        on_line(pending.removesuffix(b"\r").decode(errors="replace"))
