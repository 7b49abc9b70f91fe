"""From a PipelineRun and the objects beside it in ``.tekton/`` to a checked plan. Pure.

Everything Tekton refuses before the first container starts is refused here, with the field
named: a missing Pipeline or Task, an unsupported field, a param without a value or of the wrong
type, an unbound workspace, a ``runAfter`` cycle. The engine then only executes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from gitferry.api import tekton, tekton_params
from gitferry.errors import InvalidObjectError, UnsupportedError
from gitferry.pipelines import builtins, graph, variables

ParamValue = tekton.ParamValue


@dataclass(frozen=True)
class PlannedTask:
    task: tekton.PipelineTask
    spec: tekton.TaskSpec
    builtin: str | None  # run on the host by gitferry (git-clone, build-image), else None
    is_finally: bool

    @property
    def name(self) -> str:
        return self.task.name


@dataclass(frozen=True)
class Plan:
    run: tekton.PipelineRun
    pipeline_name: str
    spec: tekton.PipelineSpec
    params: dict[str, ParamValue]  # the pipeline's params: the run's values over the defaults
    tasks: dict[str, PlannedTask]  # every task, the DAG's first, then the finally tasks
    nodes: tuple[graph.TaskNode, ...]  # the DAG (finally tasks run after it, all at once)

    @property
    def name(self) -> str:
        return self.run.metadata.name

    @property
    def finally_tasks(self) -> list[PlannedTask]:
        return [t for t in self.tasks.values() if t.is_finally]


BUILTIN_SPECS = {name: tekton.TaskSpec.model_validate(spec) for name, spec in builtins.SPECS.items()}


def plan(
    run: tekton.PipelineRun,
    *,
    pipelines: Mapping[str, tekton.Pipeline],
    tasks: Mapping[str, tekton.Task],
) -> Plan:
    """Check ``run`` against the Pipelines and Tasks it may name; InvalidObjectError says what is wrong."""
    where = f"PipelineRun {run.metadata.display_name}"
    pipeline_name, spec = _pipeline(run, pipelines, where)
    unsupported = run.unsupported_fields() + spec.unsupported_fields(
        "spec.pipelineSpec" if run.spec.pipeline_spec else f"Pipeline {pipeline_name} spec"
    )
    planned: dict[str, PlannedTask] = {}
    for is_finally, group in ((False, spec.tasks), (True, spec.finally_)):
        for index, task in enumerate(group):
            field = f"spec.{'finally' if is_finally else 'tasks'}[{index}]"
            task_spec, builtin = _task_spec(task, tasks, f"{where}: field {field}")
            if builtin is None:
                unsupported += task_spec.unsupported_fields(f"{field}.taskSpec")
            planned[task.name] = PlannedTask(task, task_spec, builtin, is_finally)
    if unsupported:
        raise UnsupportedError(f"{where}: not supported yet: {', '.join(dict.fromkeys(unsupported))}")
    params = _params(spec.params, run.spec.param_values, f"{where}: pipeline {pipeline_name}")
    _check_workspaces(spec, run, where)
    nodes = tuple(_node(t.task) for t in planned.values() if not t.is_finally)
    try:
        graph.check(nodes)
    except InvalidObjectError as e:
        raise InvalidObjectError(f"{where}: pipeline {pipeline_name}: {e}") from e
    known = set(planned)
    for t in planned.values():
        for producer in _node(t.task).uses_results_of:
            if producer not in known or planned[producer].is_finally:
                raise InvalidObjectError(
                    f"{where}: task {t.name} reads results of {producer!r}, which is not a task of the pipeline"
                )
    return Plan(run, pipeline_name, spec, params, planned, nodes)


def _pipeline(
    run: tekton.PipelineRun, pipelines: Mapping[str, tekton.Pipeline], where: str
) -> tuple[str, tekton.PipelineSpec]:
    if run.spec.pipeline_spec is not None:  # recorded under the run's name as written, e.g. "app-push"
        return run.metadata.origin_name, run.spec.pipeline_spec
    ref = run.spec.pipeline_ref
    assert ref is not None  # the model requires pipelineRef or pipelineSpec
    found = pipelines.get(ref.name)
    if found is None:
        known = ", ".join(sorted(pipelines)) or "none"
        raise InvalidObjectError(
            f"{where}: field spec.pipelineRef.name: Pipeline {ref.name!r} not found beside it (Pipelines: {known})"
        )
    return ref.name, found.spec


def _task_spec(
    task: tekton.PipelineTask, tasks: Mapping[str, tekton.Task], where: str
) -> tuple[tekton.TaskSpec, str | None]:
    if task.task_spec is not None:
        return task.task_spec, None
    name = task.referenced_task
    if name is not None and name in tasks:
        return tasks[name].spec, None
    if name is not None and name in BUILTIN_SPECS:
        return BUILTIN_SPECS[name], name
    known = ", ".join([*sorted(tasks), *sorted(BUILTIN_SPECS)])
    raise InvalidObjectError(f"{where}.taskRef.name: Task {name!r} not found (Tasks here and built in: {known})")


def _params(declared: Sequence[tekton.ParamSpec], given: Mapping[str, ParamValue], where: str) -> dict[str, ParamValue]:
    """The declared params' values: given ones over defaults; every declared param needs one."""
    out: dict[str, ParamValue] = {}
    for spec in declared:
        if spec.name in given:
            value = given[spec.name]
        elif spec.default is not None:
            value = spec.default
        else:
            raise InvalidObjectError(f"{where}: param {spec.name!r} has no value and no default")
        if spec.type != tekton_params.value_type(value) and not _is_whole_reference(value):
            raise InvalidObjectError(
                f"{where}: param {spec.name!r} is declared {spec.type} but was given {tekton_params.value_type(value)}"
            )
        out[spec.name] = value
    return out


def task_params(planned: PlannedTask, given: Mapping[str, ParamValue], where: str) -> dict[str, ParamValue]:
    """A task's param values once the pipeline task's params were substituted."""
    return _params(planned.spec.params, given, f"{where}: task {planned.name}")


def _is_whole_reference(value: ParamValue) -> bool:
    # A string that is one whole $(...) reference becomes an array or object once substituted.
    return isinstance(value, str) and value.startswith("$(") and value.endswith(")") and value.count("$(") == 1


def _check_workspaces(spec: tekton.PipelineSpec, run: tekton.PipelineRun, where: str) -> None:
    for declared in spec.workspaces:
        if run.spec.workspace(declared.name) is None and not declared.optional:
            raise InvalidObjectError(
                f"{where}: field spec.workspaces: pipeline workspace {declared.name!r} is not bound"
            )


def task_nodes(raw: Mapping[str, Any]) -> tuple[graph.TaskNode, ...]:
    """The task graph of a pipeline spec recorded with a run (its ``status.pipelineSpec``), to show it."""
    try:
        spec = tekton.PipelineSpec.model_validate(raw)
    except ValidationError as e:
        raise InvalidObjectError(f"recorded pipeline spec: {e.errors()[0]['msg']}") from e
    return tuple(_node(task) for task in spec.tasks)


def _node(task: tekton.PipelineTask) -> graph.TaskNode:
    refs = variables.tree_references([p.model_dump(by_alias=True) for p in task.params])
    refs += variables.tree_references([w.model_dump(by_alias=True) for w in task.when])
    return graph.TaskNode(
        name=task.name,
        run_after=tuple(task.run_after),
        uses_results_of=graph.result_producers(refs),
        continue_on_error=task.on_error == "continue",
    )
