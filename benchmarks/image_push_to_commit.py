"""Registry push -> GitOps commit latency with a 1 s scan interval (issue 3's figure; target < 2 s median).

Everything is real: Debian's ``docker-registry`` on loopback (``tests/registry.py``), git with a bare
"remote" and a work clone in a temp dir, and the gitferry CLI: ``gitferry bootstrap --url file://...
--interval 1m``, then ``gitferry -v up --no-live`` as a subprocess. The GitOps repository holds

- ``clusters/local/images.yaml``: ``tests.gitops.image_automation_yaml``, the tests' ImageRepository
  (``interval: 1s`` here, ``insecure: true``), ImagePolicy (semver ``1.0.x`` here) and
  ImageUpdateAutomation (``update.path: ./apps``, Setters, author ``Image Bot <bot@example.com>``; here
  a message template printing ``old -> new``), all named ``app`` and applied by the bootstrap's
  Kustomization (``./clusters/local``);
- ``apps/web.yaml``: ``tests.gitops.marked_deployment``, a Deployment whose ``image:`` line carries
  ``# {"$imagepolicy": "flux-system:app"}``.
  No Kustomization applies ``apps/``, so podman has nothing to run: the figure is the image chain alone.
  The daemon runs with a ``podman`` shim first in its PATH that logs every call; the script reports
  the calls (there should be none) and the kinds in the root Kustomization's inventory.

Each run (``--runs``, 5) puts the existing manifest under a new tag ``1.0.<i>`` (``add_tags``: one
manifest PUT), takes the time just after the PUT returns, then reads the bare repository's
``refs/heads/main`` every 10 ms until it moves; the new commit's message must contain
``-> <image>:1.0.<i>``. Before the next run it waits until the GitRepository and the root Kustomization
are at the new commit (the push wakes them) and runs the floor once. The next PUT is made 1.3 s +
(i mod runs) / runs x interval after the commit was seen: 1.3, 1.5, 1.7, 1.9, 2.1 s for 5 runs (the
first run, 1.3 s after start-up, lands at no chosen phase). A fixed pause would be phase-locked: the
automation commits right after a scan, and the next scans follow every interval, so a constant pause
after the commit puts every PUT at the same point of the scan cycle (a first version with a fixed 1.3 s
measured 0.50-0.64 s in all 5 runs). Stepping the pause by a fifth of the interval samples the cycle
evenly, deterministically.

Expected latency: the tag lands at a random moment of the scan cycle, and the next scan comes
``interval`` after the previous one ended (the reactor requeues from the end of a reconcile), so the
mean wait is about half the interval, 0.5 s (0 to 1 s per run), plus the work: the tag-list GET, the
policy, and the automation's ls-remote, clone, checkout, Setters rewrite, commit and push.

The floor, measured in the same run, is that work done by hand with the same tools, timed end to end:
one tag-list GET with httpx (a new client and connection per run, as gitferry makes per scan; the TLS
context built once, as gitferry caches it per process), ``git clone`` of a bare copy of
the GitOps repository made at the start (so gitferry's branch is untouched), a regex rewrite of the one
``image:`` line, ``git commit -am`` and ``git push``. It prints gitferry's median, the floor's, and
gitferry - floor - 0.5 s (the expected scan wait), next to the target.

``--trace`` runs ``up`` through this file's ``--as-traced-gitferry`` mode: the same CLI with
``gitferry.process.run`` (every git call), the reconcilers, ``RegistryClient.list_tags``, the Setters
rewrite and the GitRepository's artifact build wrapped to write start/end times to a trace file, and
prints where each run's time went.

Run from the repository root::

    python benchmarks/image_push_to_commit.py [--runs 5] [--trace] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# benchmarks/common.py: the scripts run from their own folder
from common import Daemon, Tracer, describe_exec, git, log, ok, run_traced, table

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "bench/web"
SCAN_INTERVAL = 1.0  # seconds
EXPECTED_WAIT = SCAN_INTERVAL / 2
TARGET = 2.0  # seconds, median
PAUSE = 1.3  # seconds from one run's commit to the next PUT, plus (i mod runs) / runs of the interval
POLL = 0.01  # seconds between reads of refs/heads/main
AUTHOR = ("Image Bot", "bot@example.com")  # what tests.gitops.image_automation_yaml commits as
AUTOMATION = ("ImageUpdateAutomation", "flux-system", "app")

MESSAGE_TEMPLATE = """\
{{ .AutomationObject }}: update images

