"""A push to an application repository runs its ``.tekton/`` pipeline, for real.

Pipelines-as-Code's ``Repository`` in the GitOps repository names the app repository; gitferry
polls it, and a new commit on ``main`` starts the PipelineRun whose annotations ask for pushes to
``main``: the built-in git-clone checks the commit out, a test step runs in a container, and the
built-in build-image builds with buildah and pushes to a real registry on loopback, tagged with
the commit. A ``[skip ci]`` commit starts nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import tests.registry as local
from gitferry.api.meta import ObjectKey
from gitferry.reactor.loop import Reactor
from gitferry.store import runs as records
from tests.conftest import git
from tests.test_controllers import Cluster

pytestmark = pytest.mark.podman

REPOSITORY = ObjectKey("Repository", "flux-system", "app")

PIPELINE_RUN = """\
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: app-push-
  annotations:
    pipelinesascode.tekton.dev/on-event: "[push]"
    pipelinesascode.tekton.dev/on-target-branch: "[main]"
spec:
  params:
    - name: repo_url
      value: "{{ repo_url }}"
    - name: revision
      value: "{{ revision }}"
  workspaces:
    - name: source
      emptyDir: {}
  pipelineSpec:
    params: [{name: repo_url}, {name: revision}]
    workspaces: [{name: source}]
    tasks:
      - name: clone
        taskRef: {name: git-clone}
        params: [{name: url, value: $(params.repo_url)}, {name: revision, value: $(params.revision)}]
        workspaces: [{name: output, workspace: source}]
      - name: test
        runAfter: [clone]
        workspaces: [{name: src, workspace: source}]
        taskSpec:
          workspaces: [{name: src}]
          steps:
            - name: check
              image: BUSYBOX
              script: |
                echo "testing version $(cat $(workspaces.src.path)/version)"
                test -s $(workspaces.src.path)/version
      - name: build
        runAfter: [test]
        taskRef: {name: build-image}
        params:
          - {name: IMAGE, value: REGISTRY/app}
          - {name: REVISION, value: $(tasks.clone.results.commit)}
          - {name: TLS_VERIFY, value: "false"}
        workspaces: [{name: source, workspace: source}]
