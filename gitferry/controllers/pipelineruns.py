"""Run a planned PipelineRun: the DAG in parallel (bounded), each task's steps in containers, then
the finally tasks; every state change, result and log line recorded as it happens.

Tekton's rules: a failed task stops new tasks from starting (running ones finish) and the
finally tasks still run; ``retries`` reruns a failed task; ``timeouts.pipeline`` bounds the whole
run and ``timeouts.tasks`` the DAG part; a cancelled run stops its steps and runs no finally task.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import shutil
import string
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitferry.api import tekton
from gitferry.api.keys import precise_timestamp as timestamp
from gitferry.errors import GitferryError, InvalidObjectError
from gitferry.pipelines import builtins, containers, graph, variables
from gitferry.pipelines.resolution import Plan, PlannedTask, task_params
from gitferry.store import runs as records

log = logging.getLogger("gitferry.pipelineruns")

Value = variables.Value
RESULTS_PATH = "/tekton/results"
IMAGE_URL_RESULT = "IMAGE_URL"
LOG_FLUSH_SECONDS = 0.25


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    tls_verify: bool = True
    concurrency: int = 4  # tasks running at once across all runs
    # Told the IMAGE_URL of every task that reports one (Tekton's convention for "this image was pushed").
    on_image_pushed: Callable[[str], None] | None = None


@dataclass
class _TaskOutcome:
    state: graph.TaskState
    reason: str = ""
    message: str = ""
    results: dict[str, Value] = field(default_factory=dict)


class LogWriter:
    """Log lines of one run, written to the store in batches (a ``logs -f`` sees them within 0.25 s)."""

    def __init__(self, store: records.PipelineRuns, run: str) -> None:
        self._store, self._run = store, run
        self._pending: list[tuple[str, str, str]] = []
        self._last = time.monotonic()

    def for_step(self, task: str, step: str) -> Callable[[str], None]:
        def line(text: str) -> None:
            self._pending.append((task, step, text))
            if time.monotonic() - self._last > LOG_FLUSH_SECONDS:
                self.flush()

        return line

    def flush(self) -> None:
        self._last = time.monotonic()
        batch, self._pending = self._pending, []
        by_step: dict[tuple[str, str], list[str]] = {}
        for task, step, text in batch:
            by_step.setdefault((task, step), []).append(text)
        for (task, step), lines in by_step.items():
            self._store.add_log(self._run, task, step, lines)


class Execution:
    """One run of a plan. ``cancel`` set from outside stops it as Cancelled."""

    def __init__(
        self,
        plan: Plan,
        store: records.PipelineRuns,
        settings: Settings,
        limit: asyncio.Semaphore,
        clone: builtins.Cloner,
        cancel: asyncio.Event | None = None,
        context: Mapping[str, str] | None = None,
    ) -> None:
        self.plan, self.store, self.settings, self.limit, self.clone = plan, store, settings, limit, clone
        self.cancel = cancel or asyncio.Event()
        self.name = plan.name
        self.folder = settings.data_dir / "runs" / self.name
        self.logs = LogWriter(store, self.name)
        self.states: dict[str, graph.TaskState] = {}
        self.skip_reasons: dict[str, graph.SkipReason] = {}
        self.results: dict[str, dict[str, Value]] = {}
        self.failures: list[str] = []
        self.workspaces: dict[str, Path] = {}
        self.values: dict[str, Value] = {variables.key("params", k): v for k, v in plan.params.items()}
        self.values.update(
            {
                "context.pipelineRun.name": self.name,
                "context.pipelineRun.namespace": plan.run.metadata.namespace,
                "context.pipelineRun.uid": self.name,
                "context.pipeline.name": plan.pipeline_name,
                **(context or {}),
            }
        )

    async def run(self) -> str:
        """Run to the end and return the final status (Succeeded, Failed or Cancelled)."""
        self.store.update_run(self.name, records.RUNNING, started=timestamp())
        timeouts = self.plan.run.timeouts
        flusher = asyncio.create_task(self._flush_logs())
        try:
            self._prepare_workspaces()
            status, reason, message = await self._run_all(timeouts)
        except GitferryError as e:
            status, reason, message = records.FAILED, "Failed", str(e)
        except Exception as e:  # a bug, not the pipeline's fault: the record must still end
            log.exception("pipelinerun %s crashed", self.name)
            status, reason, message = records.FAILED, "InternalError", f"internal error: {e}"
        finally:
            flusher.cancel()
            self.logs.flush()
            shutil.rmtree(self.folder, ignore_errors=True)
        self.store.update_run(self.name, status, reason=reason, message=message, finished=timestamp())
        log.info("pipelinerun %s: %s %s", self.name, status, message)
        return status

    async def _flush_logs(self) -> None:
        """A step that prints a line and then works quietly still shows it to ``logs -f`` at once."""
        while True:
            await asyncio.sleep(LOG_FLUSH_SECONDS)
            self.logs.flush()

    async def _run_all(self, timeouts: tekton.TimeoutFields) -> tuple[str, str, str]:
        deadline = time.monotonic() + timeouts.pipeline_seconds if timeouts.pipeline_seconds else None
        tasks_limit = timeouts.tasks_seconds
        dag_deadline = min(
            filter(None, [deadline, time.monotonic() + tasks_limit if tasks_limit else None]), default=None
        )
        timed_out = not await self._run_dag(dag_deadline)
        cancelled = self.cancel.is_set()
        if not cancelled:
            finally_deadline = time.monotonic() + timeouts.finally_seconds if timeouts.finally_seconds else deadline
            await self._run_finally(finally_deadline)
        self._set_pipeline_results()
        if cancelled:
            return records.CANCELLED, "Cancelled", "the PipelineRun was cancelled"
        if timed_out:
            return records.FAILED, "PipelineRunTimeout", f"PipelineRun {self.name} timed out; " + self._summary()
        if self.failures:
            return records.FAILED, "Failed", "; ".join(self.failures)
        return records.SUCCEEDED, "Succeeded", self._summary()

    def _summary(self) -> str:
        counts: dict[str, int] = {}
        for state in self.states.values():
            counts[state.value] = counts.get(state.value, 0) + 1
        return "Tasks " + ", ".join(f"{name}: {n}" for name, n in sorted(counts.items()))

    # workspaces

    def _prepare_workspaces(self) -> None:
        run = self.plan.run
        for declared in self.plan.spec.workspaces:
            binding = run.spec.workspace(declared.name)
            if binding is None:
                continue  # optional and not bound
            if binding.persistent_volume_claim is not None:
                claim = str(binding.persistent_volume_claim.get("claimName", declared.name))
                host = self.settings.data_dir / "volumes" / run.metadata.namespace / claim
            else:  # emptyDir and volumeClaimTemplate: a fresh folder for this run
                host = self.folder / "workspaces" / declared.name
            host = host / binding.sub_path if binding.sub_path else host
            host.mkdir(parents=True, exist_ok=True)
            self.workspaces[declared.name] = host

    # the DAG and the finally tasks

    async def _run_dag(self, deadline: float | None) -> bool:
        """Run the DAG to its end; False when the deadline passed (running tasks were stopped)."""
        nodes = self.plan.nodes
        running: dict[str, asyncio.Task[_TaskOutcome]] = {}
        while True:
            if self.cancel.is_set():
                for name in self.states:
                    if self.states[name] is graph.TaskState.PENDING:
                        self._skip(name, "Cancelled", "the PipelineRun was cancelled")
                decision = graph.Decision(done=not running)
            else:
                decision = graph.decide(nodes, self.states, skip_reasons=self.skip_reasons, when=self._when_allows)
            for name, reason in decision.skip.items():
                self.skip_reasons[name] = reason
                self._skip(name, "Skipped", str(reason))
            for name in decision.start:
                self.states[name] = graph.TaskState.RUNNING
                running[name] = asyncio.create_task(self._run_task(self.plan.tasks[name], deadline))
            if not running:
                return True
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            done, _ = await asyncio.wait(running.values(), timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            if not done:  # the deadline passed: the tasks see it too and stop; wait for them
                await asyncio.gather(*running.values(), return_exceptions=True)
                self._collect(running)
                for node in nodes:
                    if self.states.get(node.name, graph.TaskState.PENDING) is graph.TaskState.PENDING:
                        self._skip(node.name, "Skipped", "PipelineRun timeout")
                return False
            self._collect(running)

    def _collect(self, running: dict[str, asyncio.Task[_TaskOutcome]]) -> None:
        for name, task in list(running.items()):
            if task.done():
                outcome = task.result()
                self.states[name] = outcome.state
                self.results[name] = outcome.results
                if outcome.state is graph.TaskState.FAILED:
                    self.failures.append(f"task {name}: {outcome.message}")
                del running[name]

    async def _run_finally(self, deadline: float | None) -> None:
        dag_states = {n.name: self.states.get(n.name, graph.TaskState.PENDING) for n in self.plan.nodes}
        self.values["tasks.status"] = graph.aggregate_status(dag_states.values())
        for name, state in dag_states.items():
            self.values[f"tasks.{name}.status"] = graph.task_status(state)
        started: dict[str, asyncio.Task[_TaskOutcome]] = {}
        for planned in self.plan.finally_tasks:
            try:
                allowed = self._when_allows(planned.name)
            except InvalidObjectError as e:
                self._skip(planned.name, "Skipped", str(e), state=graph.TaskState.FAILED)
                continue
            if not allowed:
                self._skip(planned.name, "Skipped", str(graph.SkipReason.WHEN))
                continue
            started[planned.name] = asyncio.create_task(self._run_task(planned, deadline))
        await asyncio.gather(*started.values(), return_exceptions=True)
        self._collect(started)

    def _skip(self, name: str, reason: str, message: str, *, state: graph.TaskState = graph.TaskState.SKIPPED) -> None:
        self.states[name] = state
        planned = self.plan.tasks[name]
        status = records.SKIPPED if state is graph.TaskState.SKIPPED else records.FAILED
        self.store.update_task(self.name, name, status, is_finally=planned.is_finally, reason=reason, message=message)

    def _when_allows(self, name: str) -> bool:
        for when in self.plan.tasks[name].task.when:
            subject = variables.substitute(when.input, self.values_with_results())
            allowed = variables.substitute_list(when.values, self.values_with_results())
            if not graph.evaluate_when(subject, when.operator, allowed):
                return False
        return True

    def values_with_results(self) -> dict[str, Value]:
        out = dict(self.values)
        for task, results in self.results.items():
            for result, value in results.items():
                out[variables.key("tasks", task, "results", result)] = value
        return out

    def _set_pipeline_results(self) -> None:
        if not self.plan.spec.results:
            return
        values = self.values_with_results()
        out: dict[str, Any] = {}
        for result in self.plan.spec.results:
            try:
                out[result.name] = variables.substitute_value(result.value, values)
            except InvalidObjectError as e:
                self.failures.append(f"pipeline result {result.name}: {e}")
        self.store.set_results(self.name, out)

    # one task

    async def _run_task(self, planned: PlannedTask, deadline: float | None) -> _TaskOutcome:
        name = planned.name
        retries = planned.task.retries
        outcome = _TaskOutcome(graph.TaskState.FAILED)
        for attempt in range(retries + 1):
            async with self.limit:
                self.store.update_task(
                    self.name,
                    name,
                    records.RUNNING,
                    is_finally=planned.is_finally,
                    attempt=attempt,
                    started=timestamp(),
                )
                outcome = await self._attempt(planned, attempt, deadline)
            if outcome.state is graph.TaskState.SUCCEEDED or self.cancel.is_set():
                break
            if attempt < retries:
                self.logs.for_step(name, "retry")(f"attempt {attempt + 1} failed ({outcome.message}); retrying")
        status = {
            graph.TaskState.SUCCEEDED: records.SUCCEEDED,
            graph.TaskState.FAILED: records.CANCELLED if self.cancel.is_set() else records.FAILED,
        }.get(outcome.state, records.SKIPPED)
        self.store.update_task(
            self.name,
            name,
            status,
            is_finally=planned.is_finally,
            attempt=min(attempt, retries),
            reason=outcome.reason,
            message=outcome.message,
            results=outcome.results,
            finished=timestamp(),
        )
        return outcome

    async def _attempt(self, planned: PlannedTask, attempt: int, deadline: float | None) -> _TaskOutcome:
        name = planned.name
        where = f"PipelineRun {self.name}"
        try:
            given = {
                p.name: variables.substitute_value(p.value, self.values_with_results()) for p in planned.task.params
            }
            params = task_params(planned, given, where)
            if planned.task.task_spec is not None:
                # Tekton propagates params into embedded specs: the pipeline's and the pipeline
                # task's are visible without being declared again.
                params = {**self.plan.params, **given, **params}
        except InvalidObjectError as e:
            return _TaskOutcome(graph.TaskState.FAILED, "InvalidParamValue", str(e))
        results_dir = self.folder / "results" / name
        shutil.rmtree(results_dir, ignore_errors=True)
        results_dir.mkdir(parents=True)
        mounts = self._task_workspaces(planned)
        values = self._task_values(planned, params, mounts, attempt)
        timeout = _earliest(planned.task.timeout_seconds, deadline)
        started = time.monotonic()
        if planned.builtin is not None:
            step = planned.spec.steps[0].name
            self.store.update_step(self.name, name, step, 0, records.RUNNING, started=timestamp())
            outcome = await builtins.run(
                builtins.HostTask(
                    planned.builtin,
                    params,
                    {ws: host for ws, (host, _) in mounts.items()},
                    results_dir,
                    self.logs.for_step(name, step),
                    timeout,
                ),
                clone=self.clone,
            )
            self._record_step(name, step, 0, outcome)
            failed = None if outcome.succeeded else f"step {step}: {outcome.message}"
        else:
            failed = await self._run_steps(planned, values, mounts, results_dir, timeout, started)
        self.logs.flush()
        results = _read_results(planned.spec, results_dir)
        if failed:
            reason = "Cancelled" if self.cancel.is_set() else "Failed"
            return _TaskOutcome(graph.TaskState.FAILED, reason, failed, results)
        pushed = results.get(IMAGE_URL_RESULT)
        if isinstance(pushed, str) and self.settings.on_image_pushed is not None:
            self.settings.on_image_pushed(pushed)
        return _TaskOutcome(graph.TaskState.SUCCEEDED, "Succeeded", "", results)

    def _task_workspaces(self, planned: PlannedTask) -> dict[str, tuple[Path, tekton.WorkspaceDeclaration]]:
        """Task workspace name -> (host folder, declaration), from the pipeline task's bindings."""
        out = {}
        for binding in planned.task.workspaces:
            declared = planned.spec.workspace(binding.name)
            host = self.workspaces.get(binding.pipeline_workspace)
            if declared is None or host is None:
                continue
            folder = host / binding.sub_path if binding.sub_path else host
            folder.mkdir(parents=True, exist_ok=True)
            out[binding.name] = (folder, declared)
        return out

    def _task_values(
        self,
        planned: PlannedTask,
        params: Mapping[str, Value],
        mounts: Mapping[str, tuple[Path, tekton.WorkspaceDeclaration]],
        attempt: int,
    ) -> dict[str, Value]:
        values: dict[str, Value] = {variables.key("params", k): v for k, v in params.items()}
        for ws in planned.spec.workspaces:
            bound = ws.name in mounts
            values[variables.key("workspaces", ws.name, "path")] = ws.path if bound else ""
            values[variables.key("workspaces", ws.name, "bound")] = "true" if bound else "false"
        for result in planned.spec.results:
            values[variables.key("results", result.name, "path")] = f"{RESULTS_PATH}/{result.name}"
        task_run = f"{self.name}-{planned.name}"
        values.update(
            {
                "context.taskRun.name": task_run,
                "context.taskRun.namespace": self.plan.run.metadata.namespace,
                "context.taskRun.uid": task_run,
                "context.task.name": planned.name,
                "context.task.retry-count": str(attempt),
                **{k: v for k, v in self.values.items() if k.startswith("context.pipeline")},
            }
        )
        return values

    async def _run_steps(
        self,
        planned: PlannedTask,
        values: Mapping[str, Value],
        mounts: Mapping[str, tuple[Path, tekton.WorkspaceDeclaration]],
        results_dir: Path,
        timeout: float | None,
        started: float,
    ) -> str | None:
        """Each step in order; the first failure (without ``onError: continue``) ends the task."""
        name = planned.name
        spec = planned.spec
        binds = tuple(containers.Mount(host, d.path, d.read_only) for host, d in mounts.values())
        binds += (containers.Mount(results_dir, RESULTS_PATH),)
        failed: str | None = None
        for position, step in enumerate(spec.steps):
            step_name = step.name or f"unnamed-{position}"
            if failed is not None:
                self.store.update_step(
                    self.name, name, step_name, position, records.SKIPPED, reason="a step before failed"
                )
                continue
            try:
                container = _container_step(step, spec.step_template, values, binds)
            except InvalidObjectError as e:
                failed = f"step {step_name}: {e}"
                self.store.update_step(self.name, name, step_name, position, records.FAILED, reason="InvalidStep")
                continue
            left = None if timeout is None else max(0.1, timeout - (time.monotonic() - started))
            step_timeout = _earliest_of(step.timeout_seconds, left)
            self.store.update_step(self.name, name, step_name, position, records.RUNNING, started=timestamp())
            outcome = await containers.run_step(
                containers.StepSpec(**{**container, "name": step_name, "timeout": step_timeout}),
                container_name=f"gf-{self.name}-{name}-{step_name}"[:120],
                on_line=self.logs.for_step(name, step_name),
                scratch=self.folder / "scripts",
                labels={"gitferry.pipelinerun": self.name},
                cancel=self.cancel,
                tls_verify=self.settings.tls_verify,
            )
            self._record_step(name, step_name, position, outcome)
            if outcome.succeeded or (step.on_error == "continue" and outcome.reason == "Failed"):
                continue
            failed = outcome.message
            if outcome.reason == "TimedOut" and timeout is not None and step_timeout != step.timeout_seconds:
                failed = f"task {name} timed out after {timeout:g}s (in step {step_name})"
        return failed

    def _record_step(self, task: str, step: str, position: int, outcome: containers.StepOutcome) -> None:
        status = records.SUCCEEDED if outcome.succeeded else (
            records.CANCELLED if outcome.reason == "Cancelled" else records.FAILED
        )  # fmt: skip
        self.store.update_step(
            self.name, task, step, position, status, exit_code=outcome.exit_code, reason=outcome.reason,
            finished=timestamp(),
        )  # fmt: skip
        if outcome.message and not outcome.succeeded:
            self.logs.for_step(task, step)(outcome.message)


