"""Pipeline engine overhead: 10 no-op tasks beside the same 10 plain ``podman run``s (issue 4; target < 1 s).

A 10-task pipeline of no-op steps run by gitferry's engine, beside the same 10 containers run with plain
``podman run`` in the same run; the overhead is the difference of the medians.

Everything is real: podman (runc, ``CONTAINERS_CONF=scripts/containers.conf`` unless set), the image
``localhost/gitferry-test/busybox:1`` that the tests use (``FROM scratch`` plus Debian's busybox-static,
built with ``scripts/make-image.sh`` when missing), and gitferry's pipeline engine run in this process as
``tests/test_pipeline_runs.py`` runs it: ``RunManager(PipelineRuns(Store(...)), Settings(...))``,
``manager.start(run, plan)``, ``await manager.wait(name)``, with a state store in a temp dir. Each task of
the pipeline is ``taskRef: noop``, a Task with one step ``script: "true"`` (``--step command``: ``command:
["true"]``). The engine runs at most ``Settings.concurrency`` tasks at once (4, the default of ``World``'s
``pipeline_concurrency`` and of ``gitferry up``), each step one ``podman run --rm --network=host``.

Each round (``--runs``, 5; one warm-up round before, not counted) measures, in this order:

1. floor A: the 10 containers one after another, ``podman run --rm --network=host IMAGE true``;
2. floor B: the same 10 commands as asyncio subprocesses, at most ``concurrency`` at once, which is how
   the engine runs 10 independent tasks;
3. gitferry, parallel: a PipelineRun of 10 independent tasks (no ``runAfter``), from ``manager.start``
   to ``manager.wait`` returning; the record must say Succeeded, with 10 tasks and 10 steps Succeeded;
4. gitferry, chain: the same 10 tasks, each ``runAfter`` the one before;
5. floor A2: the engine's own command line for each step (``containers.run_argv``: ``--name``, ``--label``,
   ``--tls-verify``, the results folder and the script mounted), one after another: what podman itself
   costs for the flags the engine adds, so the rest is the engine's Python.

Overhead = gitferry - matching floor (parallel - B, chain - A), medians; per task = that / 10. Those
wall-time differences are smaller than podman's own run-to-run spread (tens of ms), so the script also
measures the engine directly: it times, inside this process, every ``podman run`` the engine starts
(``process.stream``), every other podman call (``process.run``) and every state store write
(``PipelineRuns`` methods, which run on the event loop). The time no container is running is the
engine's own; in a chain it is the engine's whole serial cost. The wrappers cost microseconds; the
store's own times have second precision, so they cannot give this. The warm-up round also fills the
engine's per-process "image present" cache (one ``podman image exists``, about 10 ms, in a process's
first run), as a long-running ``gitferry up`` has it. ``--profile`` adds one parallel and one chain run
under cProfile and prints the functions that took the most time.

Run from the repository root::

    python benchmarks/pipeline_overhead.py [--runs 5] [--tasks 10] [--step script|command]
        [--concurrency N] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import io
import itertools
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import log, ok, table  # benchmarks/common.py: the scripts run from their own folder

from gitferry import process
from gitferry.api import tekton
from gitferry.api.manifests import load_documents
from gitferry.controllers.pipelineruns import RunManager, Settings
from gitferry.controllers.world import World
from gitferry.pipelines import containers
from gitferry.pipelines.resolution import plan
from gitferry.store import runs as records
from gitferry.store.sqlite import Store

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "localhost/gitferry-test/busybox:1"  # tests/conftest.py's BUSYBOX_IMAGE
TARGET = 1.0  # seconds of overhead for the whole pipeline
RUN_LABEL = "gitferry.pipelinerun"

os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "scripts" / "containers.conf"))


# ---------------------------------------------------------------------------------------------
# what the engine does, timed in this process


@dataclass
class Probe:
    """Times of the engine's ``podman run``s, its other podman calls and its store writes while ``on``."""

    on: bool = False
    streams: list[tuple[float, float]] = field(default_factory=list)  # perf_counter
    calls: list[tuple[str, float]] = field(default_factory=list)  # other podman calls: (verb, seconds)
    writes: list[tuple[str, float]] = field(default_factory=list)  # store writes: (method, seconds)

    def reset(self) -> None:
        self.streams, self.calls, self.writes = [], [], []

    def install(self) -> None:
        original_stream, original_run = process.stream, process.run

        async def stream(argv: Sequence[Any], *args: Any, **kwargs: Any) -> int:
            t0 = time.perf_counter()
            try:
                return await original_stream(argv, *args, **kwargs)
            finally:
                if self.on:
                    self.streams.append((t0, time.perf_counter()))

        async def run(argv: Sequence[Any], *args: Any, **kwargs: Any) -> process.Completed:
            t0 = time.perf_counter()
            try:
                return await original_run(argv, *args, **kwargs)
            finally:
                if self.on:
                    self.calls.append((" ".join(str(a) for a in argv[:3]), time.perf_counter() - t0))

        # containers calls process.stream / process.run through the module, so this sees every call.
        process.stream, process.run = stream, run  # type: ignore[assignment]
        for method in ("create", "update_run", "set_results", "update_task", "update_step", "add_log"):
            setattr(records.PipelineRuns, method, self._timed(method, getattr(records.PipelineRuns, method)))

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if self.on:
                    self.writes.append((name, time.perf_counter() - t0))

        return timed