"""


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[local.LocalRegistry]:
    with local.serve_registry(tmp_path / "registry") as reg:
        yield reg


class App:
    """The application repository: a bare 'remote' and a work clone."""

    def __init__(self, root: Path, busybox: str, registry: local.LocalRegistry) -> None:
        self.bare, self.work = root / "app.git", root / "app"
        git(root, "init", "-q", "--bare", "--initial-branch=main", str(self.bare))
        git(root, "clone", "-q", str(self.bare), str(self.work))
        (self.work / ".tekton").mkdir()
        run = PIPELINE_RUN.replace("BUSYBOX", busybox).replace("REGISTRY", registry.host)
        (self.work / ".tekton" / "push.yaml").write_text(run)
        (self.work / "Containerfile").write_text(f"FROM {busybox}\nCOPY version /version\n")
        self.commit("1.0.0", "first version")

    def commit(self, version: str, message: str) -> str:
        (self.work / "version").write_text(version + "\n")
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", "HEAD:main")
        return git(self.work, "rev-parse", "HEAD").strip()


def watching(tmp_path: Path, app: App) -> Cluster:
    """A GitOps repository whose Repository ``app`` watches ``app``, after its first look (branches recorded)."""
    (tmp_path / "gitops").mkdir()
    cluster = Cluster(tmp_path / "gitops")
    cluster.write({"clusters/local/app-repository.yaml": f"""\
        apiVersion: pipelinesascode.tekton.dev/v1alpha1
        kind: Repository
        metadata: {{name: app, namespace: flux-system}}
        spec: {{url: "file://{app.bare}"}}
        """})  # fmt: skip
    cluster.commit("watch the app repository")
    cluster.run()
    return cluster


def poll(cluster: Cluster) -> list[records.RunRecord]:
    """Reconcile the Repository now, wait for the runs it starts, and return them."""

    async def go() -> list[str]:
        reactor = Reactor(cluster.world, idle_start=True)
        reactor.request(REPOSITORY)
        await reactor.run_until_idle()
        names = list(cluster.world.pipelines.active)
        await asyncio.gather(*(cluster.world.pipelines.wait(n) for n in names))
        return names

    runs = records.PipelineRuns(cluster.store)
    return [r for r in (runs.get(n) for n in asyncio.run(go())) if r is not None]


def test_a_push_runs_clone_test_and_build_and_the_image_lands_in_the_registry(
    tmp_path: Path, busybox_image: str, registry: local.LocalRegistry
) -> None:
    app = App(tmp_path, busybox_image, registry)
    cluster = watching(tmp_path, app)
    ready, message = cluster.ready(REPOSITORY)
    assert ready is True and "watching 1 branches" in message, message
    assert poll(cluster) == []  # nothing moved

    commit = app.commit("1.0.1", "Serve version 1.0.1")
    [run] = poll(cluster)
    assert run.status == records.SUCCEEDED, run.message
    assert (run.revision, run.trigger, run.repository) == (commit, "push", "flux-system/app")
    tasks = {t.task: t for t in records.PipelineRuns(cluster.store).tasks(run.name)}
    assert tasks["clone"].results["commit"] == commit
    assert tasks["build"].results["IMAGE_URL"] == f"{registry.host}/app:{commit}"
    assert tasks["build"].results["IMAGE_DIGEST"].startswith("sha256:")
    log = [f"[{line.task} : {line.step}] {line.line}" for line in records.PipelineRuns(cluster.store).logs(run.name)]
    assert "[test : check] testing version 1.0.1" in log
    tags = httpx.get(f"{registry.base_url}/v2/app/tags/list").json()["tags"]
    assert set(tags) == {commit, commit[:7]}
    assert "started " + run.name in cluster.ready(REPOSITORY)[1]

    app.commit("1.0.2", "Automated image update [skip ci]")
    assert poll(cluster) == []
    assert any("skip CI" in e.message for e in cluster.store.events(REPOSITORY))


def test_a_broken_tekton_file_starts_nothing_and_names_the_file_and_field(
    tmp_path: Path, busybox_image: str, registry: local.LocalRegistry
) -> None:
    app = App(tmp_path, busybox_image, registry)
    cluster = watching(tmp_path, app)
    text = (app.work / ".tekton" / "push.yaml").read_text().replace("runAfter: [clone]", "runAfter: [clon]")
    (app.work / ".tekton" / "push.yaml").write_text(text)
    commit = app.commit("1.0.1", "typo in the pipeline")
    assert poll(cluster) == []
    ready, message = cluster.ready(REPOSITORY)
    assert ready is False
    assert f".tekton/push.yaml at main@{commit[:12]}" in message and "runAfter" in message and "'clon'" in message
    assert poll(cluster) == []  # the broken commit is not tried again, and stays reported
    assert cluster.ready(REPOSITORY)[0] is False

    (app.work / ".tekton" / "push.yaml").write_text(text.replace("runAfter: [clon]", "runAfter: [clone]"))
    fixed = app.commit("1.0.2", "fix the pipeline")
    [run] = poll(cluster)
    assert (run.status, run.revision) == (records.SUCCEEDED, fixed), run.message
    assert cluster.ready(REPOSITORY) == (True, f"started {run.name}")


TASK_RUN = """\
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  generateName: lint-
  annotations:
    pipelinesascode.tekton.dev/on-event: "[push]"
    pipelinesascode.tekton.dev/on-target-branch: "[main]"
spec:
  params:
    - {name: who, value: "a TaskRun at {{ revision }}"}
  timeout: 1m
  taskSpec:
    params: [{name: who}]
    steps:
      - name: say
        image: BUSYBOX
        script: echo "hello from $(params.who)"
"""


def test_a_standalone_taskrun_in_tekton_runs_on_push_beside_the_pipelinerun(
    tmp_path: Path, busybox_image: str, registry: local.LocalRegistry
) -> None:
    app = App(tmp_path, busybox_image, registry)
    (app.work / ".tekton" / "lint.yaml").write_text(TASK_RUN.replace("BUSYBOX", busybox_image))
    app.commit("1.0.0", "lint as a TaskRun")
    cluster = watching(tmp_path, app)
    commit = app.commit("1.0.1", "Serve version 1.0.1")
    runs = {r.pipeline: r for r in poll(cluster)}
    assert set(runs) == {"app-push", "lint"}, runs
    lint = runs["lint"]
    assert (lint.status, lint.revision, lint.reason) == (records.SUCCEEDED, commit, "Succeeded"), lint.message
    log = [f"[{line.task} : {line.step}] {line.line}" for line in records.PipelineRuns(cluster.store).logs(lint.name)]
    assert log == [f"[task : say] hello from a TaskRun at {commit}"]


def test_a_cel_trigger_is_reported_not_ignored(
    tmp_path: Path, busybox_image: str, registry: local.LocalRegistry
) -> None:
    app = App(tmp_path, busybox_image, registry)
    cluster = watching(tmp_path, app)
    text = (app.work / ".tekton" / "push.yaml").read_text()
    cel = '    pipelinesascode.tekton.dev/on-cel-expression: event == "push"\n'
    (app.work / ".tekton" / "push.yaml").write_text(text.replace("  annotations:\n", "  annotations:\n" + cel))
    app.commit("1.0.1", "a CEL trigger")
    assert poll(cluster) == []
    ready, message = cluster.ready(REPOSITORY)
    assert ready is False and "on-cel-expression]: not supported yet" in message, message
