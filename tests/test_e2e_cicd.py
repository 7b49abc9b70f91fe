"""Issue 4's CI/CD flow end to end, as the seed walks it: a commit to the app is served in dev and staging.

Everything is real and on the loopback: Git repositories (``file://``), a ``docker-registry``,
``gitferry up`` as a subprocess, podman and buildah. The application repository is
``examples/app-source`` (a busybox HTTP app, its Containerfile and a ``.tekton/`` pipeline:
clone -> lint + test -> build-image); the GitOps repository is ``examples/gitops-config`` with
``examples/ci`` on top (the Pipelines-as-Code ``Repository``, and ``ImageRepository``,
``ImagePolicy``, ``ImageUpdateAutomation``). The same files drive ``scripts/demo.sh``.

A developer commits "version 2": the pipeline runs, the image is pushed, the automation commits
its tag to the GitOps repository once, and both environments serve version 2. Then a commit that
breaks the app's test: the run fails in that task's step, and nothing is built or deployed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import tests.registry as local
from gitferry.store import runs as records
from gitferry.store.sqlite import Store
from tests.conftest import git, remove_pods_with_prefix
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
    free_port_block,
    http_get,
    wait_for,
)

pytestmark = [pytest.mark.podman, pytest.mark.e2e]

REPOSITORY = "flux-system/app"
AUTHOR = "gitferry image automation <image-automation@gitferry.local>"


@dataclass
class Env:
    app: AppSource
    gitops: GitOpsRepo
    registry: local.LocalRegistry
    data_dir: Path
    ports: tuple[int, ...]  # dev replicas 0 and 1, then staging's
    image: str  # the registry repository the pipeline pushes to
    store: Store  # the daemon's state store, read as 'gitferry pipelinerun' reads it

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "gitferry", "--data-dir", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "400"},
        )
        assert done.returncode == 0, f"gitferry {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def serving(self, text: str, ports: tuple[int, ...] = ()) -> bool:
        """Every replica of dev and staging (or on ``ports``) answers with ``text`` in its page."""
        return all(text in (http_get(port, timeout=1) or "") for port in ports or self.ports)

    def runs(self) -> records.PipelineRuns:
        return records.PipelineRuns(self.store)

    def gitops_commits(self) -> list[str]:
        return git(self.gitops.bare, "rev-list", "main").split()


# Polling off: only the webhook can start the pipeline, so the test shows that it does.
WEBHOOK_ONLY = {"gitferry.io/poll-interval: 1m": 'gitferry.io/poll-interval: "0"'}
TOKEN = "cicd-test-token"


def connect_ci_trigger(env: Env) -> None:
    """A push to the app reaches gitferry as the demo sets it up: the Receiver in
    examples/ci/clusters/local/receiver.yaml, called by a post-receive hook in the app's bare
    repository (installed once the running daemon has published the Receiver's URL)."""
    wait_for(lambda: "POST http://127.0.0.1:" in env.cli("get", "receivers"), 60, what="the Receiver's URL")
    env.cli("receiver", "hook", str(env.app.bare), "--receiver", "git-push")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, busybox_image: str) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("cicd")
    prefix = f"c{os.getpid() % 100000}-"
    with local.serve_registry(root / "registry") as registry:
        image = registry.image(APP_IMAGE)
        replace = {DEMO_REGISTRY: registry.host, DEMO_BASE_IMAGE: busybox_image}
        app = AppSource(root, replace)
        # The first image, as the demo makes it: built from the app as committed, tagged to sort first.
        build_image(app.work, f"{image}:{FIRST_APP_TAG}")
        local.push_with_buildah(registry, f"{image}:{FIRST_APP_TAG}", APP_IMAGE, FIRST_APP_TAG)
        base = free_port_block()
        gitops = GitOpsRepo(
            root, dev_port=base, staging_port=base + 100, image=f"{image}:{FIRST_APP_TAG}", prefix=prefix
        )
        add_ci(gitops, {**replace, APP_SOURCE_URL: app.url, **WEBHOOK_ONLY})
        # Scans far apart: the pipeline's push must wake the ImageRepository for the test to pass in time.
        gitops.edit("clusters/local/images.yaml", "interval: 1m\n  insecure", "interval: 10m\n  insecure")
        gitops.commit("CI: build the app on each push, deploy its newest image")
        data_dir = root / "data"
        gitferry = [sys.executable, "-m", "gitferry", "--data-dir", str(data_dir), "--no-tls-verify"]
        boot = [*gitferry, "bootstrap", "--url", gitops.url, "--interval", "1m"]
        subprocess.run(boot, check=True, capture_output=True, timeout=120)
        secret = [*gitferry, "create", "secret", "receiver", "webhook-token", "--token-env", "WEBHOOK_TOKEN"]
        subprocess.run(secret, check=True, capture_output=True, env={**os.environ, "WEBHOOK_TOKEN": TOKEN})
        gitops.pull()
        log = open(root / "up.log", "w")  # noqa: SIM115 - closed after the daemon stops
        # --http-port 0: the webhook server on any free port, so tests running at once never collide.
        daemon = subprocess.Popen(
            [*gitferry, "-v", "up", "--no-live", "--http-port", "0"], stdout=log, stderr=subprocess.STDOUT
        )
        ports = (base, base + 1, base + 100, base + 101)
        store = Store(data_dir / "state.db")
        try:
            env = Env(app, gitops, registry, data_dir, ports, image, store)
            connect_ci_trigger(env)
            yield env
        finally:
            store.close()
            daemon.terminate()
            daemon.wait(30)
            log.close()
            remove_pods_with_prefix(prefix)  # the images it built go with the registry (serve_registry)
            print((root / "up.log").read_text()[-3000:])