PROBE = Probe()


@dataclass
class Sample:
    """One timed run of a floor or of the engine; container times relative to its start."""

    wall: float
    containers: list[tuple[float, float]]
    calls: list[tuple[str, float]] = field(default_factory=list)
    writes: list[tuple[str, float]] = field(default_factory=list)

    def durations(self) -> list[float]:
        return [t1 - t0 for t0, t1 in self.containers]

    def busy(self) -> float:
        """Time at least one container (its ``podman run``) was running."""
        total, end = 0.0, float("-inf")
        for t0, t1 in sorted(self.containers):
            if t1 > end:
                total += t1 - max(t0, end)
                end = t1
        return total

    def most_at_once(self) -> int:
        edges = sorted([(t0, 1) for t0, _ in self.containers] + [(t1, -1) for _, t1 in self.containers])
        most = now = 0
        for _, step in edges:
            now += step
            most = max(most, now)
        return most

    def gaps(self) -> float:
        """Between one container's end and the next one's start (a chain)."""
        ordered = sorted(self.containers)
        return sum(max(0.0, b[0] - a[1]) for a, b in itertools.pairwise(ordered))

    def head(self) -> float:
        return min(t0 for t0, _ in self.containers)

    def tail(self) -> float:
        return self.wall - max(t1 for _, t1 in self.containers)


# ---------------------------------------------------------------------------------------------
# the floors: plain podman run


def plain_argv() -> list[str]:
    return ["podman", "run", "--rm", "--network=host", IMAGE, "true"]


def check_exit(argv: Sequence[str], code: int | None, output: bytes | str) -> None:
    if code != 0:
        text = output.decode(errors="replace") if isinstance(output, bytes) else output
        raise SystemExit(f"{' '.join(argv)} exited {code}:\n{text[-2000:]}")


def floor_sequential(argvs: Sequence[Sequence[str]]) -> Sample:
    spans = []
    start = time.perf_counter()
    for argv in argvs:
        t0 = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, check=False)
        spans.append((t0 - start, time.perf_counter() - start))
        check_exit(argv, done.returncode, done.stdout + done.stderr)
    return Sample(time.perf_counter() - start, spans)


def floor_parallel(argvs: Sequence[Sequence[str]], concurrency: int) -> Sample:
    async def go() -> Sample:
        limit = asyncio.Semaphore(concurrency)
        start = time.perf_counter()
        spans = []

        async def one(argv: Sequence[str]) -> None:
            async with limit:
                t0 = time.perf_counter()
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=subprocess.STDOUT
                )
                out, _ = await proc.communicate()
                spans.append((t0 - start, time.perf_counter() - start))
                check_exit(argv, proc.returncode, out)

        await asyncio.gather(*(one(argv) for argv in argvs))
        return Sample(time.perf_counter() - start, spans)

    return asyncio.run(go())


def engine_argvs(tasks: int, step: str, scratch: Path) -> list[list[str]]:
    """The command lines the engine builds for the steps (``containers.run_argv``), its files in ``scratch``."""
    argvs = []
    label = f"gfb-floor-{os.getpid()}"
    for i in range(tasks):
        results = scratch / "results" / f"t{i:02d}"
        results.mkdir(parents=True, exist_ok=True)
        script = None
        if step == "script":
            script = scratch / "scripts" / f"{label}-t{i:02d}"
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_text(containers.script_text("true"))
            script.chmod(0o755)
        spec = containers.StepSpec(
            name="noop",
            image=IMAGE,
            command=("true",) if step == "command" else (),
            script="true" if step == "script" else None,
            mounts=(containers.Mount(results, "/tekton/results"),),
        )
        argvs.append(
            containers.run_argv(
                spec, container_name=f"{label}-t{i:02d}", labels={RUN_LABEL: label}, script_file=script,
                tls_verify=False,
            )
        )  # fmt: skip
    return argvs


