"""Push-to-running latency on podman: from ``git push`` to the first HTTP response of the new version.

Everything is real: a GitOps repository made from ``examples/gitops-config`` (dev and staging, two
replicas each, free ports, a unique namespace prefix), ``gitferry bootstrap`` and ``gitferry up
--no-live`` run as the CLI, podman runs the pods. Each run changes the ConfigMap message to
``version N`` in the work clone, commits, then (timed from here) ``git push``, ``gitferry reconcile
source git flux-system`` (through the daemon's control socket) and polls the dev port every 20 ms
until the body says ``version N``.

The floor, measured in the same run on a pod of its own: the play YAML gitferry would run for one
dev replica (from ``podman_translate.pod_plans`` over the rendered Deployment and ConfigMap), with
the message changed, replaced by bare podman and polled the same way:

- ``kube play --replace FILE`` (what a person would type);
- ``pod stop -t <grace>`` + ``pod rm -f`` + ``kube play FILE`` (what gitferry's podman target runs).

Where gitferry's time goes: ``up`` runs in this file's ``--as-traced-gitferry`` mode, which is the
real ``gitferry`` CLI with ``gitferry.process.run`` (every git, kustomize and podman call) and the
reconcile, render, apply and health steps wrapped to write start/end times to a trace file
(``--no-trace`` runs plain ``python -m gitferry`` instead). Run from the repository root::

    python benchmarks/push_to_running.py [--runs 5]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# benchmarks/common.py: the scripts run from their own folder
from common import Daemon, Tracer, describe_exec, git, log, ok, port_free, run_traced, table

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "gitops-config"
IMAGE = "localhost/gitferry-bench/web:1"
CONFIGMAP = "apps/base/configmap.yaml"
DEV_OVERLAY = "apps/dev/kustomization.yaml"
DEV_PATCH = """patches:
  - patch: |-
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: web-config
      data:
        message: "hello from ${ENVIRONMENT}, version 1"
"""
MESSAGE = 'message: "hello from ${ENVIRONMENT}, version {n}"'
INTERVAL = "10m"  # long, so no periodic reconcile runs during a measurement
TARGET_OVERHEAD = 0.5  # seconds


# ---------------------------------------------------------------------------------------------
# the traced daemon: the real CLI with these steps timed (common.Tracer)


def trace_gitferry(tracer: Tracer) -> None:
    """Time gitferry's subprocesses, reconciles and their render, apply and health steps."""
    from gitferry import process
    from gitferry.controllers import gitrepository, kustomization
    from gitferry.reactor import control, loop
    from gitferry.targets import podman

    process.run = tracer.wrap("exec", process.run, describe_exec)
    tracer.trace_reconcilers(loop.RECONCILERS)
    for module, name, span in [
        (kustomization, "render", "render"),
        (kustomization, "_wait_healthy", "health"),
        (gitrepository, "fetch", "sources.git.fetch"),
        (control, "_answer", "control socket request"),
    ]:
        if hasattr(module, name):  # the package is being edited: trace what is there
            setattr(module, name, tracer.wrap(span, getattr(module, name)))
    podman.PodmanTarget.apply = tracer.wrap("target.apply", podman.PodmanTarget.apply)  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------
# helpers: git, ports, HTTP, podman


def free_ports() -> tuple[int, int, int]:
    """dev, staging and floor base ports: dev..dev+1, dev+100..dev+101 and dev+50 all free."""
    for _ in range(200):
        base = random.randrange(20000, 32000)  # below the ephemeral range: no self-connected probes
        if all(port_free(p) for p in (base, base + 1, base + 100, base + 101, base + 50)):
            return base, base + 100, base + 50
    raise SystemExit("no free block of ports on 127.0.0.1")


def http_get(port: int, timeout: float = 0.5) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, OSError):
        return None


def marker(version: int) -> str:
    return f", version {version} from"  # the page is "$MESSAGE from $HOSTNAME"


def poll_until(port: int, version: int, timeout: float, every: float = 0.02) -> float:
    """time.time() of the first response showing ``version``; SystemExit after ``timeout``."""
    deadline = time.monotonic() + timeout
    want = marker(version)
    while time.monotonic() < deadline:
        body = http_get(port)
        if body is not None and want in body:
            return time.time()
        time.sleep(every)
    raise SystemExit(f"127.0.0.1:{port} did not serve version {version} within {timeout:.0f}s")