def _container_step(
    step: tekton.Step,
    template: tekton.StepTemplate | None,
    values: Mapping[str, Value],
    binds: tuple[containers.Mount, ...],
) -> dict[str, Any]:
    """A step merged with the stepTemplate (the step's fields win, env merged by name) and substituted."""
    base = template or tekton.StepTemplate()
    env = {e.name: e.value for e in base.env}
    env.update({e.name: e.value for e in step.env})
    return {
        "image": variables.substitute(step.image or base.image, values),
        "command": tuple(variables.substitute_list(step.command or base.command, values)),
        "args": tuple(variables.substitute_list(step.args or base.args, values)),
        "script": variables.substitute(step.script, values) if step.script else None,
        "env": {k: variables.substitute(v, values) for k, v in env.items()},
        "working_dir": variables.substitute(step.working_dir or base.working_dir, values) or None,
        "mounts": binds,
    }


def _read_results(spec: tekton.TaskSpec, folder: Path) -> dict[str, Value]:
    """The results the task wrote, as Tekton reads them: strings as written, arrays and objects as JSON."""
    out: dict[str, Value] = {}
    for result in spec.results:
        path = folder / result.name
        if not path.is_file():
            continue
        text = path.read_text()
        if result.type == "string":
            out[result.name] = text
            continue
        try:
            out[result.name] = json.loads(text)
        except json.JSONDecodeError:
            out[result.name] = text
    return out