{{ range .Changed.Changes -}}
{{ print .OldValue }} -> {{ println .NewValue -}}
{{ end -}}
"""

PODMAN_SHIM = """#!/bin/sh
# Logs every podman call gitferry makes during the benchmark, then runs the real podman.
echo "$(date +%s.%N) $*" >> {log}
exec {podman} "$@"
"""


# ---------------------------------------------------------------------------------------------
# the traced daemon: the real CLI with these steps timed (common.Tracer)


def trace_gitferry(tracer: Tracer) -> None:
    """Time git calls, reconciles, tag listing, the Setters rewrite and the GitRepository's artifact build."""
    from gitferry import process
    from gitferry.controllers import imageupdate
    from gitferry.reactor import loop
    from gitferry.registry import client
    from gitferry.sources import artifacts

    process.run = tracer.wrap("exec", process.run, describe_exec)
    tracer.trace_reconcilers(loop.RECONCILERS)
    client.RegistryClient.list_tags = tracer.wrap("list_tags", client.RegistryClient.list_tags)  # type: ignore[method-assign]
    imageupdate.update_with_setters = tracer.wrap_sync("setters", imageupdate.update_with_setters)
    artifacts.build = tracer.wrap_sync("artifacts.build", artifacts.build)


# ---------------------------------------------------------------------------------------------
# the environment: registry, repository, bootstrap, daemon


def read_head(bare: Path) -> str | None:
    """The bare repository's main, read from the ref files (cheaper than a git process)."""
    try:
        return (bare / "refs" / "heads" / "main").read_text().strip()
    except FileNotFoundError:
        pass
    try:
        for line in (bare / "packed-refs").read_text().splitlines():
            if line.endswith(" refs/heads/main"):
                return line.split()[0]
    except FileNotFoundError:
        pass
    return None