def test_an_app_commit_is_built_pushed_committed_and_served_in_dev_and_staging(env: Env) -> None:
    wait_for(lambda: env.serving("app version 1 from"), 120, what="dev and staging serving app version 1")
    assert "hello from dev, app version 1 from" in (http_get(env.ports[0]) or "")
    assert "hello from staging, app version 1 from" in (http_get(env.ports[3]) or "")
    # The Repository's first look records the branch heads; a push after it starts the pipeline.
    wait_for(lambda: "watching 1 branches" in env.cli("get", "repositories"), 30, what="the Repository watching")
    commits_before = env.gitops_commits()

    (env.app.work / "app/VERSION").write_text("2\n")
    pushed = time.monotonic()
    commit = env.app.commit("Version 2")
    times: dict[str, float] = {}

    def until(name: str, predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
        wait_for(predicate, timeout, interval=0.1, what=name)
        times[name] = time.monotonic() - pushed

    until("pipeline started", lambda: env.runs().recent(repository=REPOSITORY, limit=1), 30)
    until("pipeline ended", lambda: env.runs().recent(repository=REPOSITORY)[0].status in records.FINISHED, 120)
    until("automation commit", lambda: len(env.gitops_commits()) > len(commits_before), 30)
    until("dev serving version 2", lambda: env.serving("app version 2 from", env.ports[:2]), 90)
    until("staging serving version 2", lambda: env.serving("app version 2 from"), 90)
    print("app push -> " + ", ".join(f"{name}: {seconds:.1f}s" for name, seconds in times.items()))
    # Polling is off: the hook's webhook is what started the run.
    events = " ".join(env.cli("events", "--for", "Receiver/git-push").split())
    assert "reconcile requested for GitRepository/flux-system/flux-system, Repository/flux-system/app" in events

    # The run: for this commit, all four tasks succeeded, lint and test before the build.
    [run] = env.runs().recent(repository=REPOSITORY)
    assert (run.status, run.revision, run.trigger) == (records.SUCCEEDED, commit, "push"), run.message
    tasks = {t.task: t for t in env.runs().tasks(run.name)}
    assert {name: t.status for name, t in tasks.items()} == dict.fromkeys(
        ["clone", "lint", "test", "build-image"], records.SUCCEEDED
    )
    assert max(tasks["lint"].finished, tasks["test"].finished) <= tasks["build-image"].started
    log = [f"[{line.task} : {line.step}] {line.line}" for line in env.runs().logs(run.name)]
    assert "[lint : shell-syntax] syntax ok: app/serve.sh" in log
    assert "[test : page] ok: hello from the test, app version 2 from test-host" in log
    assert any(line.startswith("[build-image : build-and-push] $ buildah push") for line in log)
    described = env.cli("pipelinerun", "describe", "--last")
    assert run.name in described and "Succeeded" in described

    # The image: tagged main-<short commit>-<commit time>, in the registry, chosen by the policy.
    tag = f"main-{commit[:7]}-{git(env.app.work, 'log', '-1', '--format=%ct').strip()}"
    assert tasks["build-image"].results["IMAGE_URL"] == f"{env.image}:{tag}"
    assert local.list_tags(env.registry, APP_IMAGE) == sorted([FIRST_APP_TAG, tag])
    assert f"{env.image}:{tag}" in env.cli("get", "images", "policy")

    # The GitOps history: exactly one new commit, by the automation, "[ci skip]", changing the tag.
    time.sleep(2)  # later scans find the repository up to date: still one commit
    after = env.gitops_commits()
    new = after[: len(after) - len(commits_before)]
    assert len(new) == 1 and after[1:] == commits_before, new
    assert git(env.gitops.bare, "log", "-1", "--format=%an <%ae>", new[0]).strip() == AUTHOR
    message = git(env.gitops.bare, "log", "-1", "--format=%B", new[0])
    assert message.startswith("[ci skip] flux-system/app: deploy the new app image"), message
    assert f"{env.image}:{FIRST_APP_TAG} -> {env.image}:{tag}" in message
    changed = git(env.gitops.bare, "show", "--format=", "--name-only", new[0]).split()
    assert changed == ["apps/base/deployment.yaml"]


def test_a_commit_that_breaks_the_test_fails_its_run_and_deploys_nothing(env: Env) -> None:
    wait_for(lambda: env.serving(", app version "), 120, what="dev and staging serving the app")
    served = re.search(r"app version \S+ from", http_get(env.ports[0]) or "")
    assert served, "no version in the page"
    commits_before, tags_before = env.gitops_commits(), local.list_tags(env.registry, APP_IMAGE)
    runs_before = len(env.runs().recent(repository=REPOSITORY))
    (env.app.work / "app/VERSION").write_text("three\n")
    commit = env.app.commit("Version three")

    def ended() -> records.RunRecord | None:
        latest = env.runs().recent(repository=REPOSITORY)
        if len(latest) > runs_before and latest[0].status in records.FINISHED:
            return latest[0]
        return None

    run = wait_for(ended, 90, interval=0.1, what="the run of the broken commit")
    assert (run.status, run.revision) == (records.FAILED, commit)
    assert "task test" in run.message and "step page exited with code 1" in run.message, run.message
    tasks = {t.task: t.status for t in env.runs().tasks(run.name)}
    assert tasks == {
        "clone": records.SUCCEEDED,
        "lint": records.SUCCEEDED,
        "test": records.FAILED,
        "build-image": records.SKIPPED,
    }
    log = env.cli("pipelinerun", "logs", run.name)
    assert "[test : page] FAIL: app/VERSION must be a version number such as 2 or 1.4, not 'three'" in log
    # Nothing built, nothing committed, the version before still served.
    time.sleep(2)
    assert local.list_tags(env.registry, APP_IMAGE) == tags_before
    assert env.gitops_commits() == commits_before
    assert env.serving(served[0]), served[0]
