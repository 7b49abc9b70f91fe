"""Pipeline runs end to end on real podman: the engine, its records and Tekton's rules.

Each test writes Tekton YAML, plans it as gitferry does for a ``.tekton/`` folder, runs it with the
real step runner (busybox image built from Debian's busybox-static), and reads the state store.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitferry.api import tekton
from gitferry.api.manifests import load_documents
from gitferry.controllers.pipelineruns import RunManager, Settings
from gitferry.pipelines.resolution import plan
from gitferry.store import runs as records
from gitferry.store.sqlite import Store

pytestmark = pytest.mark.podman


class Runner:
    def __init__(self, tmp: Path, image: str) -> None:
        self.image = image
        self.store = records.PipelineRuns(Store(tmp / "state.db"))
        self.settings = Settings(tmp / "data", tls_verify=False)

    def run(self, text: str, *, cancel_after: float | None = None) -> records.RunRecord:
        docs = [tekton.parse_tekton(d, "ci.yaml") for d in load_documents(textwrap.dedent(text), "ci.yaml")]
        pipelines = {d.metadata.name: d for d in docs if isinstance(d, tekton.Pipeline)}
        tasks = {d.metadata.name: d for d in docs if isinstance(d, tekton.Task)}
        run = next(d for d in docs if isinstance(d, tekton.PipelineRun))

        async def go() -> str:
            manager = RunManager(self.store, self.settings)

            async def no_clone(url: str, revision: str, dest: Path) -> None:
                raise AssertionError("no clone expected")

            name = manager.start(run, lambda r: plan(r, pipelines=pipelines, tasks=tasks), clone=no_clone)
            if cancel_after is not None:
                await asyncio.sleep(cancel_after)
                manager.cancel(name)
            await manager.wait(name)
            return name

        record = self.store.get(asyncio.run(go()))
        assert record is not None
        return record

    def tasks(self, run: records.RunRecord) -> dict[str, records.TaskRecord]:
        return {t.task: t for t in self.store.tasks(run.name)}

    def log(self, run: records.RunRecord) -> list[str]:
        return [f"[{line.task} : {line.step}] {line.line}" for line in self.store.logs(run.name)]


@pytest.fixture
def runner(tmp_path: Path, busybox_image: str) -> Iterator[Runner]:
    yield Runner(tmp_path, busybox_image)


def pipeline_run(pipeline_spec: str, params: str = "[]") -> str:
    """A PipelineRun with an embedded pipeline and one emptyDir workspace named ``shared``."""
    body = textwrap.indent(textwrap.dedent(pipeline_spec), "    ")
    return f"""\
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: ci-
spec:
  params: {params}
  workspaces:
    - name: shared
      emptyDir: {{}}
  pipelineSpec:
{body}"""


def test_results_workspaces_parallel_tasks_and_finally(runner: Runner) -> None:
    img = runner.image
    run = runner.run(
        f"""\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: greet
spec:
  params:
    - name: who
  workspaces:
    - name: out
  results:
    - name: greeting
  steps:
    - name: say
      image: {img}
      script: |
        echo "hello $(params.who)" > $(workspaces.out.path)/file
        printf "hi-$(params.who)" > $(results.greeting.path)
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: demo
spec:
  params:
    - name: who
      default: world
  workspaces:
    - name: shared
  tasks:
    - name: hello
      taskRef: {{name: greet}}
      params: [{{name: who, value: $(params.who)}}]
      workspaces: [{{name: out, workspace: shared}}]
    - name: consume
      params: [{{name: g, value: $(tasks.hello.results.greeting)}}]
      workspaces: [{{name: in, workspace: shared}}]
      taskSpec:
        params: [{{name: g}}]
        workspaces: [{{name: in}}]
        steps:
          - name: read
            image: {img}
            command: [sh, -c]
            args: ["cat $(workspaces.in.path)/file; echo got $(params.g)"]
    - name: independent
      taskSpec:
        steps:
          - name: one
            image: {img}
            script: echo one
          - name: two
            image: {img}
            script: echo two
  finally:
    - name: report
      params: [{{name: s, value: $(tasks.status)}}]
      taskSpec:
        params: [{{name: s}}]
        steps:
          - name: echo
            image: {img}
            script: echo "pipeline $(params.s)"
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: demo-
spec:
  pipelineRef: {{name: demo}}
  params: [{{name: who, value: gitferry}}]
  workspaces: [{{name: shared, emptyDir: {{}}}}]