# ---------------------------------------------------------------------------------------------
# the engine


def pipeline_yaml(tasks: int, step: str, chain: bool) -> str:
    shape = "chain" if chain else "parallel"
    body = 'script: "true"' if step == "script" else 'command: ["true"]'
    entries = []
    for i in range(tasks):
        after = f"\n  runAfter: [t{i - 1:02d}]" if chain and i > 0 else ""
        entries.append(f"- name: t{i:02d}\n  taskRef: {{name: noop}}{after}")
    return f"""\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: noop
spec:
  steps:
    - name: noop
      image: {IMAGE}
      {body}
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: ten-{shape}
spec:
  tasks:
{textwrap.indent(chr(10).join(entries), "    ")}
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: bench-{shape}-
spec:
  pipelineRef: {{name: ten-{shape}}}
"""


@dataclass
class Engine:
    store: records.PipelineRuns
    settings: Settings
    tasks: int
    step: str
    names: list[str] = field(default_factory=list)

    def documents(self, chain: bool) -> tuple[tekton.PipelineRun, dict[str, Any], dict[str, Any]]:
        text = pipeline_yaml(self.tasks, self.step, chain)
        docs = [tekton.parse_tekton(d, "bench.yaml") for d in load_documents(text, "bench.yaml")]
        pipelines = {d.metadata.name: d for d in docs if isinstance(d, tekton.Pipeline)}
        tasks = {d.metadata.name: d for d in docs if isinstance(d, tekton.Task)}
        run = next(d for d in docs if isinstance(d, tekton.PipelineRun))
        return run, pipelines, tasks

    def run(self, chain: bool, profiler: cProfile.Profile | None = None) -> Sample:
        run, pipelines, tasks = self.documents(chain)

        async def no_clone(url: str, revision: str, dest: Path) -> None:
            raise AssertionError("no clone expected")

        async def go() -> tuple[str, float, float]:
            manager = RunManager(self.store, self.settings)
            PROBE.reset()
            PROBE.on = True
            if profiler is not None:
                profiler.enable()
            start = time.perf_counter()
            try:
                name = manager.start(run, lambda r: plan(r, pipelines=pipelines, tasks=tasks), clone=no_clone)
                self.names.append(name)
                await manager.wait(name)
                return name, start, time.perf_counter() - start
            finally:
                if profiler is not None:
                    profiler.disable()
                PROBE.on = False

        name, start, wall = asyncio.run(go())
        self.check(name)
        spans = [(t0 - start, t1 - start) for t0, t1 in PROBE.streams]
        if len(spans) != self.tasks:
            raise SystemExit(f"{name}: {len(spans)} podman runs, expected {self.tasks}")
        sample = Sample(wall, spans, list(PROBE.calls), list(PROBE.writes))
        most = sample.most_at_once()
        if most > self.settings.concurrency or (chain and most != 1):
            raise SystemExit(f"{name}: {most} containers ran at once ({'chain' if chain else 'independent'} tasks)")
        return sample

    def check(self, name: str) -> None:
        record = self.store.get(name)
        if record is None or record.status != records.SUCCEEDED:
            lines = [f"[{x.task}:{x.step}] {x.line}" for x in self.store.logs(name)][-20:]
            status = record and (record.status, record.reason, record.message)
            raise SystemExit(f"pipelinerun {name} did not succeed: {status}\n" + "\n".join(lines))
        tasks, steps = self.store.tasks(name), self.store.steps(name)
        good = [t for t in tasks if t.status == records.SUCCEEDED]
        ran = [s for s in steps if s.status == records.SUCCEEDED and s.exit_code == 0]
        if len(good) != self.tasks or len(ran) != self.tasks:
            raise SystemExit(f"pipelinerun {name}: {len(good)} tasks and {len(ran)} steps succeeded of {self.tasks}")


# ---------------------------------------------------------------------------------------------
# set-up and clean-up


def ensure_image() -> None:
    if shutil.which("podman") is None or shutil.which("buildah") is None:
        raise SystemExit("podman and buildah are required (scripts/test.sh installs them)")
    if subprocess.run(["podman", "image", "exists", IMAGE], check=False).returncode != 0:
        log(f"building {IMAGE} with scripts/make-image.sh")
        subprocess.run(["bash", str(ROOT / "scripts" / "make-image.sh"), IMAGE], check=True, capture_output=True)