def _earliest(timeout: float | None, deadline: float | None) -> float | None:
    left = None if deadline is None else max(0.1, deadline - time.monotonic())
    return _earliest_of(timeout, left)


def _earliest_of(a: float | None, b: float | None) -> float | None:
    return min((x for x in (a, b) if x), default=None)


def run_name(run: tekton.PipelineRun, taken: Callable[[str], bool]) -> str:
    """``metadata.name``, or ``generateName`` plus five random characters as the API server makes it."""
    if run.metadata.name and not taken(run.metadata.name):
        return run.metadata.name
    prefix = run.metadata.generate_name or f"{run.metadata.name}-"
    while True:
        name = prefix + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
        if not taken(name):
            return name


async def _queued(execution: Execution, queue: asyncio.Semaphore | None) -> str:
    """Run ``execution`` once ``queue`` has room; cancelled while waiting, it ends at once as Cancelled."""
    if queue is None:
        return await execution.run()
    room = asyncio.ensure_future(queue.acquire())
    cancelled = asyncio.ensure_future(execution.cancel.wait())
    await asyncio.wait({room, cancelled}, return_when=asyncio.FIRST_COMPLETED)
    cancelled.cancel()
    if not room.done():
        room.cancel()
        return await execution.run()  # sees the cancel before any task: nothing runs
    try:
        return await execution.run()
    finally:
        queue.release()