"""
    )
    assert (run.status, run.pipeline) == (records.SUCCEEDED, "demo"), run.message
    assert run.name.startswith("demo-") and len(run.name) == len("demo-") + 5
    tasks = runner.tasks(run)
    assert {name: t.status for name, t in tasks.items()} == dict.fromkeys(
        ["hello", "consume", "independent", "report"], records.SUCCEEDED
    )
    assert tasks["hello"].results == {"greeting": "hi-gitferry"}
    assert tasks["report"].is_finally
    log = runner.log(run)
    assert "[consume : read] hello gitferry" in log and "[consume : read] got hi-gitferry" in log
    assert log.index("[independent : one] one") < log.index("[independent : two] two")
    assert "[report : echo] pipeline Succeeded" in log


def test_a_failing_step_names_task_and_step_skips_the_rest_and_finally_still_runs(runner: Runner) -> None:
    img = runner.image
    run = runner.run(
        pipeline_run(
            f"""\
            tasks:
              - name: test
                taskSpec:
                  steps:
                    - name: unit
                      image: {img}
                      script: |
                        echo running tests
                        exit 3
                    - name: after
                      image: {img}
                      script: echo never
              - name: build
                runAfter: [test]
                taskSpec:
                  steps:
                    - name: b
                      image: {img}
                      script: echo never
            finally:
              - name: notify
                params: [{{name: s, value: $(tasks.status)}}, {{name: t, value: $(tasks.test.status)}}]
                taskSpec:
                  params: [{{name: s}}, {{name: t}}]
                  steps:
                    - name: send
                      image: {img}
                      script: echo "pipeline $(params.s), test $(params.t)"
            """
        )
    )
    assert run.status == records.FAILED
    assert run.message == "task test: step unit exited with code 3"
    tasks = runner.tasks(run)
    assert tasks["test"].status == records.FAILED
    assert tasks["build"].status == records.SKIPPED and tasks["build"].message == "PipelineRun was stopping"
    steps = {(s.task, s.step): s for s in runner.store.steps(run.name)}
    assert steps[("test", "unit")].exit_code == 3 and steps[("test", "after")].status == records.SKIPPED
    assert "[notify : send] pipeline Failed, test Failed" in runner.log(run)
    assert "[test : unit] running tests" in runner.log(run)


def test_when_expressions_skip_a_task_and_its_dependants_still_run(runner: Runner) -> None:
    img = runner.image
    run = runner.run(
        pipeline_run(
            f"""\
            params: [{{name: deploy, default: "no"}}]
            tasks:
              - name: gated
                when: [{{input: $(params.deploy), operator: in, values: ["yes"]}}]
                taskSpec:
                  steps: [{{name: s, image: {img}, script: echo gated}}]
              - name: after
                runAfter: [gated]
                taskSpec:
                  steps: [{{name: s, image: {img}, script: echo after}}]
            """
        )
    )
    assert run.status == records.SUCCEEDED, run.message
    tasks = runner.tasks(run)
    assert (tasks["gated"].status, tasks["gated"].message) == (records.SKIPPED, "When Expressions evaluated to false")
    assert tasks["after"].status == records.SUCCEEDED


def test_retries_run_a_failed_task_again(runner: Runner) -> None:
    img = runner.image
    run = runner.run(
        pipeline_run(
            f"""\
            workspaces: [{{name: shared}}]
            tasks:
              - name: flaky
                retries: 2
                workspaces: [{{name: w, workspace: shared}}]
                taskSpec:
                  workspaces: [{{name: w}}]
                  steps:
                    - name: try
                      image: {img}
                      script: |
                        echo x >> $(workspaces.w.path)/tries
                        test $(wc -l < $(workspaces.w.path)/tries) -ge 2
            """
        )
    )
    assert run.status == records.SUCCEEDED, run.message
    assert runner.tasks(run)["flaky"].attempt == 1


@pytest.mark.parametrize(
    ("spec", "wanted"),
    [
        (
            "tasks:\n  - name: a\n    params: [{name: x, value: $(params.missing)}]\n"
            "    taskSpec:\n      params: [{name: x}]\n      steps: [{name: s, image: IMG, script: 'true'}]\n"
            "params: [{name: missing}]\n",
            "param 'missing' has no value and no default",
        ),
        (
            "tasks:\n  - name: a\n    runAfter: [b]\n    taskSpec:\n      steps: [{name: s, image: IMG}]\n"
            "  - name: b\n    runAfter: [a]\n    taskSpec:\n      steps: [{name: s, image: IMG}]\n",
            "cycle detected: a -> b -> a",
        ),
        (
            "tasks:\n  - name: a\n    taskRef: {name: nope}\n",
            "field spec.tasks[0].taskRef.name: Task 'nope' not found",
        ),
    ],
    ids=["missing-param", "cycle", "unknown-task"],
)
def test_an_invalid_run_is_recorded_failed_with_the_reason(runner: Runner, spec: str, wanted: str) -> None:
    run = runner.run(pipeline_run(spec.replace("IMG", runner.image)))
    assert (run.status, run.reason) == (records.FAILED, "Invalid")
    assert wanted in run.message


def test_a_missing_image_and_a_timeout_end_the_task_with_a_clear_reason(runner: Runner) -> None:
    img = runner.image
    run = runner.run(
        pipeline_run(
            f"""\
            tasks:
              - name: pull
                taskSpec:
                  steps: [{{name: fetch, image: localhost/gitferry-test/does-not-exist:1, script: 'true'}}]
              - name: slow
                timeout: 1s
                taskSpec:
                  steps: [{{name: wait, image: {img}, script: sleep 30}}]
            """
        )
    )
    assert run.status == records.FAILED
    tasks = runner.tasks(run)
    assert "step fetch" in tasks["pull"].message and "does-not-exist" in tasks["pull"].message
    assert tasks["slow"].message == "task slow timed out after 1s (in step wait)"


def test_cancel_stops_the_steps_and_runs_no_finally_task(runner: Runner) -> None:
    img = runner.image
    run = runner.run(
        pipeline_run(
            f"""\
            tasks:
              - name: long
                taskSpec:
                  steps: [{{name: wait, image: {img}, script: sleep 30}}]
            finally:
              - name: cleanup
                taskSpec:
                  steps: [{{name: s, image: {img}, script: echo cleanup}}]
            """
        ),
        cancel_after=1.0,
    )
    assert run.status == records.CANCELLED
    assert runner.tasks(run)["long"].status == records.CANCELLED
    assert "cleanup" not in runner.tasks(run)


def test_runs_cut_off_by_a_dead_process_are_marked_failed(runner: Runner) -> None:
    runner.store.create("ghost", "default", "demo", {})
    runner.store.update_run("ghost", records.RUNNING, started="2026-11-22T00:00:00Z")
    runner.store.update_task("ghost", "build", records.RUNNING)
    manager = RunManager(runner.store, runner.settings)
    assert asyncio.run(manager.recover()) == ["ghost"]
    ghost = runner.store.get("ghost")
    assert ghost is not None and (ghost.status, ghost.reason) == (records.FAILED, "Interrupted")
    assert runner.store.tasks("ghost")[0].status == records.FAILED


def one_step_run(image: str, script: str) -> tekton.PipelineRun:
    """A PipelineRun (generateName ``ci-``) of one task ``work`` whose step runs ``script``."""
    docs = load_documents(pipeline_run(f"""\
        tasks:
          - name: work
            taskSpec:
              steps:
                - name: step
                  image: {image}
                  script: {script}
        """), "ci.yaml")  # fmt: skip
    run = tekton.parse_tekton(docs[0], "ci.yaml")
    assert isinstance(run, tekton.PipelineRun)
    return run


async def no_clone(url: str, revision: str, dest: Path) -> None:
    raise AssertionError("no clone expected")


def test_concurrency_limit_queues_runs_of_one_repository_in_order(tmp_path: Path, busybox_image: str) -> None:
    """Pipelines-as-Code's concurrency_limit: the second run waits Pending until the first ends; a queued
    run that is cancelled ends at once without running anything."""
    store = records.PipelineRuns(Store(tmp_path / "state.db"))
    run = one_step_run(busybox_image, "sleep 1")

    async def go() -> list[str]:
        manager = RunManager(store, Settings(tmp_path / "data", tls_verify=False))
        names = [
            manager.start(
                run, lambda r: plan(r, pipelines={}, tasks={}), clone=no_clone, repository="ns/app", concurrency_limit=1
            )
            for _ in range(3)
        ]
        await asyncio.sleep(0.3)
        assert [store.get(n).status for n in names] == [records.RUNNING, records.PENDING, records.PENDING]  # type: ignore[union-attr]
        manager.cancel(names[2])
        await manager.wait(names[2])
        assert store.get(names[1]).status == records.PENDING  # type: ignore[union-attr]
        for name in names:
            await manager.wait(name)
        return names

    first, second, third = (store.get(n) for n in asyncio.run(go()))
    assert first is not None and first.pipeline == "ci", first  # an embedded spec: the run's name as written
    assert first is not None and second is not None and third is not None
    assert (first.status, second.status, third.status) == (records.SUCCEEDED, records.SUCCEEDED, records.CANCELLED)
    assert second.started >= first.finished, (first, second)
    assert [t.status for t in store.tasks(third.name)] in ([], [records.SKIPPED]), store.tasks(third.name)


def test_max_keep_runs_deletes_older_finished_runs_with_their_logs(tmp_path: Path, busybox_image: str) -> None:
    """Pipelines-as-Code's max-keep-runs: once a run succeeds, only the newest ``keep`` finished runs of
    its pipeline from that repository stay; another repository's runs are not touched."""
    store = records.PipelineRuns(Store(tmp_path / "state.db"))
    run = one_step_run(busybox_image, "echo built")

    async def go() -> list[str]:
        manager = RunManager(store, Settings(tmp_path / "data", tls_verify=False))
        names = []
        for repository in ("ns/app", "ns/app", "ns/other", "ns/app"):
            name = manager.start(
                run, lambda r: plan(r, pipelines={}, tasks={}), clone=no_clone, repository=repository, keep=2
            )
            assert await manager.wait(name) == records.SUCCEEDED
            names.append(name)
        return names

    oldest, second, other, newest = asyncio.run(go())
    assert store.get(oldest) is None and store.logs(oldest) == [] and store.tasks(oldest) == []
    assert [r.name for r in store.recent(repository="ns/app")] == [newest, second]
    assert [line.line for line in store.logs(newest)] == ["built"]
    assert store.get(other) is not None