def leftovers(names: Sequence[str]) -> list[str]:
    """Containers of this benchmark still there (there should be none: every one ran with --rm)."""
    found = subprocess.run(
        ["podman", "ps", "-a", "--filter", f"label={RUN_LABEL}", "--format", "{{.Names}} {{.Labels}}"],
        capture_output=True, text=True, check=False,
    ).stdout.splitlines()  # fmt: skip
    ours = [*names, f"gfb-floor-{os.getpid()}"]
    return [line.split()[0] for line in found if any(f"{RUN_LABEL}:{n}" in line for n in ours)]


def remove(containers_named: Sequence[str]) -> None:
    if containers_named:
        subprocess.run(["podman", "rm", "-f", "-t", "0", "--ignore", *containers_named], capture_output=True)


# ---------------------------------------------------------------------------------------------
# output


def seconds(values: Sequence[float]) -> list[str]:
    return [f"{statistics.median(values):.3f}", f"{min(values):.3f}", f"{max(values):.3f}"]


def ms(values: Sequence[float]) -> list[str]:
    return [f"{statistics.median(values) * 1000:.0f}", f"{min(values) * 1000:.0f}", f"{max(values) * 1000:.0f}"]


def versions() -> str:
    podman = subprocess.run(["podman", "--version"], capture_output=True, text=True).stdout.strip()
    return f"Python {platform.python_version()}, {podman}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"


