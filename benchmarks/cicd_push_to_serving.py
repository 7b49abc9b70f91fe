"""App ``git push`` -> new version serving in dev and staging, split by stage (issue 4's figure).

Issue 4: "``git push`` of app code -> new version serving, split by stage (trigger, pipeline, build, push,
scan, commit, reconcile, pod ready), median of 5. The seed's walk-through took minutes with 1-minute polls;
target: under 20 s end to end with webhooks, where the build itself is the largest part."

Everything is real and on the loopback: Debian's ``docker-registry`` (``tests/registry.py``), git (bare
"remotes" and work clones in a temp dir, ``file://``), podman and buildah, and the gitferry CLI:

- the application repository is ``examples/app-source`` (busybox HTTP app, Containerfile, ``.tekton/push.yaml``:
  clone -> lint + test -> the built-in ``build-image``, pushing ``main-<short commit>-<committer date>``), its
  base image and step image ``localhost/gitferry-bench/web:1`` (``scripts/make-image.sh``);
- the GitOps repository is ``examples/gitops-config`` with ``examples/ci`` on top (``tests/gitops.py``:
  AppSource, GitOpsRepo, add_ci, as ``tests/test_e2e_cicd.py``): dev and staging, 2 replicas each, staging
  ``dependsOn`` dev (``wait: true``); the Pipelines-as-Code ``Repository`` with polling off
  (``gitferry.io/poll-interval: "0"``), the ``ImageRepository`` (scanning every minute, and at once when the
  pipeline's build-image task reports the IMAGE_URL it pushed), ``ImagePolicy``, ``ImageUpdateAutomation``,
  and the Flux ``Receiver`` of ``examples/ci`` (``git-push``, type generic). GitRepository and
  Kustomizations every 10 m: the automation's push wakes the
  GitRepository at once, so no hook is installed on the GitOps repository;
- ``gitferry create secret receiver``, ``gitferry bootstrap``, then ``gitferry --no-tls-verify -v up --no-live
  --http-port 0`` as a subprocess, and once ``gitferry get receivers`` shows the URL, ``gitferry receiver hook``
  installs a post-receive hook in the app's bare repository: each ``git push`` POSTs to the Receiver, which
  reconciles the Repository at once.

Each run (``--runs``, 5, after one warm-up run not counted) writes the next version to ``app/VERSION`` in the
app's work clone and commits (not timed); the clock starts just before ``git push`` and stops when all four
replicas (dev and staging) serve "app version N" (each port polled every 20 ms; staging's only after dev
serves, as it cannot change before: ``dependsOn``). Then it waits until both Kustomizations are Ready at the
automation's commit.

Stages, from the traced daemon (``up`` runs through this file's ``--as-traced-gitferry`` mode: the real CLI with
``gitferry.process.run`` / ``stream`` (every git, buildah and podman call), every reconcile, the pipeline run
and its tasks, the Receiver's nudge, ``list_tags``, render, apply and health wrapped to write times; the
store's run records have whole seconds only, too coarse for this); each stage ends where the next begins, so
they add up to the total ("other" is what a missing span leaves):

1. trigger: ``git push`` -> PipelineRun created (hook, webhook, Repository: ls-remote, fetch, ``.tekton/``);
2. pipeline before build: clone, lint and test, until ``buildah build`` starts;
3. build: ``buildah build`` in the built-in build-image task;
4. push: ``buildah push``;
5. scan: push returned -> the end of the ImageRepository scan whose tag list has the new tag (the pipeline's
   report of the pushed image wakes it);
6. commit: policy, then the automation's clone, Setters rewrite, commit and ``git push``;
7. reconcile: GitRepository fetch, apps-dev render and apply until its pods are stopped;
8. pod ready: pod stop (grace 1 s), rm, kube play in dev, apps-dev's health check, then staging the same way,
   until both staging replicas serve.

The floor, in the same run after each measured one, on a fresh clone of the same commit: the inline tasks of
``.tekton/`` (lint, test) by hand, each step a ``podman run --rm --network=host`` with the clone mounted, the
tasks at once; the same ``buildah build`` argv (``--isolation=chroot --layers``, with ``app/VERSION`` set to
``N.0`` so no cached layer is reused, as none is in the pipeline) and ``buildah push``; then ``pod stop -t 1`` +
``pod rm`` + ``kube play`` of the play YAML gitferry makes for dev replica 0 (``podman_translate.pod_plans``, own
pod and port) with that image, until it serves. Images built here (named after the registry's random port)
and every pod with this run's prefix are removed at the end, with the registry, the daemon and the temp dir.

Run from the repository root::

    python benchmarks/cicd_push_to_serving.py [--runs 5] [--keep]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import secrets
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from subprocess import DEVNULL
from typing import Any

# benchmarks/common.py: the scripts run from their own folder
from common import TRACE_FLAG, Daemon, Tracer, describe_exec, git, log, ok, port_free, run_traced, table

ROOT = Path(__file__).resolve().parent.parent
BASE_IMAGE = "localhost/gitferry-bench/web:1"  # FROM of the app, and the image of its lint and test steps
RECEIVER = "app-push"
TOKEN_SECRET = "webhook-token"
TOKEN_ENV = "GITFERRY_BENCH_WEBHOOK_TOKEN"
REPOSITORY = "Repository/app"
INTERVAL = "10m"  # GitRepository and Kustomizations: nothing periodic falls into a measurement
TARGET = 20.0  # seconds, push -> dev and staging serve
POLL = 0.02  # seconds between HTTP polls
INLINE = "lint + test (each step a podman run, tasks at once)"  # the floor's inline tasks
REPLACE = "pod stop -t 1 + pod rm + kube play -> serves"  # the floor's pod replacement


# ---------------------------------------------------------------------------------------------
# the traced daemon: the real CLI with these steps timed (common.Tracer)


def trace_gitferry(tracer: Tracer) -> None:
    """Time subprocesses, reconciles, the pipeline run and its tasks, the webhook's nudge and tag lists."""
    from gitferry import process
    from gitferry.controllers import kustomization, pipelineruns
    from gitferry.reactor import loop
    from gitferry.registry import client
    from gitferry.targets import podman

    process.run = tracer.wrap("exec", process.run, describe_exec)
    process.stream = tracer.wrap("stream", process.stream, describe_exec)
    tracer.trace_reconcilers(loop.RECONCILERS)
    kustomization.render = tracer.wrap("render", kustomization.render)
    kustomization._wait_healthy = tracer.wrap("health", kustomization._wait_healthy)
    podman.PodmanTarget.apply = tracer.wrap("target.apply", podman.PodmanTarget.apply)  # type: ignore[method-assign]
    execution = pipelineruns.Execution
    named = tracer.wrap("pipelinerun", execution.run, lambda self: {"run": self.name})
    execution.run = named  # type: ignore[method-assign]
    execution._run_task = tracer.wrap(  # type: ignore[method-assign]
        "task", execution._run_task, lambda self, planned, *_: {"run": self.name, "task": planned.name}
    )

    start = pipelineruns.RunManager.start

    def traced_start(self: Any, run: Any, plan_of: Any, **kwargs: Any) -> str:
        t0 = time.time()
        name = start(self, run, plan_of, **kwargs)
        tracer.emit("pipelinerun.start", t0, time.time(), run=name, revision=kwargs.get("revision", ""))
        return name

    pipelineruns.RunManager.start = traced_start  # type: ignore[method-assign]

    nudge = loop.Reactor.nudge

    def traced_nudge(self: Any, key: Any) -> bool:
        t0 = time.time()
        found = nudge(self, key)
        tracer.emit("nudge", t0, time.time(), target=f"{key.kind}/{key.name}")
        return found

    loop.Reactor.nudge = traced_nudge  # type: ignore[method-assign]

    list_tags = client.RegistryClient.list_tags

    async def traced_list_tags(self: Any, image: str) -> list[str]:
        t0, tags = time.time(), []
        try:
            tags = await list_tags(self, image)
            return tags
        finally:
            tracer.emit("list_tags", t0, time.time(), tags=tags)

    client.RegistryClient.list_tags = traced_list_tags  # type: ignore[method-assign]