class RunManager:
    """The runs in progress in this process: started, awaited, cancelled, and stopped at shutdown."""

    def __init__(self, store: records.PipelineRuns, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self.active: dict[str, tuple[asyncio.Task[str], asyncio.Event]] = {}
        self._limit: asyncio.Semaphore | None = None
        # Pipelines-as-Code's concurrency_limit: runs of one Repository beyond it wait, Pending, in order.
        self._queues: dict[tuple[str, int], asyncio.Semaphore] = {}

    def start(
        self,
        run: tekton.PipelineRun,
        plan_of: Callable[[tekton.PipelineRun], Plan],
        *,
        clone: builtins.Cloner,
        repository: str = "",
        revision: str = "",
        trigger: str = "manual",
        concurrency_limit: int | None = None,
        keep: int | None = None,
    ) -> str:
        """Record the run and start it; a run whose plan is invalid is recorded as Failed with the reason.

        With ``concurrency_limit``, at most that many runs of ``repository`` execute at once; the
        others stay Pending until one ends, and start in the order they came. With ``keep``, a run
        that succeeds deletes the older finished runs of its pipeline from ``repository`` beyond it.
        """
        named = run.named(run_name(run, self.store.exists))
        name = named.metadata.name
        manifest = named.model_dump(by_alias=True, exclude_defaults=True)
        try:
            plan = plan_of(named)
            pipeline = plan.pipeline_name
        except GitferryError as e:
            pipeline = named.spec.pipeline_ref.name if named.spec.pipeline_ref else named.metadata.origin_name
            self.store.create(name, named.metadata.namespace, pipeline, manifest, repository=repository,
                              revision=revision, trigger=trigger)  # fmt: skip
            self.store.update_run(name, records.FAILED, reason="Invalid", message=str(e), finished=timestamp())
            log.warning("pipelinerun %s not started: %s", name, e)
            return name
        # As Tekton does, the run keeps the pipeline it ran: its task graph is shown from this.
        manifest["status"] = {"pipelineSpec": plan.spec.model_dump(by_alias=True, exclude_defaults=True)}
        self.store.create(name, named.metadata.namespace, pipeline, manifest, repository=repository,
                          revision=revision, trigger=trigger)  # fmt: skip
        if self._limit is None:
            self._limit = asyncio.Semaphore(self.settings.concurrency)
        cancel = asyncio.Event()
        execution = Execution(plan, self.store, self.settings, self._limit, clone, cancel)
        queue = None
        if concurrency_limit is not None:
            queue = self._queues.setdefault((repository, concurrency_limit), asyncio.Semaphore(concurrency_limit))
        task = asyncio.create_task(self._finish(_queued(execution, queue), repository, pipeline, keep))
        self.active[name] = (task, cancel)
        task.add_done_callback(lambda _: self.active.pop(name, None))
        return name

    async def _finish(self, running: Awaitable[str], repository: str, pipeline: str, keep: int | None) -> str:
        status = await running
        if keep is not None and status == records.SUCCEEDED:
            pruned = self.store.prune(repository, pipeline, keep)
            if pruned:
                log.info("pipeline %s of %s: kept %d runs, deleted %s", pipeline, repository, keep, ", ".join(pruned))
        return status

    async def wait(self, name: str) -> str | None:
        entry = self.active.get(name)
        if entry is None:
            record = self.store.get(name)
            return record.status if record else None
        return await entry[0]

    def cancel(self, name: str) -> bool:
        entry = self.active.get(name)
        if entry is None:
            return False
        entry[1].set()
        return True

    async def recover(self) -> list[str]:
        """At start-up: runs a dead process left in progress are Failed, their containers removed."""
        interrupted = self.store.mark_interrupted()
        for name in interrupted:
            try:
                await containers.remove_containers({"gitferry.pipelinerun": name})
            except GitferryError as e:
                log.warning("pipelinerun %s: %s", name, e)
        return interrupted

    async def stop(self) -> None:
        """Cancel every run in progress and wait for their steps to be stopped and recorded."""
        for _, cancel in self.active.values():
            cancel.set()
        await asyncio.gather(*(task for task, _ in self.active.values()), return_exceptions=True)