def print_profile(profiler: cProfile.Profile, title: str) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(15)
    print(f"\n{title}: the 15 functions with the most own time (cProfile; the event loop's wait is 'select')")
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    print("\n".join(line.replace(str(ROOT) + "/", "") for line in lines[start:] if line.strip()))


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--step", choices=["script", "command"], default="script", help="the no-op step's form")
    parser.add_argument("--concurrency", type=int, default=None, help="tasks at once (default: the engine's)")
    parser.add_argument("--profile", action="store_true", help="one more parallel and chain run under cProfile")
    args = parser.parse_args()
    if args.runs < 1 or args.tasks < 2:
        parser.error("--runs must be at least 1 and --tasks at least 2")

    default_concurrency = Settings(Path()).concurrency
    world_concurrency = World.__dataclass_fields__["pipeline_concurrency"].default
    concurrency = args.concurrency or default_concurrency
    n = args.tasks

    ensure_image()
    root = Path(tempfile.mkdtemp(prefix="gitferry-bench-pipeline-"))
    began = time.monotonic()
    log(f"{versions()}; temp dir {root}")
    log(
        f"engine: Settings.concurrency {default_concurrency} (World.pipeline_concurrency {world_concurrency}), "
        f"using {concurrency}; process.stream limit GITFERRY_MAX_PROCESSES={process._MAX_PROCESSES}; "
        f"{n} tasks of one '{args.step}' step each"
    )
    PROBE.install()
    store = Store(root / "state.db")
    engine = Engine(
        records.PipelineRuns(store), Settings(root / "data", tls_verify=False, concurrency=concurrency), n, args.step
    )
    plain = [plain_argv() for _ in range(n)]
    own = engine_argvs(n, args.step, root / "floor")
    results: dict[str, list[Sample]] = {"A": [], "B": [], "par": [], "chain": [], "A2": []}
    profiles: dict[str, cProfile.Profile] = {}
    try:
        for i in range(args.runs + 1):
            round_ = {
                "A": floor_sequential(plain),
                "B": floor_parallel(plain, concurrency),
                "par": engine.run(chain=False),
                "chain": engine.run(chain=True),
                "A2": floor_sequential(own),
            }
            figures = ", ".join(f"{k} {v.wall:.3f}s" for k, v in round_.items())
            if i == 0:
                log(f"warm-up (not counted): {figures}")
                continue
            for key, sample in round_.items():
                results[key].append(sample)
            log(f"run {i}: {figures}")
        if args.profile:
            for chain in (False, True):
                profiles["chain" if chain else "parallel"] = profiler = cProfile.Profile()
                engine.run(chain=chain, profiler=profiler)
    finally:
        left = leftovers(engine.names)
        remove(left)
        store.close()
        shutil.rmtree(root, ignore_errors=True)

    walls = {k: [s.wall for s in v] for k, v in results.items()}
    med = {k: statistics.median(v) for k, v in walls.items()}
    print()
    print(f"{n} no-op tasks ('{args.step}' step), at most {concurrency} at once; {args.runs} runs; seconds")
    table(
        ["measure", "median", "min", "max"],
        [
            [f"floor A: {n} x podman run, one after another", *seconds(walls["A"])],
            [f"floor B: {n} x podman run, {concurrency} at once", *seconds(walls["B"])],
            [f"gitferry: {n} independent tasks", *seconds(walls["par"])],
            [f"gitferry: {n} tasks in a chain (runAfter)", *seconds(walls["chain"])],
            ["floor A2: the engine's own podman run argv, one after another", *seconds(walls["A2"])],
        ],
    )
    par_over, chain_over = med["par"] - med["B"], med["chain"] - med["A"]
    flags = med["A2"] - med["A"]
    # The engine's own time, measured directly: wall differences are within podman's run-to-run noise.
    idle = statistics.median([s.wall - s.busy() for s in results["chain"]])
    idle_par = statistics.median([s.wall - s.busy() for s in results["par"]])
    table(
        ["overhead (medians)", "seconds", "per task", "target", "ok"],
        [
            ["gitferry independent - floor B", f"{par_over:+.3f}", f"{par_over / n:+.3f}", f"< {TARGET:.1f}",
             ok(par_over < TARGET)],
            ["gitferry chain - floor A", f"{chain_over:+.3f}", f"{chain_over / n:+.3f}", f"< {TARGET:.1f}",
             ok(chain_over < TARGET)],
            ["  podman's cost of the engine's flags (A2 - A)", f"{flags:+.3f}", f"{flags / n:+.3f}", "", ""],
            ["  the rest (chain - A2)", f"{med['chain'] - med['A2']:+.3f}",
             f"{(med['chain'] - med['A2']) / n:+.3f}", "", ""],
            ["gitferry chain: time with no container running", f"{idle:.3f}", f"{idle / n:.3f}", "", ""],
            ["gitferry independent: time with no container running", f"{idle_par:.3f}", f"{idle_par / n:.3f}", "", ""],
        ],
    )  # fmt: skip

    print("where the time goes (ms; median over the runs, of the per-run figure)")
    rows = []
    for key, label in (("par", "gitferry independent"), ("chain", "gitferry chain")):
        samples = results[key]
        rows.append([label, *ms([s.wall for s in samples])])
        rows.append(["  podman run, each (the run's median)", *ms([statistics.median(s.durations()) for s in samples])])
        rows.append(["  podman run, sum", *ms([sum(s.durations()) for s in samples])])
        most = [s.most_at_once() for s in samples]
        rows.append(["  most podman runs at once", f"{statistics.median(most):g}", str(min(most)), str(max(most))])
        rows.append(["  no container running", *ms([s.wall - s.busy() for s in samples])])
        rows.append(["    start -> first podman run", *ms([s.head() for s in samples])])
        if key == "chain":
            rows.append(["    between podman runs (sum)", *ms([s.gaps() for s in samples])])
            rows.append(["    between podman runs (each)", *ms([s.gaps() / (n - 1) for s in samples])])
        rows.append(["    last podman run returns -> run finished", *ms([s.tail() for s in samples])])
        rows.append([f"  store writes ({len(samples[0].writes)} per run, on the event loop)",
                     *ms([sum(t for _, t in s.writes) for s in samples])])  # fmt: skip
        other = [c for s in samples for c in s.calls]
        rows.append([f"  other podman calls ({len(other) / len(samples):.1f} per run)",
                     *ms([sum(t for _, t in s.calls) for s in samples])])  # fmt: skip
    for key, label in (("A", "floor A"), ("B", "floor B"), ("A2", "floor A2")):
        samples = results[key]
        rows.append([f"{label}: podman run, each", *ms([statistics.median(s.durations()) for s in samples])])
    table(["step", "median", "min", "max"], rows)
    calls = sorted({c for s in results["par"] + results["chain"] for c, _ in s.calls})
    if calls:
        print("other podman calls made by the engine: " + ", ".join(calls))
    writes: dict[str, int] = {}
    for name, _ in results["chain"][0].writes:
        writes[name] = writes.get(name, 0) + 1
    print("store writes in one run: " + ", ".join(f"{k} x{v}" for k, v in sorted(writes.items())))
    print(f"containers left behind: {len(left)} ({ok(not left)})")
    for title, profiler in profiles.items():
        print_profile(profiler, f"profile of one {title} run")
    print(f"\ntook {time.monotonic() - began:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