def podman(*args: str, stdin: str | None = None, check: bool = True) -> str:
    done = subprocess.run(["podman", *args], input=stdin, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise SystemExit(f"podman {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def pod_names() -> list[str]:
    return podman("pod", "ps", "--format", "{{.Name}}", check=False).split()  # podman 4.3 lists stopped pods too


def remove_pods(prefix: str) -> list[str]:
    doomed = [name for name in pod_names() if name.startswith(prefix)]
    if doomed:
        podman("pod", "rm", "-f", "-t", "0", *doomed, check=False)
    left = [name for name in pod_names() if name.startswith(prefix)]
    if left:
        log(f"warning: pods left behind: {' '.join(left)} (remove with: podman pod rm -f {' '.join(left)})")
    return doomed


def pod_ids() -> dict[str, str]:
    out = podman("pod", "ps", "--no-trunc", "--format", "{{.ID}} {{.Name}}")
    return dict(line.split(None, 1) for line in out.splitlines() if " " in line)


def ensure_image() -> None:
    if subprocess.run(["podman", "image", "exists", IMAGE], check=False).returncode != 0:
        log(f"building {IMAGE} with scripts/make-image.sh")
        subprocess.run(["bash", str(ROOT / "scripts" / "make-image.sh"), IMAGE], check=True)


# ---------------------------------------------------------------------------------------------
# the environment: repository, bootstrap, daemon


@dataclass
class Env:
    root: Path
    prefix: str
    dev: int
    staging: int
    floor: int
    trace: Path | None
    only_dev: bool
    work: Path = field(init=False)
    bare: Path = field(init=False)
    data: Path = field(init=False)
    up_log: Path = field(init=False)
    daemon: Daemon = field(init=False)

    def __post_init__(self) -> None:
        self.work, self.bare = self.root / "gitops-config", self.root / "gitops-config.git"
        self.data, self.up_log = self.root / "data", self.root / "up.log"
        self.daemon = Daemon(Path(__file__).resolve(), self.data, self.up_log, self.trace)

    def gitferry(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "gitferry", "--data-dir", str(self.data), *args]

    def make_repository(self) -> None:
        git(self.root, "init", "-q", "--bare", "--initial-branch=main", str(self.bare))
        git(self.root, "clone", "-q", str(self.bare), str(self.work))
        shutil.copytree(EXAMPLE, self.work, dirs_exist_ok=True)
        apps = self.work / "clusters" / "local" / "apps.yaml"
        text = apps.read_text().replace('"18080"', f'"{self.dev}"').replace('"18180"', f'"{self.staging}"')
        text = text.replace("interval: 1m", f"interval: {INTERVAL}")
        text = text.replace("targetNamespace: dev", f"targetNamespace: {self.prefix}dev")
        apps.write_text(text.replace("targetNamespace: staging", f"targetNamespace: {self.prefix}staging"))
        deployment = self.work / "apps" / "base" / "deployment.yaml"
        deployment.write_text(deployment.read_text().replace("localhost/gitferry-demo/web:1", IMAGE))
        if self.only_dev:  # the message moves into a dev-only patch, so a change leaves staging's pods alone
            overlay = self.work / DEV_OVERLAY
            overlay.write_text(overlay.read_text() + DEV_PATCH)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", "dev and staging")
        git(self.work, "push", "-q", "origin", "HEAD:main")

    def bootstrap(self) -> None:
        args = ["bootstrap", "--url", f"file://{self.bare}", "--branch", "main", "--path", "./clusters/local"]
        done = subprocess.run(self.gitferry(*args, "--interval", INTERVAL), capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"gitferry bootstrap failed:\n{done.stdout}{done.stderr}")
        git(self.work, "pull", "-q", "--rebase", "origin", "main")

    def statuses(self) -> dict[str, dict[str, Any]]:
        """Kustomization name -> status, read from the daemon's store (read-only)."""
        db = sqlite3.connect(f"file:{self.data / 'state.db'}?mode=ro", uri=True, timeout=10)
        try:
            rows = db.execute("SELECT name, body FROM status WHERE kind='Kustomization'").fetchall()
        finally:
            db.close()
        return {name: json.loads(body) for name, body in rows}

    def settled(self, commit: str) -> bool:
        """apps-dev and apps-staging Ready at ``commit`` (so no reconcile of ours is still running)."""
        found = self.statuses()
        for name in ("apps-dev", "apps-staging"):
            status = found.get(name, {})
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
            if not ready or not str(status.get("lastAppliedRevision", "")).endswith(commit):
                return False
        return True

    @property
    def edited(self) -> Path:
        """The file whose message each run changes."""
        return self.work / (DEV_OVERLAY if self.only_dev else CONFIGMAP)

    def wait_settled(self, version: int, commit: str, timeout: float = 180) -> None:
        """Every replica serves what it should and both Kustomizations are Ready at ``commit``."""
        deadline = time.monotonic() + timeout
        staging = 1 if self.only_dev else version
        for port, want in (
            (self.dev, version),
            (self.dev + 1, version),
            (self.staging, staging),
            (self.staging + 1, staging),
        ):
            while not ((body := http_get(port)) and marker(want) in body):
                self.daemon.check()
                if time.monotonic() > deadline:
                    raise SystemExit(f"127.0.0.1:{port} does not serve version {want}; see {self.up_log}")
                time.sleep(0.1)
        while not self.settled(commit):
            self.daemon.check()
            if time.monotonic() > deadline:
                raise SystemExit(f"apps-dev/apps-staging not Ready at {commit[:12]}: {self.statuses()}")
            time.sleep(0.1)
        time.sleep(0.5)  # let the loop go idle


# ---------------------------------------------------------------------------------------------
# one gitferry run and one floor run


@dataclass
class GitferryRun:
    version: int
    push_start: float
    push_seconds: float
    cli_seconds: float
    latency: float
    spans: list[dict[str, Any]]
    pods: dict[str, str]  # pod id -> name, before the push


def gitferry_run(env: Env, version: int, trace_offset: int) -> tuple[GitferryRun, int]:
    path = env.edited
    path.write_text(re.sub(r'message: ".*"', MESSAGE.replace("{n}", str(version)), path.read_text()))
    git(env.work, "commit", "-q", "-am", f"version {version}")
    commit = git(env.work, "rev-parse", "HEAD").strip()
    pods = pod_ids()
    cli_end: list[float] = []

    t0 = time.time()
    git(env.work, "push", "-q", "origin", "HEAD:main")
    pushed = cli_started = time.time()
    cli = subprocess.Popen(
        env.gitferry("reconcile", "source", "git", "flux-system"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )

    def wait_cli() -> None:
        cli.wait()
        cli_end.append(time.time())

    waiter = threading.Thread(target=wait_cli, daemon=True)
    waiter.start()
    seen = poll_until(env.dev, version, timeout=180)
    waiter.join(180)
    output = cli.stdout.read().decode() if cli.stdout else ""
    if cli.returncode != 0:
        raise SystemExit(f"gitferry reconcile failed ({cli.returncode}):\n{output}")
    env.wait_settled(version, commit)
    spans, offset = read_trace(env.trace, trace_offset)
    spans.append({"span": "git push (client)", "t0": t0, "t1": pushed, "key": ""})
    spans.append({"span": "gitferry reconcile (CLI)", "t0": cli_started, "t1": cli_end[0], "key": ""})
    return GitferryRun(version, t0, pushed - t0, cli_end[0] - cli_started, seen - t0, spans, pods), offset


def read_trace(trace: Path | None, offset: int) -> tuple[list[dict[str, Any]], int]:
    if trace is None or not trace.exists():
        return [], offset
    with open(trace) as f:
        f.seek(offset)
        text = f.read()
        end = f.tell()
    lines = text.splitlines()
    return [json.loads(line) for line in lines if line.strip()], end


@dataclass
class Floor:
    """One pod, ``<prefix>floor-web-0``, from the play YAML gitferry makes for dev replica 0."""

    env: Env
    deployment: dict[str, Any]
    configmap: dict[str, Any]
    file: Path
    name: str = ""
    grace: int = 2

    @classmethod
    def from_inventory(cls, env: Env) -> Floor:
        """The rendered Deployment and ConfigMap as gitferry applied them, moved to the floor's namespace and port."""
        db = sqlite3.connect(f"file:{env.data / 'state.db'}?mode=ro", uri=True, timeout=10)
        try:
            rows = db.execute("SELECT kind, manifest FROM inventory WHERE owner='flux-system/apps-dev'").fetchall()
        finally:
            db.close()
        objects = {kind: json.loads(manifest) for kind, manifest in rows}
        deployment, configmap = copy.deepcopy(objects["Deployment"]), copy.deepcopy(objects["ConfigMap"])
        namespace = f"{env.prefix}floor"
        for obj in (deployment, configmap):
            obj["metadata"]["namespace"] = namespace
        deployment["spec"]["replicas"] = 1
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for port in container.get("ports") or []:
                if port.get("hostPort"):
                    port["hostPort"] = env.floor
        grace = deployment["spec"]["template"]["spec"].get("terminationGracePeriodSeconds")
        floor = cls(env, deployment, configmap, env.root / "floor.yaml")
        floor.grace = 2 if grace is None else int(grace)  # podman target's DEFAULT_GRACE_SECONDS when unset
        return floor

    def write(self, version: int) -> None:
        from gitferry.api.meta import ObjectKey
        from gitferry.targets import podman_translate as translate

        cm = copy.deepcopy(self.configmap)
        cm["data"]["message"] = re.sub(r"version \d+", f"version {version}", cm["data"]["message"])
        key = ObjectKey.of(cm)
        plans = translate.pod_plans(self.deployment, translate.owner_label("bench", "floor"), {key: cm}, {})
        self.name = plans[0].name
        self.file.write_text(plans[0].document)

    def start(self) -> None:
        self.write(1)
        podman("kube", "play", str(self.file))
        poll_until(self.env.floor, 1, timeout=60)

    def replace(self, version: int, how: str) -> dict[str, float]:
        """Seconds of each podman command, and ``total``: from the first one to the first response of ``version``."""
        self.write(version)
        steps = (
            [("kube play --replace", ["kube", "play", "--replace", str(self.file)])]
            if how == "replace"
            else [
                ("pod stop", ["pod", "stop", "-t", str(self.grace), self.name]),
                ("pod rm", ["pod", "rm", "-f", self.name]),
                ("kube play", ["kube", "play", str(self.file)]),
            ]
        )
        times: dict[str, float] = {}
        t0 = t = time.time()
        for name, args in steps:
            podman(*args)
            times[name], t = time.time() - t, time.time()
        seen = poll_until(self.env.floor, version, timeout=120)
        times["response"], times["total"] = seen - t, seen - t0
        return times


# ---------------------------------------------------------------------------------------------
# reporting


def seconds(values: Sequence[float]) -> list[str]:
    return [f"{statistics.median(values):.2f}", f"{min(values):.2f}", f"{max(values):.2f}"]


def span_label(span: dict[str, Any], pods: dict[str, str]) -> str:
    kind = str(span["span"])
    if kind != "exec":
        return kind
    argv = span.get("argv") or []
    if argv and argv[0] == "podman":
        words = [a for a in argv[1:] if not a.startswith("-")]
        grouped = words[:1] in (["pod"], ["kube"], ["image"], ["container"])
        verb = " ".join(words[:2]) if grouped else words[0] if words else ""
        target = span.get("pod") or next((pods[a] for a in argv if a in pods), "")
        return f"podman {verb}" + (f" {target}" if target else "")
    if argv and argv[0] == "git":
        return f"git {git_subcommand(argv)}"
    if argv[:2] in (["kubectl", "kustomize"], ["kustomize", "build"]):
        return f"kustomize build {Path(argv[-1]).parent.name}/{Path(argv[-1]).name}"
    return " ".join(argv[:2])


def git_subcommand(argv: Sequence[str]) -> str:
    skip = False
    for arg in argv[1:]:
        if skip:
            skip = False
        elif arg in ("--git-dir", "-C", "-c"):
            skip = True
        elif not arg.startswith("-"):
            return arg
    return ""


def short_key(key: str) -> str:
    kind, _, name = key.partition("/")
    return f"{name} (source)" if kind == "GitRepository" else name or "-"


def timeline(run: GitferryRun) -> None:
    """Every span of one run, relative to the moment before ``git push``."""
    rows = []
    for span in sorted(run.spans, key=lambda s: (s["t0"], s["t1"])):
        if span["t1"] < run.push_start:
            continue
        start, length = span["t0"] - run.push_start, span["t1"] - span["t0"]
        rows.append(
            [
                span_label(span, run.pods),
                short_key(span.get("key", "")),
                f"{start * 1000:.0f}",
                f"{(start + length) * 1000:.0f}",
                f"{length * 1000:.0f}",
            ]
        )
    rows.append(["first response with the new version (dev port)", "", "", f"{run.latency * 1000:.0f}", ""])
    table(["step", "reconcile of", "start ms", "end ms", "took ms"], rows)


def critical_path(run: GitferryRun, dev_pod: str) -> dict[str, float]:
    """The chain that serves the dev port, as durations in seconds (gaps between them included)."""
    spans = run.spans

    def first(pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        found = sorted((s for s in spans if pred(s) and s["t1"] >= run.push_start), key=lambda s: s["t0"])
        return found[0] if found else None

    def label(span: dict[str, Any]) -> str:
        return span_label(span, run.pods)

    git_rec = first(lambda s: s["span"] == "reconcile" and s["key"].startswith("GitRepository/"))
    dev_rec = first(lambda s: s["span"] == "reconcile" and s["key"] == "Kustomization/apps-dev")
    render = first(lambda s: s["span"] == "render" and s["key"] == "Kustomization/apps-dev")
    kustomize = first(lambda s: label(s).startswith("kustomize build") and s["key"] == "Kustomization/apps-dev")
    apply = first(lambda s: s["span"] == "target.apply" and s["key"] == "Kustomization/apps-dev")
    reads = [
        s
        for s in spans
        if s["key"] == "Kustomization/apps-dev"
        and label(s) in ("podman pod ps", "podman ps")
        and apply
        and apply["t0"] <= s["t0"] <= apply["t1"]
    ]
    exists = first(lambda s: label(s).startswith("podman image exists") and s["key"] == "Kustomization/apps-dev")
    stop = first(lambda s: label(s) == f"podman pod stop {dev_pod}")
    rm = first(lambda s: label(s) == f"podman pod rm {dev_pod}")
    play = first(lambda s: label(s) == f"podman kube play {dev_pod}")
    if not all((git_rec, dev_rec, render, apply, stop, rm, play)):
        return {}
    assert git_rec and dev_rec and render and apply and stop and rm and play
    t = run.push_start
    out = {
        "git push (client)": run.push_seconds,
        "CLI start + control socket -> GitRepository reconcile starts": git_rec["t0"] - (t + run.push_seconds),
        "GitRepository reconcile (ls-remote, fetch, archive, artifact)": git_rec["t1"] - git_rec["t0"],
        "wake -> apps-dev reconcile starts": dev_rec["t0"] - git_rec["t1"],
        "apps-dev before render (parse, dependencies)": render["t0"] - dev_rec["t0"],
        "render (copy source, kustomize, substitute, validate)": render["t1"] - render["t0"],
        "  of which kustomize build": (kustomize["t1"] - kustomize["t0"]) if kustomize else float("nan"),
        "render -> target.apply": apply["t0"] - render["t1"],
        "target.apply start -> pod stop": stop["t0"] - apply["t0"],
        "  of which reads (pod ps + ps, concurrent)": (max(s["t1"] for s in reads) - min(s["t0"] for s in reads))
        if reads
        else float("nan"),
        "  of which image exists": (exists["t1"] - exists["t0"]) if exists else float("nan"),
        "podman pod stop -t grace": stop["t1"] - stop["t0"],
        "podman pod rm -f": rm["t1"] - rm["t0"],
        "podman kube play": play["t1"] - play["t0"],
        "kube play returned -> first new response": run.push_start + run.latency - play["t1"],
        "= push -> first new response": run.latency,
    }
    return out


# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if run_traced(argv, trace_gitferry):
        return 0
    parser = argparse.ArgumentParser(
        description="Push-to-running latency of gitferry on podman, against bare 'podman kube play' (the floor).",
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="pushes to measure, and floor replacements of each kind (5)"
    )
    parser.add_argument(
        "--only-dev",
        action="store_true",
        help="change the message in a dev-only patch, so staging's pods are not replaced at the same time",
    )
    parser.add_argument("--no-trace", action="store_true", help="run plain 'python -m gitferry up' (no breakdown)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (pods are removed anyway)")
    args = parser.parse_args(argv)

    os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "scripts" / "containers.conf"))
    for tool in ("git", "podman"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (see README: scripts/setup.sh)")
    ensure_image()
    root = Path(tempfile.mkdtemp(prefix="gitferry-bench-push-"))
    prefix = f"gfb{os.getpid() % 100000}"
    dev, staging, floor_port = free_ports()
    env = Env(root, prefix, dev, staging, floor_port, None if args.no_trace else root / "trace.jsonl", args.only_dev)
    try:
        return run(env, args.runs)
    finally:
        env.daemon.stop()
        removed = remove_pods(prefix)
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
        log(f"cleaned up: {len(removed)} pods with prefix {prefix!r} removed" + ("" if args.keep else f", {root}"))


def run(env: Env, runs: int) -> int:
    log(
        f"gitferry push-to-running on podman: {runs} runs; {os.cpu_count()} cores, {platform.platform()}, "
        f"{podman('--version').strip()}, Python {platform.python_version()}"
    )
    log(
        f"namespaces {env.prefix}dev / {env.prefix}staging (2 replicas each), ports {env.dev} / {env.staging}, "
        f"floor pod {env.prefix}floor-web-0 on {env.floor}; data in {env.root}"
    )
    changed = "dev only (a patch in apps/dev)" if env.only_dev else "dev and staging (apps/base/configmap.yaml)"
    log(f"each run changes the ConfigMap message of {changed}: {'2' if env.only_dev else '4'} pods are replaced")
    env.make_repository()
    env.bootstrap()
    env.daemon.start(ROOT)
    started = time.monotonic()
    commit = git(env.work, "rev-parse", "HEAD").strip()
    env.wait_settled(1, commit, timeout=300)
    log(f"bootstrap + 'gitferry up': both environments serve after {time.monotonic() - started:.1f}s")
    floor = Floor.from_inventory(env)
    floor.start()

    results: list[GitferryRun] = []
    replace: list[dict[str, float]] = []
    stop_rm_play: list[dict[str, float]] = []
    offset = 0
    version = 1
    for i in range(runs):
        version += 1
        result, offset = gitferry_run(env, version, offset)
        results.append(result)
        replace.append(floor.replace(version, "replace"))
        time.sleep(0.5)
        stop_rm_play.append(floor.replace(version + 1000, "stop-rm-play"))
        time.sleep(0.5)
        log(
            f"run {i + 1}: gitferry {result.latency:.2f}s (push {result.push_seconds:.2f}s, CLI returned after "
            f"{result.cli_seconds:.2f}s); floor: kube play --replace {replace[-1]['total']:.2f}s, "
            f"stop+rm+play {stop_rm_play[-1]['total']:.2f}s"
        )

    latencies = [r.latency for r in results]
    print()
    print(
        f"push-to-running, {runs} runs (seconds; gitferry: from before 'git push' to the first new response "
        "on the dev port; floor: from the podman command to the first new response)"
    )
    table(
        ["measure", "median", "min", "max"],
        [
            ["gitferry: push -> new version serves", *seconds(latencies)],
            ["  git push", *seconds([r.push_seconds for r in results])],
            ["  'gitferry reconcile source git' returns", *seconds([r.cli_seconds for r in results])],
            ["floor: podman kube play --replace", *seconds([r["total"] for r in replace])],
            ["floor: pod stop -t grace + pod rm + kube play", *seconds([r["total"] for r in stop_rm_play])],
        ],
    )
    med = statistics.median(latencies)
    over_replace = med - statistics.median(r["total"] for r in replace)
    over_own = med - statistics.median(r["total"] for r in stop_rm_play)
    table(
        ["overhead = gitferry median - floor median", "seconds", "target", "ok"],
        [
            [
                "vs kube play --replace",
                f"{over_replace:+.2f}",
                f"< {TARGET_OVERHEAD}",
                ok(over_replace < TARGET_OVERHEAD),
            ],
            [
                "vs stop + rm + play (gitferry's own commands)",
                f"{over_own:+.2f}",
                f"< {TARGET_OVERHEAD}",
                ok(over_own < TARGET_OVERHEAD),
            ],
        ],
    )

    if env.trace is not None:
        dev_pod = f"{env.prefix}dev-web-0"
        paths = [p for p in (critical_path(r, dev_pod) for r in results) if p]
        if paths:
            print(
                f"where gitferry's time goes: the chain that serves the dev port ({dev_pod}), {len(paths)} runs, "
                "ms; the same podman commands run bare (the floor) beside them"
            )
            floor_of = {
                "podman pod stop -t grace": "pod stop",
                "podman pod rm -f": "pod rm",
                "podman kube play": "kube play",
                "kube play returned -> first new response": "response",
                "= push -> first new response": "total",
            }
            rows = []
            for name in paths[0]:
                values = [p[name] for p in paths]
                floor_ms = ""
                if name in floor_of:
                    floor_ms = f"{statistics.median(r[floor_of[name]] for r in stop_rm_play) * 1000:.0f}"
                stats = (statistics.median(values), min(values), max(values))
                rows.append([name, *[f"{v * 1000:.0f}" for v in stats], floor_ms])
            table(["step", "median ms", "min ms", "max ms", "floor (stop+rm+play) median ms"], rows)
        middle = sorted(results, key=lambda r: r.latency)[len(results) // 2]
        print(
            f"timeline of the median run (run {results.index(middle) + 1}, {middle.latency:.2f}s), "
            "every traced step, ms after the moment before 'git push':"
        )
        timeline(middle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