class TracedDaemon(Daemon):
    """``gitferry --no-tls-verify -v up --no-live --http-port 0`` through this file's traced mode."""

    def start(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        assert self.trace is not None
        up = ["--data-dir", str(self.data), "--no-tls-verify", "-v", "up", "--no-live", "--http-port", "0"]
        argv = [sys.executable, str(self.script), TRACE_FLAG, str(self.trace), "--", *up]
        with open(self.up_log, "wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)


# ---------------------------------------------------------------------------------------------
# helpers: HTTP, podman, YAML edits


def http_get(port: int, timeout: float = 0.5) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, OSError):
        return None


def marker(version: str) -> str:
    return f", app version {version} from"  # the page is "<MESSAGE>, app version <VERSION> from <HOSTNAME>"


def wait_serving(ports: Sequence[int], version: str, timeout: float, check: Callable[[], None]) -> dict[int, float]:
    """time.time() at which each port first served ``version``; SystemExit after ``timeout``."""
    seen: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    want = marker(version)
    while len(seen) < len(ports):
        for port in ports:
            if port not in seen and want in (http_get(port) or ""):
                seen[port] = time.time()
        if time.monotonic() > deadline:
            check()
            raise SystemExit(f"ports {[p for p in ports if p not in seen]} did not serve version {version}")
        time.sleep(POLL)
    return seen


def podman(*args: str, check: bool = True) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise SystemExit(f"podman {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def remove_pods(prefix: str) -> list[str]:
    doomed = [n for n in podman("pod", "ps", "--format", "{{.Name}}", check=False).split() if n.startswith(prefix)]
    if doomed:
        podman("pod", "rm", "-f", "-t", "0", *doomed, check=False)
    left = [n for n in podman("pod", "ps", "--format", "{{.Name}}", check=False).split() if n.startswith(prefix)]
    if left:
        log(f"warning: pods left behind: {' '.join(left)} (remove with: podman pod rm -f {' '.join(left)})")
    return doomed


def images_left(repository: str) -> list[str]:
    """Tags of ``repository`` still in local storage (the registry's clean-up, tests/registry.py, removes them)."""
    return podman("images", "--format", "{{.Repository}}:{{.Tag}}", repository, check=False).split()


def ensure_base_image() -> None:
    if subprocess.run(["podman", "image", "exists", BASE_IMAGE], check=False).returncode != 0:
        log(f"building {BASE_IMAGE} with scripts/make-image.sh")
        subprocess.run(["bash", str(ROOT / "scripts" / "make-image.sh"), BASE_IMAGE], check=True)


def edit_yaml(path: Path, kind: str, change: Callable[[Any], None]) -> None:
    """Change the ``kind`` documents of a YAML file in place (ruamel round trip: comments kept)."""
    from ruamel.yaml import YAML

    yaml = YAML()
    docs = list(yaml.load_all(path.read_text()))
    found = [d for d in docs if isinstance(d, dict) and d.get("kind") == kind]
    if not found:
        raise SystemExit(f"no {kind} in {path} (examples/ci changed?)")
    for doc in found:
        change(doc)
    out = StringIO()
    yaml.dump_all(docs, out)
    path.write_text(out.getvalue())


def receiver_of(folder: Path) -> tuple[str, str] | None:
    """Name and token Secret of a Receiver under ``folder`` that names the Repository ``app``, if any."""
    from ruamel.yaml import YAML

    for path in sorted(folder.rglob("*.yaml")):
        for doc in YAML(typ="safe").load_all(path.read_text()):
            if not isinstance(doc, dict) or doc.get("kind") != "Receiver":
                continue
            spec = doc.get("spec") or {}
            if any(r.get("kind") == "Repository" and r.get("name") == "app" for r in spec.get("resources") or []):
                return doc["metadata"]["name"], spec["secretRef"]["name"]
    return None


# ---------------------------------------------------------------------------------------------
# the environment: registry, repositories, bootstrap, daemon, hook


@dataclass
class Env:
    root: Path
    prefix: str
    base: int  # dev replicas on base, base+1; staging on base+100, base+101; the floor pod on base+50
    registry: Any = None  # tests.registry.LocalRegistry
    image: str = ""
    app: Any = None  # tests.gitops.AppSource
    gitops: Any = None  # tests.gitops.GitOpsRepo
    receiver: str = RECEIVER  # the Receiver the app's post-receive hook calls, and its token's Secret
    token_secret: str = TOKEN_SECRET
    data: Path = field(init=False)
    up_log: Path = field(init=False)
    trace: Path = field(init=False)
    daemon: TracedDaemon = field(init=False)

    def __post_init__(self) -> None:
        self.data, self.up_log, self.trace = self.root / "data", self.root / "up.log", self.root / "trace.jsonl"
        self.daemon = TracedDaemon(Path(__file__).resolve(), self.data, self.up_log, self.trace)

    @property
    def dev_ports(self) -> tuple[int, int]:
        return self.base, self.base + 1

    @property
    def staging_ports(self) -> tuple[int, int]:
        return self.base + 100, self.base + 101

    @property
    def floor_port(self) -> int:
        return self.base + 50

    def gitferry(self, *args: str, env: dict[str, str] | None = None) -> str:
        argv = [sys.executable, "-m", "gitferry", "--data-dir", str(self.data), "--no-tls-verify", *args]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
        if done.returncode != 0:
            raise SystemExit(f"gitferry {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def make_repositories(self) -> None:
        # main() put ROOT on sys.path: the tests' helpers build the same repositories test_e2e_cicd.py uses
        from tests.gitops import (
            APP_IMAGE,
            APP_SOURCE_URL,
            DEMO_BASE_IMAGE,
            DEMO_REGISTRY,
            FIRST_APP_TAG,
            AppSource,
            GitOpsRepo,
            add_ci,
            build_image,
        )
        from tests.registry import push_with_buildah

        self.image = self.registry.image(APP_IMAGE)
        replace = {DEMO_REGISTRY: self.registry.host, DEMO_BASE_IMAGE: BASE_IMAGE}
        self.app = AppSource(self.root, replace)
        # The first image, as the demo makes it: built from the app as committed, tagged to sort first.
        build_image(self.app.work, f"{self.image}:{FIRST_APP_TAG}")
        push_with_buildah(self.registry, f"{self.image}:{FIRST_APP_TAG}", APP_IMAGE, FIRST_APP_TAG)
        self.gitops = GitOpsRepo(
            self.root,
            dev_port=self.dev_ports[0],
            staging_port=self.staging_ports[0],
            image=f"{self.image}:{FIRST_APP_TAG}",
            prefix=self.prefix,
            interval=INTERVAL,
        )
        add_ci(self.gitops, {**replace, APP_SOURCE_URL: self.app.url})
        local = self.gitops.work / "clusters" / "local"
        found = receiver_of(local)
        if found is None:
            raise SystemExit("examples/ci has no Receiver: the benchmark measures the webhook trigger")
        self.receiver, self.token_secret = found

        def polling_off(doc: Any) -> None:
            doc["metadata"].setdefault("annotations", {})["gitferry.io/poll-interval"] = "0"

        edit_yaml(local / "app-repository.yaml", "Repository", polling_off)
        self.gitops.commit("CI: build the app on each push (webhook), deploy its newest image")

    def bootstrap(self) -> None:
        self.gitferry(
            "create",
            "secret",
            "receiver",
            self.token_secret,
            "--token-env",
            TOKEN_ENV,
            env={TOKEN_ENV: secrets.token_urlsafe(24)},
        )
        self.gitferry("bootstrap", "--url", self.gitops.url, "--interval", INTERVAL)
        self.gitops.pull()

    # reading the daemon's store (read-only)

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(f"file:{self.data / 'state.db'}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def status(self, kind: str, name: str) -> dict[str, Any]:
        rows = self.query("SELECT body FROM status WHERE kind=? AND namespace='flux-system' AND name=?", kind, name)
        return json.loads(rows[0][0]) if rows else {}

    def settled(self, commit: str) -> bool:
        """apps-dev and apps-staging Ready at ``commit`` of the GitOps repository."""
        for name in ("apps-dev", "apps-staging"):
            status = self.status("Kustomization", name)
            if not ready(status) or not str(status.get("lastAppliedRevision", "")).endswith(commit):
                return False
        return True

    def wait(self, what: str, predicate: Callable[[], bool], timeout: float = 120) -> None:
        self.daemon.wait_for(what, predicate, timeout)

    def start(self) -> None:
        from tests.gitops import FIRST_APP_TAG

        self.daemon.start(ROOT, dict(os.environ))
        wait_serving([*self.dev_ports, *self.staging_ports], "1", 180, self.daemon.check)
        head = git(self.gitops.bare, "rev-parse", "main").strip()
        self.wait("dev and staging Ready", lambda: self.settled(head))
        self.wait("the Repository watching the app", lambda: "observedHeads" in self.status("Repository", "app"))
        self.wait("the Receiver Ready", lambda: ready(self.status("Receiver", self.receiver)))
        self.wait(
            f"the ImagePolicy at {FIRST_APP_TAG}",
            lambda: self.status("ImagePolicy", "app").get("latestRef", {}).get("tag") == FIRST_APP_TAG,
        )
        listing = self.gitferry("get", "receivers", env={"COLUMNS": "250"})
        log("$ gitferry get receivers\n" + listing.rstrip())
        hook = ("receiver", "hook", str(self.app.bare), "--receiver", self.receiver)
        log(f"$ gitferry {' '.join(hook)}\n" + self.gitferry(*hook, env={"COLUMNS": "250"}).rstrip())

    def gitops_head(self) -> str:
        return git(self.gitops.bare, "rev-parse", "main").strip()


def ready(status: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))


# ---------------------------------------------------------------------------------------------
# one measured run


@dataclass
class Run:
    version: int
    commit: str
    tag: str
    t0: float  # time.time() just before git push
    pushed: float  # git push returned
    served: dict[int, float]
    gitops_commit: str = ""
    run_name: str = ""
    run_status: str = ""
    spans: list[dict[str, Any]] = field(default_factory=list)
    floor: dict[str, float] = field(default_factory=dict)

    @property
    def end(self) -> float:
        return max(self.served.values())

    @property
    def total(self) -> float:
        return self.end - self.t0


def measured_run(env: Env, version: int) -> Run:
    work = env.app.work
    (work / "app" / "VERSION").write_text(f"{version}\n")
    git(work, "commit", "-q", "-am", f"Version {version}")
    commit = git(work, "rev-parse", "HEAD").strip()
    tag = f"main-{commit[:7]}-{git(work, 'log', '-1', '--format=%ct').strip()}"
    before = env.gitops_head()

    t0 = time.time()
    git(work, "push", "-q", "origin", "HEAD:main")  # the post-receive hook POSTs to the Receiver
    pushed = time.time()
    # Staging follows dev (dependsOn), so its ports are polled once dev serves: half the requests meanwhile.
    served = wait_serving(env.dev_ports, str(version), 180, env.daemon.check)
    served |= wait_serving(env.staging_ports, str(version), 180, env.daemon.check)
    run = Run(version, commit, tag, t0, pushed, served)

    env.wait("the automation's commit", lambda: env.gitops_head() != before, 30)
    run.gitops_commit = env.gitops_head()
    env.wait(f"dev and staging Ready at {run.gitops_commit[:12]}", lambda: env.settled(run.gitops_commit))
    rows = env.query("SELECT name, status FROM pipeline_runs WHERE revision=?", commit)
    if len(rows) != 1:
        raise SystemExit(f"expected one PipelineRun for {commit[:12]}, found {rows}")
    run.run_name, run.run_status = rows[0]
    time.sleep(0.5)  # let the loop go idle
    return run


def read_trace(trace: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    if not trace.exists():
        return [], offset
    with open(trace) as f:
        f.seek(offset)
        text = f.read()
        end = f.tell()
    return [json.loads(line) for line in text.splitlines() if line.strip()], end


# ---------------------------------------------------------------------------------------------
# the floor: the same build and push by hand, and one pod replaced by bare podman


@dataclass
class Floor:
    """Pod ``<prefix>floor-web-0`` from the play YAML gitferry makes for dev replica 0."""

    env: Env
    deployment: dict[str, Any]
    configmap: dict[str, Any]
    file: Path
    name: str = ""
    grace: int = 2

    @classmethod
    def from_inventory(cls, env: Env) -> Floor:
        rows = env.query("SELECT kind, manifest FROM inventory WHERE owner='flux-system/apps-dev'")
        objects = {kind: json.loads(manifest) for kind, manifest in rows}
        deployment, configmap = copy.deepcopy(objects["Deployment"]), copy.deepcopy(objects["ConfigMap"])
        for obj in (deployment, configmap):
            obj["metadata"]["namespace"] = f"{env.prefix}floor"
        deployment["spec"]["replicas"] = 1
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for port in container.get("ports") or []:
                if port.get("hostPort"):
                    port["hostPort"] = env.floor_port
        floor = cls(env, deployment, configmap, env.root / "floor.yaml")
        grace = deployment["spec"]["template"]["spec"].get("terminationGracePeriodSeconds")
        floor.grace = 2 if grace is None else int(grace)  # the podman target's default when unset
        return floor

    def write(self, image: str) -> None:
        from gitferry.api.meta import ObjectKey
        from gitferry.targets import podman_translate as translate

        deployment = copy.deepcopy(self.deployment)
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            container["image"] = image
        configmaps = {ObjectKey.of(self.configmap): self.configmap}
        plans = translate.pod_plans(deployment, translate.owner_label("bench", "floor"), configmaps, {})
        self.name = plans[0].name
        self.file.write_text(plans[0].document)

    def start(self, image: str) -> None:
        self.write(image)
        podman("kube", "play", str(self.file))
        wait_serving([self.env.floor_port], "1", 60, lambda: None)

    def run(self, version: int, commit: str) -> dict[str, float]:
        """The pipeline's work by hand on a fresh clone of ``commit``: its inline tasks (lint, test), then with
        app/VERSION ``<version>.0`` the build and push, then the pod replaced with that image."""
        source = self.env.root / "floor-src" / str(version)
        git(self.env.root, "clone", "-q", str(self.env.app.bare), str(source))
        git(source, "-c", "advice.detachedHead=false", "checkout", "-q", commit)
        times = {INLINE: inline_tasks(source)}
        (source / "app" / "VERSION").write_text(f"{version}.0\n")
        image = f"{self.env.image}:floor-{version}"  # the policy's filter (^main-...) ignores this tag
        build = ["buildah", "build", "--isolation=chroot", "--layers", "-f", str(source / "Containerfile")]
        digest = ["--digestfile", str(source.parent / f"{version}.digest")]
        for name, argv in (
            ("buildah build", [*build, "-t", image, str(source)]),
            ("buildah push", ["buildah", "push", "--tls-verify=false", *digest, image, f"docker://{image}"]),
        ):
            t = time.time()
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            times[name] = time.time() - t
            if done.returncode != 0:
                raise SystemExit(f"floor: {' '.join(argv[:2])} failed: {done.stderr[-500:]}")
        self.write(image)
        t = time.time()
        podman("pod", "stop", "-t", str(self.grace), self.name)
        podman("pod", "rm", "-f", self.name)
        podman("kube", "play", str(self.file))
        seen = wait_serving([self.env.floor_port], f"{version}.0", 60, lambda: None)
        times[REPLACE] = seen[self.env.floor_port] - t
        times["total"] = sum(times.values())
        shutil.rmtree(source)
        return times


def inline_tasks(source: Path) -> float:
    """Seconds to run the inline tasks (``taskSpec``) of the ``.tekton/`` PipelineRuns in ``source`` by hand:
    each step a ``podman run --rm --network=host`` with the workspace mounted (as gitferry runs a step), with
    Tekton's ``set -e`` preamble; the steps of a task in turn, the tasks all at once (here lint and test both
    follow clone)."""
    from ruamel.yaml import YAML

    yaml, workspace = YAML(typ="safe"), "/workspace/source"
    tasks: list[list[list[str]]] = []
    for path in sorted((source / ".tekton").glob("*.yaml")):
        for doc in yaml.load_all(path.read_text()):
            spec = ((doc or {}).get("spec") or {}).get("pipelineSpec") or {}
            for task in spec.get("tasks") or []:
                steps = (task.get("taskSpec") or {}).get("steps") or []
                tasks.append([step_argv(step, source, workspace) for step in steps])
    t = time.time()
    procs = [
        subprocess.Popen(["sh", "-c", " && ".join(map(shlex.join, steps))], stdout=DEVNULL, stderr=DEVNULL)
        for steps in tasks
        if steps
    ]
    failed = [p.args for p in procs if p.wait() != 0]
    if failed:
        raise SystemExit(f"floor: an inline task failed: {failed}")
    return time.time() - t


def step_argv(step: dict[str, Any], source: Path, workspace: str) -> list[str]:
    def fill(text: str) -> str:
        return text.replace("$(workspaces.source.path)", workspace)

    script = fill(step.get("script") or "")
    argv = ["podman", "run", "--rm", "--network=host", "-v", f"{source}:{workspace}"]
    if step.get("workingDir"):
        argv += ["-w", fill(step["workingDir"])]
    preamble = "" if script.startswith("#!") else "set -e\n"  # Tekton's, for a script without #!
    return [*argv, "--entrypoint", "/bin/sh", step["image"], "-c", preamble + script]


# ---------------------------------------------------------------------------------------------
# stages from the spans


Span = dict[str, Any]
STAGES = [
    "trigger: git push -> PipelineRun created",
    "pipeline before build: clone, lint, test",
    "build: buildah build",
    "push: buildah push",
    "scan: push done -> scan found the tag",
    "commit: policy -> automation commit pushed",
    "reconcile: fetch, render, apply -> pods stop",
    "pod ready: replace dev, then staging -> serving",
]


def argv_of(span: Span) -> list[str]:
    return [str(a) for a in span.get("argv") or []]


def git_verb(argv: Sequence[str]) -> str:
    skip = False
    for arg in argv[1:]:
        if skip:
            skip = False
        elif arg in ("--git-dir", "-C", "-c"):
            skip = True
        elif not arg.startswith("-"):
            return arg
    return ""


def is_exec(span: Span, *words: str) -> bool:
    """An exec/stream span whose argv starts with ``words`` (git: the verb after its options)."""
    argv = argv_of(span)
    if span["span"] not in ("exec", "stream") or not argv:
        return False
    if words[0] == "git":
        return argv[0] == "git" and git_verb(argv) == words[1]
    return argv[: len(words)] == list(words)


def first(spans: Sequence[Span], pred: Callable[[Span], bool], after: float | None) -> Span | None:
    if after is None:
        return None
    found = [s for s in spans if s["t0"] >= after - 1e-3 and pred(s)]
    return min(found, key=lambda s: s["t0"]) if found else None


def reconcile_of(key: str) -> Callable[[Span], bool]:
    return lambda s: s["span"] == "reconcile" and s["key"] == key


def t(span: Span | None, end: str) -> float | None:
    return None if span is None else float(span[end])


@dataclass
class Breakdown:
    stages: list[float | None]  # seconds, one per STAGES entry
    other: float
    detail: list[tuple[str, float | None]]  # seconds, contiguous within each stage
    milestones: dict[str, float | None]  # seconds after the moment before git push
    health_polls: int  # podman pod ps calls in apps-dev's health check


def breakdown(run: Run, env: Env) -> Breakdown:
    spans = sorted(run.spans, key=lambda s: s["t0"])
    created = first(spans, lambda s: s["span"] == "pipelinerun.start" and s.get("revision") == run.commit, run.t0)
    name = created.get("run") if created else None
    nudge = first(spans, lambda s: s["span"] == "nudge" and s.get("target") == REPOSITORY, run.t0)
    repo = first(spans, reconcile_of("Repository/app"), t(nudge, "t0"))
    tasks = {s["task"]: s for s in spans if s["span"] == "task" and s.get("run") == name}
    whole = next((s for s in spans if s["span"] == "pipelinerun" and s.get("run") == name), None)
    build = first(spans, lambda s: is_exec(s, "buildah", "build"), t(created, "t0"))
    push = first(spans, lambda s: is_exec(s, "buildah", "push"), t(build, "t1"))
    found = first(spans, lambda s: s["span"] == "list_tags" and run.tag in s.get("tags", []), t(build, "t0"))
    scan = None
    if found is not None:
        scan = next(
            (s for s in spans if reconcile_of("ImageRepository/app")(s) and s["t0"] <= found["t0"] <= s["t1"]), None
        )
    policy = first(spans, reconcile_of("ImagePolicy/app"), t(scan, "t0"))
    automation = first(spans, reconcile_of("ImageUpdateAutomation/app"), t(policy, "t0"))
    automation_push = first(
        spans, lambda s: is_exec(s, "git", "push") and s["key"] == "ImageUpdateAutomation/app", t(automation, "t0")
    )
    source = first(spans, reconcile_of("GitRepository/flux-system"), t(automation_push, "t0"))
    render = first(spans, lambda s: s["span"] == "render" and s["key"] == "Kustomization/apps-dev", t(source, "t0"))
    health = first(spans, lambda s: s["span"] == "health" and s["key"] == "Kustomization/apps-dev", t(render, "t0"))

    def podman_calls(key: str, *words: str) -> list[Span]:
        after = t(automation_push, "t1")
        return [s for s in spans if after is not None and s["t0"] >= after and s["key"] == key and is_exec(s, *words)]

    dev, staging = "Kustomization/apps-dev", "Kustomization/apps-staging"
    dev_stop = min((s["t0"] for s in podman_calls(dev, "podman", "pod", "stop")), default=None)
    dev_played = max((s["t1"] for s in podman_calls(dev, "podman", "kube", "play")), default=None)
    staging_stop = min((s["t0"] for s in podman_calls(staging, "podman", "pod", "stop")), default=None)
    staging_played = max((s["t1"] for s in podman_calls(staging, "podman", "kube", "play")), default=None)
    dev_served = max(run.served[p] for p in env.dev_ports)

    bounds = [
        t(created, "t1"),
        t(build, "t0"),
        t(build, "t1"),
        t(push, "t1"),
        t(scan, "t1"),
        t(automation_push, "t1"),
        dev_stop,
        run.end,
    ]
    stages: list[float | None] = []
    previous: float | None = run.t0
    for bound in bounds:
        stages.append(bound - previous if bound is not None and previous is not None else None)
        previous = bound
    other = run.total - sum(s for s in stages if s is not None)

    lint_test_end = max((tasks[n]["t1"] for n in ("lint", "test") if n in tasks), default=None)
    detail_bounds: list[tuple[str, float | None]] = [
        ("git push until the hook's POST is handled (nudge)", t(nudge, "t0")),
        ("nudge -> Repository reconcile starts", t(repo, "t0")),
        ("Repository reconcile: ls-remote, fetch, .tekton/ -> run created", t(created, "t1")),
        ("run created -> clone task starts", t(tasks.get("clone"), "t0")),
        ("clone task", t(tasks.get("clone"), "t1")),
        ("lint and test tasks (in parallel, a podman run each)", lint_test_end),
        ("-> build-image starts buildah build", t(build, "t0")),
        ("buildah build", t(build, "t1")),
        ("build returned -> buildah push starts", t(push, "t0")),
        ("buildah push", t(push, "t1")),
        ("push returned -> the woken scan starts", t(scan, "t0")),
        ("scan: list_tags, store the tags", t(scan, "t1")),
        ("scan -> policy reconciled", t(policy, "t1")),
        ("policy -> automation starts", t(automation, "t0")),
        ("automation: clone, Setters, commit", t(automation_push, "t0")),
        ("automation: git push", t(automation_push, "t1")),
        ("push -> GitRepository reconcile starts", t(source, "t0")),
        ("GitRepository reconcile: fetch, artifact", t(source, "t1")),
        ("-> apps-dev render starts", t(render, "t0")),
        ("apps-dev render: kustomize, substitute, validate", t(render, "t1")),
        ("render -> dev pods stop (podman reads, image exists)", dev_stop),
        ("dev: pod stop -t 1, pod rm, kube play (2 pods at once)", dev_played),
        ("dev kube play returned -> apps-dev health check passed", t(health, "t1")),
        ("-> staging pods stop (staging render, podman reads)", staging_stop),
        ("staging: pod stop -t 1, pod rm, kube play (2 pods at once)", staging_played),
        ("staging: kube play returned -> both staging replicas serve", run.end),
    ]
    detail: list[tuple[str, float | None]] = []
    previous = run.t0
    for label, bound in detail_bounds:
        detail.append((label, bound - previous if bound is not None and previous is not None else None))
        previous = bound

    def after(value: float | None) -> float | None:
        return None if value is None else value - run.t0

    milestones = {
        "git push returned (hook included)": after(run.pushed),
        "webhook handled (Repository nudged)": after(t(nudge, "t0")),
        "PipelineRun created": after(t(created, "t1")),
        "buildah build starts": after(t(build, "t0")),
        "buildah push returned": after(t(push, "t1")),
        "PipelineRun ended": after(t(whole, "t1")),
        "scan that found the tag ended": after(t(scan, "t1")),
        "automation commit pushed": after(t(automation_push, "t1")),
        "apps-dev health check passed": after(t(health, "t1")),
        "dev serves the new version (both replicas)": after(dev_served),
        "staging serves the new version (both replicas)": after(run.end),
    }
    polls = [s for s in spans if health and health["t0"] <= s["t0"] <= health["t1"] and s["key"] == dev]
    polls = [s for s in polls if is_exec(s, "podman", "pod", "ps")]
    return Breakdown(stages, other, detail, milestones, len(polls))


# ---------------------------------------------------------------------------------------------
# output


def stats(values: Sequence[float | None], scale: float = 1.0, digits: int = 2) -> list[str]:
    present = [v * scale for v in values if v is not None]
    if not present:
        return ["n/a", "n/a", "n/a"]
    return [f"{statistics.median(present):.{digits}f}", f"{min(present):.{digits}f}", f"{max(present):.{digits}f}"]


def median_of(values: Sequence[float | None]) -> float:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else float("nan")


def tool_versions() -> str:
    def first_line(*argv: str) -> str:
        done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
        return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else "?"

    return (
        f"{os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}, "
        f"{first_line('podman', '--version')}, {first_line('buildah', '--version').split(' (')[0]}, "
        f"{first_line('git', '--version')}; load average {os.getloadavg()[0]:.1f}"
    )


def report(env: Env, runs: list[Run], floors: list[dict[str, float]], parts: list[Breakdown]) -> None:
    totals = [r.total for r in runs]
    dev = [max(r.served[p] for p in env.dev_ports) - r.t0 for r in runs]
    print()
    print(
        "app git push -> new version serving in dev and staging (4 replicas), webhook trigger, scan woken by the push; "
        f"{len(runs)} runs (seconds; medians do not add up, each run's stages do)"
    )
    rows = [[name, *stats([p.stages[i] for p in parts])] for i, name in enumerate(STAGES)]
    rows.append(["other (stage boundary missing in the trace)", *stats([p.other for p in parts])])
    rows.append(["= git push -> dev and staging serve", *stats(totals)])
    rows.append(["  of which git push -> dev serves", *stats(dev)])
    table(["stage", "median", "min", "max"], rows)

    print(
        "floor, same run, by hand on a fresh clone of the commit: the pipeline's lint and test steps, the same "
        "buildah build + push, one pod replaced with bare podman"
    )
    names = [n for n in floors[0] if n != "total"]
    table(
        ["floor", "median", "min", "max"],
        [
            *[[n, *stats([f[n] for f in floors])] for n in names],
            ["= floor total", *stats([f["total"] for f in floors])],
        ],
    )

    median, dev_median = statistics.median(totals), statistics.median(dev)
    floor_dev = statistics.median(f["total"] for f in floors)
    floor_both = floor_dev + statistics.median(f[REPLACE] for f in floors)
    both = [p.stages[2] + p.stages[3] for p in parts if p.stages[2] is not None and p.stages[3] is not None]
    by_hand = statistics.median(f["buildah build"] + f["buildah push"] for f in floors)

    def row(label: str, value: float, sign: str = "", target: str = "", good: str = "") -> list[str]:
        return [label, f"{value:{sign}.2f}", target, good]

    table(
        ["figure (medians)", "seconds", "target", "ok"],
        [
            row("gitferry: git push -> dev and staging serve", median, "", f"< {TARGET:.0f}", ok(median < TARGET)),
            row("gitferry: git push -> dev serves", dev_median),
            row("lint + test inside gitferry (run created -> build starts)", median_of([p.stages[1] for p in parts])),
            row("lint + test by hand", statistics.median(f[INLINE] for f in floors)),
            row("build + push inside gitferry", statistics.median(both) if both else float("nan")),
            row("build + push by hand", by_hand),
            row("floor, dev: lint + test + build + push + 1 pod replaced", floor_dev),
            row("floor, dev then staging: + 1 more pod replaced (computed)", floor_both),
            row("overhead, dev: gitferry - floor", dev_median - floor_dev, "+"),
            row("overhead, both: gitferry - floor", median - floor_both, "+"),
        ],
    )

    print("where the time goes, ms (each step starts where the one above ended; medians over the runs)")
    labels = [label for label, _ in parts[0].detail]
    table(
        ["step", "median", "min", "max"],
        [[label, *stats([p.detail[i][1] for p in parts], 1000, 0)] for i, label in enumerate(labels)],
    )
    print("milestones, seconds after the moment before git push")
    table(
        ["milestone", "median", "min", "max"],
        [[name, *stats([p.milestones[name] for p in parts])] for name in parts[0].milestones],
    )
    print(
        "per run: "
        + ", ".join(
            f"v{r.version} {r.total:.2f}s ({r.run_name} {r.run_status}, {p.health_polls} health polls in apps-dev, "
            f"floor {f['total']:.2f}s)"
            for r, f, p in zip(runs, floors, parts, strict=True)
        )
    )
    print()


def checks(env: Env, parts: list[Breakdown], pushes: int, spans: list[Span], repo_reconciles_before: int) -> None:
    triggered = env.query(
        "SELECT COUNT(*) FROM events WHERE kind='Receiver' AND name=? AND reason='Triggered'", env.receiver
    )[0][0]
    by_bot = int(git(env.gitops.bare, "rev-list", "--count", "--author=image-automation@", "main").strip())
    statuses = env.query("SELECT status, COUNT(*) FROM pipeline_runs GROUP BY status")
    nudges = [s for s in spans if s["span"] == "nudge" and s.get("target") == REPOSITORY]
    repo_reconciles = [s for s in spans if reconcile_of("Repository/app")(s)]
    table(
        ["check", "found", "expected", "ok"],
        [
            ["webhook requests that triggered (Receiver events)", str(triggered), str(pushes), ok(triggered == pushes)],
            [
                "Repository reconciles after start-up (polling off)",
                str(len(repo_reconciles) - repo_reconciles_before),
                f"{len(nudges)} (nudges)",
                ok(len(repo_reconciles) - repo_reconciles_before == len(nudges)),
            ],
            [
                "PipelineRuns by status",
                ", ".join(f"{s} {n}" for s, n in statuses),
                f"Succeeded {pushes}",
                ok(statuses == [("Succeeded", pushes)]),
            ],
            ["automation commits on the GitOps main", str(by_bot), str(pushes), ok(by_bot == pushes)],
            [
                "runs with every stage found in the trace",
                str(sum(1 for p in parts if None not in p.stages)),
                str(len(parts)),
                ok(all(None not in p.stages for p in parts)),
            ],
        ],
    )


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="measured pushes, after one warm-up push (5)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (pods and images are removed anyway)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "scripts" / "containers.conf"))
    for tool in ("git", "podman", "buildah", "/usr/bin/docker-registry"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (scripts/test.sh installs it)")
    sys.path.insert(0, str(ROOT))  # tests/: the registry and repository helpers the tests use
    from tests.gitops import free_port_block
    from tests.registry import serve_registry

    ensure_base_image()
    root = Path(tempfile.mkdtemp(prefix="gitferry-bench-cicd-"))
    prefix = f"gfc{os.getpid() % 100000}"
    base = free_port_block(width=2, spread=100)
    while not port_free(base + 50):
        base = free_port_block(width=2, spread=100)
    env = Env(root, prefix, base)
    began = time.monotonic()
    log(f"gitferry CI/CD push-to-serving: {args.runs} runs + 1 warm-up; {tool_versions()}")
    log(
        f"pods {prefix}dev-web-0/1 on {base}/{base + 1}, {prefix}staging-web-0/1 on {base + 100}/{base + 101}, "
        f"floor {prefix}floor-web-0 on {base + 50}; temp dir {root}"
    )
    failed = True
    removed_pods: list[str] = []
    left_images: list[str] = []
    try:
        with serve_registry(root / "registry") as registry:
            env.registry = registry
            try:
                env.make_repositories()
                env.bootstrap()
                env.start()
                log(f"set up, 'gitferry up' serving version 1 in dev and staging after {time.monotonic() - began:.0f}s")
                floor = Floor.from_inventory(env)
                floor.start(f"{env.image}:main-0000000-0")
                spans_so_far, offset = read_trace(env.trace, 0)
                repo_reconciles_before = sum(1 for s in spans_so_far if reconcile_of("Repository/app")(s))

                runs: list[Run] = []
                floors: list[dict[str, float]] = []
                for i in range(args.runs + 1):
                    version = i + 2
                    run = measured_run(env, version)
                    run.spans, offset = read_trace(env.trace, offset)
                    run.floor = floor.run(version, run.commit)
                    label = "warm-up" if i == 0 else f"run {i}"
                    log(
                        f"{label}: v{version} {run.commit[:7]} -> dev+staging serve in {run.total:.2f}s "
                        f"({run.run_name} {run.run_status}; GitOps commit {run.gitops_commit[:7]}); "
                        f"floor {run.floor['total']:.2f}s"
                    )
                    if i > 0:
                        runs.append(run)
                        floors.append(run.floor)
                all_spans, _ = read_trace(env.trace, 0)
                parts = [breakdown(r, env) for r in runs]
                described = env.gitferry("pipelinerun", "describe", "--last", env={"COLUMNS": "200"})
                report(env, runs, floors, parts)
                checks(env, parts, args.runs + 1, all_spans, repo_reconciles_before)
                print("$ gitferry pipelinerun describe --last")
                print(described.rstrip())
            finally:
                code = env.daemon.stop()  # before the registry stops
                log(f"gitferry up exited with {code} after SIGTERM")
        failed = False
    finally:
        env.daemon.stop()
        removed_pods = remove_pods(prefix)
        if env.image:
            left_images = images_left(env.image)
        if failed or args.keep:
            log(f"kept {root} (gitferry up log: {env.up_log})")
        else:
            shutil.rmtree(root, ignore_errors=True)
        log(
            f"cleaned up: {len(removed_pods)} pods with prefix {prefix!r}; registry stopped with the images built "
            f"for it ({env.image or '(none)'} left: {len(left_images)})"
            f"{'' if failed or args.keep else '; temp dir removed'}; "
            f"took {time.monotonic() - began:.0f}s; load average now {os.getloadavg()[0]:.1f}"
        )
    return 0


if __name__ == "__main__":
    # python cicd_push_to_serving.py --as-traced-gitferry TRACE -- <gitferry args>: how the daemon runs
    if not run_traced(sys.argv[1:], trace_gitferry):
        sys.exit(main())
