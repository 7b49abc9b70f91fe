"""What the benchmark scripts share: git with a fixed identity, output helpers, ``gitferry up`` as a
subprocess, and the traced mode that runs the real CLI with spans written to a JSON-lines file."""

from __future__ import annotations

import contextvars
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TRACE_FLAG = "--as-traced-gitferry"
# The daemons a benchmark starts serve webhooks on a free port, not on the 9292 a demo may hold.
os.environ.setdefault("GITFERRY_HTTP_PORT", "0")


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` as a fixed author and return stdout."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def port_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port``."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def describe_exec(argv: Sequence[Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The span fields of a traced ``process.run``/``stream``: its argv, and the pod a kube play makes."""
    words = [str(a) for a in argv]
    pod = ""
    stdin = kwargs.get("stdin")
    if words[:3] == ["podman", "kube", "play"] and isinstance(stdin, str):
        found = re.search(r"^kind: Pod\n(?:.*\n)*?^  name: (\S+)$", stdin, re.MULTILINE)
        pod = found.group(1) if found else ""
    return {"argv": words[:8], "pod": pod}


def log(text: str) -> None:
    print(text, flush=True)


def ok(value: bool) -> str:
    return "yes" if value else "NO"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain-text table: the first column left-aligned, the others right-aligned, then a blank line."""
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(line(headers))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    print(flush=True)


# ---------------------------------------------------------------------------------------------
# gitferry up as a subprocess


@dataclass
class Daemon:
    """``gitferry -v up --no-live`` on ``data``, output in ``up_log``; with ``trace``, run through
    ``script``'s traced mode (``script --as-traced-gitferry TRACE -- <gitferry args>``, see ``run_traced``)."""

    script: Path
    data: Path
    up_log: Path
    trace: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        up = ["--data-dir", str(self.data), "-v", "up", "--no-live"]
        if self.trace is not None:
            argv = [sys.executable, str(self.script), TRACE_FLAG, str(self.trace), "--", *up]
        else:
            argv = [sys.executable, "-m", "gitferry", *up]
        with open(self.up_log, "wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)

    def stop(self) -> int | None:
        """SIGTERM, then kill after 30 s; the exit code, or None when it never started."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                log("warning: gitferry up did not stop within 30 s of SIGTERM; killed")
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def check(self) -> None:
        """SystemExit with the log's tail if the daemon has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise SystemExit(f"gitferry up exited ({self.process.returncode}):\n{self.up_log.read_text()[-3000:]}")

    def wait_for(self, what: str, predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> None:
        """Until ``predicate()`` holds; SystemExit naming ``what`` (and this log) after ``timeout``, or at once if
        the daemon exited."""
        deadline = time.monotonic() + timeout
        while not predicate():
            self.check()
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}; see {self.up_log}")
            time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# the traced daemon: the real CLI, with spans written to a JSON-lines file


class Tracer:
    """Writes spans to ``path``, one JSON line each: ``{"span", "t0", "t1", "key", **extra}`` with times from
    ``time.time()`` and ``key`` the ``Kind/name`` of the reconcile the span ran in ("" outside one)."""

    def __init__(self, path: Path) -> None:
        self.current: contextvars.ContextVar[str] = contextvars.ContextVar("bench_key", default="")
        self.out = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process

    def emit(self, kind: str, t0: float, t1: float, **extra: Any) -> None:
        self.out.write(json.dumps({"span": kind, "t0": t0, "t1": t1, "key": self.current.get(), **extra}) + "\n")

    def wrap(self, name: str, fn: Callable[..., Any], describe: Callable[..., dict[str, Any]] | None = None) -> Any:
        """``fn`` (async) timed as span ``name``; ``describe(*args, **kwargs)`` adds fields to the span."""

        async def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.time()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.emit(name, t0, time.time(), **(describe(*args, **kwargs) if describe else {}))

        return timed

    def wrap_sync(self, name: str, fn: Callable[..., Any]) -> Any:
        """``fn`` (plain, e.g. run in a thread) timed as span ``name``."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.emit(name, t0, time.time())

        return timed

    def trace_reconcilers(self, reconcilers: MutableMapping[Any, Callable[..., Any]]) -> None:
        """Each reconcile becomes a ``reconcile`` span, and the spans inside it get its key."""

        def reconciler(fn: Callable[..., Any]) -> Callable[..., Any]:
            async def timed(stored: Any, world: Any, **kwargs: Any) -> Any:
                token = self.current.set(f"{stored.key.kind}/{stored.key.name}")
                t0 = time.time()
                try:
                    return await fn(stored, world, **kwargs)
                finally:
                    self.emit("reconcile", t0, time.time())
                    self.current.reset(token)

            return timed

        for kind, fn in list(reconcilers.items()):
            reconcilers[kind] = reconciler(fn)


def run_traced(argv: Sequence[str], install: Callable[[Tracer], None]) -> bool:
    """For ``argv`` = ``--as-traced-gitferry TRACE [--] <gitferry args>``: let ``install`` wrap what it times
    with a ``Tracer(TRACE)``, run the gitferry CLI, and return True; any other ``argv``: False."""
    if len(argv) < 2 or argv[0] != TRACE_FLAG:
        return False
    from gitferry.cli.main import app

    rest = list(argv[2:])
    install(Tracer(Path(argv[1])))
    app(args=rest[1:] if rest[:1] == ["--"] else rest, prog_name="gitferry")
    return True