@dataclass
class Env:
    root: Path
    trace: Path | None
    registry: Any = None  # tests.registry.LocalRegistry
    # Built once, as gitferry caches its TLS context per process; httpx would load the CA file per client.
    tls: ssl.SSLContext = field(default_factory=ssl.create_default_context)
    image: str = ""
    work: Path = field(init=False)
    bare: Path = field(init=False)
    floor_bare: Path = field(init=False)
    data: Path = field(init=False)
    up_log: Path = field(init=False)
    podman_log: Path = field(init=False)
    bin: Path = field(init=False)
    daemon: Daemon = field(init=False)

    def __post_init__(self) -> None:
        self.work, self.bare = self.root / "gitops", self.root / "gitops.git"
        self.floor_bare = self.root / "floor.git"
        self.data, self.up_log = self.root / "data", self.root / "up.log"
        self.podman_log, self.bin = self.root / "podman-calls.log", self.root / "bin"
        self.daemon = Daemon(Path(__file__).resolve(), self.data, self.up_log, self.trace)

    def environ(self) -> dict[str, str]:
        env = {**os.environ, "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"}
        env.setdefault("CONTAINERS_CONF", str(ROOT / "scripts" / "containers.conf"))
        return env

    def gitferry(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "gitferry", "--data-dir", str(self.data), *args]

    def podman_shim(self) -> None:
        real = shutil.which("podman") or "/usr/bin/podman"
        self.bin.mkdir()
        shim = self.bin / "podman"
        shim.write_text(PODMAN_SHIM.format(log=self.podman_log, podman=real))
        shim.chmod(0o755)
        self.podman_log.touch()

    def make_repository(self) -> None:
        from tests.gitops import image_automation_yaml, marked_deployment  # main() put ROOT on sys.path

        git(self.root, "init", "-q", "--bare", "--initial-branch=main", str(self.bare))
        git(self.root, "clone", "-q", str(self.bare), str(self.work))
        (self.work / "apps").mkdir()
        (self.work / "apps" / "web.yaml").write_text(marked_deployment(f"{self.image}:1.0.0"))
        (self.work / "clusters" / "local").mkdir(parents=True)
        (self.work / "clusters" / "local" / "images.yaml").write_text(
            image_automation_yaml(self.image, scan_interval="1s", semver_range="1.0.x", template=MESSAGE_TEMPLATE)
        )
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", "web follows the image policy")
        git(self.work, "push", "-q", "origin", "HEAD:main")

    def bootstrap(self) -> None:
        argv = self.gitferry("bootstrap", "--url", f"file://{self.bare}", "--interval", "1m")
        done = subprocess.run(argv, capture_output=True, text=True, env=self.environ(), cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(f"gitferry bootstrap failed:\n{done.stdout}{done.stderr}")
        # The floor works on a copy, so its commits never reach the branch gitferry watches.
        git(self.root, "clone", "-q", "--bare", str(self.bare), str(self.floor_bare))

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(f"file:{self.data / 'state.db'}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def status(self, kind: str, name: str = "app", namespace: str = "flux-system") -> dict[str, Any]:
        rows = self.query("SELECT body FROM status WHERE kind=? AND namespace=? AND name=?", kind, namespace, name)
        return json.loads(rows[0][0]) if rows else {}

    def wait(self, what: str, predicate: Callable[[], bool], timeout: float = 60) -> None:
        self.daemon.wait_for(what, predicate, timeout, interval=0.05)

    def ready_at_start(self) -> bool:
        policy = self.status("ImagePolicy")
        automation = self.status("ImageUpdateAutomation")
        return (
            ready(self.status("ImageRepository"))
            and ready(policy)
            and policy.get("latestRef", {}).get("tag") == "1.0.0"
            and ready(automation)
            and "observedSourceRevision" in automation
            and self.settled(read_head(self.bare) or "")
        )

    def settled(self, commit: str) -> bool:
        """The source fetched ``commit`` and the root Kustomization applied it."""
        source = self.status("GitRepository", "flux-system")
        root = self.status("Kustomization", "flux-system")
        return (
            source.get("artifact", {}).get("commit") == commit
            and ready(root)
            and str(root.get("lastAppliedRevision", "")).endswith(commit)
        )


def ready(status: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))


def ready_message(status: dict[str, Any]) -> str:
    found = [c for c in status.get("conditions", []) if c.get("type") == "Ready"]
    return f"{found[0].get('status')}: {found[0].get('message')}" if found else "no Ready condition"


# ---------------------------------------------------------------------------------------------
# one gitferry run and one floor run


@dataclass
class Run:
    tag: str
    put_at: float  # time.time() just after the PUT returned
    latency: float
    commit: str
    seen: float  # time.monotonic() when the poller saw the commit
    gap: str = ""  # when the PUT was made
    logged_at: float | None = None  # gitferry's "pushed commit" log line, time.time()


def gitferry_run(env: Env, tag: str, add_tags: Callable[..., None]) -> Run:
    before = read_head(env.bare)
    add_tags(env.registry, REPOSITORY, "1.0.0", [tag])
    put_at, start = time.time(), time.perf_counter()
    deadline = start + 30
    while (head := read_head(env.bare)) == before:
        if time.perf_counter() > deadline:
            env.daemon.check()
            raise SystemExit(f"no commit for {tag} within 30 s; see {env.up_log}")
        time.sleep(POLL)
    seen = time.monotonic()
    latency = time.perf_counter() - start
    assert head is not None
    message = git(env.bare, "log", "-1", "--format=%B", head)
    author = git(env.bare, "log", "-1", "--format=%an <%ae>", head).strip()
    if f"-> {env.image}:{tag}" not in message or author != f"{AUTHOR[0]} <{AUTHOR[1]}>":
        raise SystemExit(f"unexpected commit {head[:12]} by {author}:\n{message}")
    return Run(tag, put_at, latency, head, seen)


@dataclass
class FloorRun:
    total: float
    steps: dict[str, float]


def floor_run(env: Env, index: int) -> FloorRun:
    import httpx

    checkout = env.root / "floor" / f"run-{index}"
    steps: dict[str, float] = {}
    start = last = time.perf_counter()

    def step(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        steps[name] = now - last
        last = now

    with httpx.Client(verify=env.tls, timeout=10) as http:  # a new client and connection, as gitferry per scan
        answer = http.get(f"{env.registry.base_url}/v2/{REPOSITORY}/tags/list")
    answer.raise_for_status()
    versions = [tag for tag in answer.json()["tags"] if re.fullmatch(r"1\.0\.\d+", tag)]
    latest = max(versions, key=lambda tag: int(tag.rsplit(".", 1)[1]))
    step("tag-list GET (new httpx client)")
    git(env.root, "clone", "-q", str(env.floor_bare), str(checkout))
    step("git clone")
    web = checkout / "apps" / "web.yaml"
    text = web.read_text()
    old = re.search(r'image: "?([^"\s]+)', text)
    assert old is not None
    new_text = re.sub(r'(image: "?)[^"\s]+', rf"\g<1>{env.image}:{latest}", text, count=1)
    web.write_text(new_text)
    step("rewrite the image line")
    git(checkout, "commit", "-q", "-am", f"update images\n\n{old.group(1)} -> {env.image}:{latest}\n")
    step("git commit -am")
    git(checkout, "push", "-q", "origin", "HEAD:main")
    step("git push")
    total = time.perf_counter() - start
    shutil.rmtree(checkout)
    return FloorRun(total, steps)


def pushed_log_times(up_log: Path) -> dict[str, float]:
    """Short commit -> time.time() of gitferry's 'pushed commit' log line (asctime, local time, ms)."""
    found = {}
    pattern = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) gitferry\.imageupdate .*pushed commit '(\w+)'")
    for line in up_log.read_text(errors="replace").splitlines():
        matched = pattern.match(line)
        if matched:
            found[matched.group(2)] = dt.datetime.strptime(matched.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return found


# ---------------------------------------------------------------------------------------------
# trace analysis


def load_spans(trace: Path) -> list[dict[str, Any]]:
    if not trace.exists():
        return []
    return [json.loads(line) for line in trace.read_text().splitlines() if line.strip()]


def exec_name(span: dict[str, Any]) -> str:
    argv = list(span.get("argv", []))
    if argv and argv[0] == "git":
        words = [a for a in argv[1:] if not a.startswith("-") and "/" not in a]
        return "git " + (words[0] if words else "?")
    return " ".join(argv[:3])


def breakdown(run: Run, spans: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    """(step, start, end) in time.time() for one run: the scan that saw the tag, policy, automation."""
    automation_key = f"{AUTOMATION[0]}/{AUTOMATION[2]}"
    reconciles = [s for s in spans if s["span"] == "reconcile"]
    policy = next((s for s in reconciles if s["key"] == "ImagePolicy/app" and s["t0"] >= run.put_at), None)
    if policy is None:
        return []
    scans = [s for s in reconciles if s["key"] == "ImageRepository/app" and s["t1"] <= policy["t0"] + 1e-3]
    automation = next((s for s in reconciles if s["key"] == automation_key and s["t0"] >= policy["t0"]), None)
    if not scans or automation is None:
        return []
    scan = scans[-1]
    rows = [("PUT returned -> the next scan starts", run.put_at, scan["t0"]), ("scan", scan["t0"], scan["t1"])]
    for span in spans:
        if span["span"] == "list_tags" and scan["t0"] <= span["t0"] <= scan["t1"]:
            rows.append(("  of which list_tags", span["t0"], span["t1"]))
    rows += [("scan -> policy starts", scan["t1"], policy["t0"]), ("policy", policy["t0"], policy["t1"])]
    rows += [("policy -> automation starts", policy["t1"], automation["t0"])]
    rows.append(("automation (whole reconcile)", automation["t0"], automation["t1"]))
    previous = automation["t0"]
    inner = sorted(
        (s for s in spans if s["key"] == automation_key and s["span"] in ("exec", "setters")), key=lambda s: s["t0"]
    )
    for span in inner:
        if not automation["t0"] <= span["t0"] <= automation["t1"]:
            continue
        if span["t0"] - previous > 0.001:
            rows.append(("  (between steps: Python)", previous, span["t0"]))
        name = "Setters rewrite (thread)" if span["span"] == "setters" else exec_name(span)
        rows.append((f"  {name}", span["t0"], span["t1"]))
        previous = span["t1"]
    if automation["t1"] - previous > 0.001:
        rows.append(("  (after push: status, event, log)", previous, automation["t1"]))
    pushes = [r for r in rows if r[0] == "  git push"]
    if pushes:
        rows.append(("git push returned -> poller saw the ref", pushes[-1][2], run.put_at + run.latency))
    return rows


# ---------------------------------------------------------------------------------------------
# output


def stats(values: Sequence[float]) -> list[str]:
    return [f"{statistics.median(values):.3f}", f"{min(values):.3f}", f"{max(values):.3f}"]


def versions() -> str:
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return f"Python {platform.python_version()}, {git_version}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--trace", action="store_true", help="time gitferry's steps (runs up via this file)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (always kept on failure)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    sys.path.insert(0, str(ROOT))  # tests/registry.py: the loopback registry the tests use
    from tests.registry import add_tags, serve_registry, upload_tiny_image

    root = Path(tempfile.mkdtemp(prefix="gitferry-bench-images-"))
    env = Env(root, root / "trace.jsonl" if args.trace else None)
    failed = True
    began = time.monotonic()
    log(f"{versions()}; temp dir {root}")
    try:
        with serve_registry(root / "registry") as registry:
            try:
                env.registry, env.image = registry, registry.image(REPOSITORY)
                upload_tiny_image(registry, REPOSITORY, "1.0.0")
                env.podman_shim()
                env.make_repository()
                env.bootstrap()
                env.daemon.start(ROOT, env.environ())
                env.wait(
                    "ImageRepository, ImagePolicy (1.0.0), ImageUpdateAutomation and flux-system Ready",
                    env.ready_at_start,
                )
                log(f"gitferry up ready after {time.monotonic() - began:.1f}s (log: {env.up_log})")
                start_commits = int(git(env.bare, "rev-list", "--count", "main").strip())

                runs: list[Run] = []
                floors: list[FloorRun] = []
                next_put, gap = time.monotonic() + PAUSE, "1.3s after ready"
                for i in range(1, args.runs + 1):
                    time.sleep(max(0.0, next_put - time.monotonic()))
                    run = gitferry_run(env, f"1.0.{i}", add_tags)
                    run.gap = gap
                    runs.append(run)
                    env.wait(f"flux-system at {run.commit[:12]}", lambda run=run: env.settled(run.commit))
                    floors.append(floor_run(env, i))
                    log(
                        f"run {i}: tag {run.tag} PUT {gap} -> commit {run.commit[:12]} in {run.latency:.3f}s; "
                        f"floor {floors[-1].total:.3f}s"
                    )
                    # The next PUT: PAUSE plus a fraction of the interval after this commit was seen, so the
                    # PUTs sample the scan cycle evenly instead of all landing at one phase.
                    offset = PAUSE + (i % args.runs) / args.runs * SCAN_INTERVAL
                    next_put, gap = run.seen + offset, f"{offset:.1f}s after the last commit"
                time.sleep(3 * SCAN_INTERVAL)  # later scans must not commit again

                end_commits = int(git(env.bare, "rev-list", "--count", "main").strip())
                automation_commits = int(git(env.bare, "rev-list", "--count", f"--author={AUTHOR[1]}", "main").strip())
                logged = pushed_log_times(env.up_log)
                for run in runs:
                    run.logged_at = logged.get(run.commit[:7])
                wide = {**env.environ(), "COLUMNS": "200"}
                listing = subprocess.run(
                    env.gitferry("get", "images", "update"), capture_output=True, text=True, env=wide, cwd=ROOT
                )
                automation = env.status("ImageUpdateAutomation")
                events = env.query(
                    "SELECT COUNT(*) FROM events WHERE kind='ImageUpdateAutomation' AND message LIKE 'pushed commit%'"
                )[0][0]
                inventory = env.status("Kustomization", "flux-system").get("inventory", {}).get("entries", [])
                podman_calls = env.podman_log.read_text().splitlines()
                head = read_head(env.bare)
                spans = load_spans(env.trace) if env.trace else []
            finally:
                code = env.daemon.stop()  # before the registry stops, so no scan fails on the way out
        failed = False
    finally:
        env.daemon.stop()
        if failed:
            log(f"FAILED: kept {root} (gitferry up log: {env.up_log})")

    latencies = [r.latency for r in runs]
    floor_totals = [f.total for f in floors]
    print()
    print(f"registry push -> GitOps commit, ImageRepository interval {SCAN_INTERVAL:.0f}s, {len(runs)} runs")
    rows = [["gitferry: tag PUT -> commit on main (s)", *stats(latencies)]]
    logged_delays = [r.logged_at - r.put_at for r in runs if r.logged_at is not None]
    if logged_delays:
        rows.append(["  tag PUT -> gitferry logs 'pushed commit'", *stats(logged_delays)])
    rows.append(["floor: GET + clone + rewrite + commit + push", *stats(floor_totals)])
    for name in floors[0].steps:
        rows.append([f"  {name}", *stats([f.steps[name] for f in floors])])
    table(["measure", "median", "min", "max"], rows)

    median, floor_median = statistics.median(latencies), statistics.median(floor_totals)
    overhead = median - floor_median - EXPECTED_WAIT
    table(
        ["figure", "seconds", "target", "ok"],
        [
            ["gitferry median", f"{median:.3f}", f"< {TARGET:.1f}", ok(median < TARGET)],
            ["floor median", f"{floor_median:.3f}", "", ""],
            [f"gitferry - floor - expected scan wait ({EXPECTED_WAIT:.1f})", f"{overhead:+.3f}", "", ""],
        ],
    )
    print("per run: " + ", ".join(f"{r.tag} {r.latency:.3f}s" for r in runs))
    print()

    kinds = sorted({str(e.get("id", "")).split("_")[-1] or "?" for e in inventory})
    print(f"ImageUpdateAutomation {AUTOMATION[1]}/{AUTOMATION[2]} Ready {ready_message(automation)}")
    print(
        f"  lastPushCommit {str(automation.get('lastPushCommit', ''))[:12]}, main {str(head)[:12]}: "
        f"{ok(automation.get('lastPushCommit') == head)}"
    )
    print(
        f"automation commits on main: {automation_commits} (runs {len(runs)}: {ok(automation_commits == len(runs))});"
        f" commits on main {start_commits} -> {end_commits}; 'pushed commit' events: {events}"
    )
    print(f"root Kustomization inventory: {len(inventory)} objects, kinds {', '.join(kinds)}")
    print(f"podman calls by gitferry (shim in PATH): {len(podman_calls)} ({ok(not podman_calls)})")
    for call in podman_calls[:10]:
        print(f"  {call}")
    print(f"gitferry up exited with {code} after SIGTERM")
    print("\n$ gitferry get images update")
    print(listing.stdout.rstrip() or listing.stderr.rstrip())

    if spans:
        print_trace(runs, spans)
    print(f"\ntook {time.monotonic() - began:.0f}s")
    if args.keep:
        print(f"kept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def print_trace(runs: list[Run], spans: list[dict[str, Any]]) -> None:
    per_run = [breakdown(run, spans) for run in runs]
    if not all(per_run):
        missing = [run.tag for run, rows in zip(runs, per_run, strict=True) if not rows]
        print(f"\ntrace: no scan/policy/automation reconciles matched for {', '.join(missing)}")
    steps: dict[str, list[float]] = {}
    for rows in per_run:
        seen: dict[str, int] = {}
        for name, t0, t1 in rows:
            seen[name] = seen.get(name, 0) + 1
            label = name if seen[name] == 1 else f"{name} #{seen[name]}"
            steps.setdefault(label, []).append((t1 - t0) * 1000)
    print("\nwhere gitferry's time went (traced; ms, over the runs that have the step):")
    table(
        ["step", "median", "min", "max", "runs"],
        [[n, f"{statistics.median(v):.0f}", f"{min(v):.0f}", f"{max(v):.0f}", str(len(v))] for n, v in steps.items()],
    )
    ordered = sorted(range(len(runs)), key=lambda i: runs[i].latency)
    middle = ordered[len(ordered) // 2]
    if per_run[middle]:
        run = runs[middle]
        print(f"timeline of the median run ({run.tag}, {run.latency:.3f}s), ms after the PUT returned:")
        table(
            ["step", "start", "end", "took"],
            [
                [n, f"{(t0 - run.put_at) * 1000:.0f}", f"{(t1 - run.put_at) * 1000:.0f}", f"{(t1 - t0) * 1000:.0f}"]
                for n, t0, t1 in per_run[middle]
            ],
        )


if __name__ == "__main__":
    # python image_push_to_commit.py --as-traced-gitferry TRACE -- <gitferry args>: what --trace runs as up
    if not run_traced(sys.argv[1:], trace_gitferry):
        sys.exit(main())
