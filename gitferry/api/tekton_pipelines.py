"""Pipeline (``tekton.dev/v1``): Tasks wired into a graph by ``runAfter`` and result references,
guarded by ``when``, followed by ``finally`` tasks that run whatever happened.

The checks are those of Tekton's admission webhook: pipeline task names that are unique
DNS-1123 labels (across ``tasks`` and ``finally``); exactly one of ``taskRef`` and ``taskSpec``; a
taskRef with a name or a resolver, not both; ``runAfter`` naming other tasks of ``spec.tasks`` and
absent from finally tasks; ``when`` with operator ``in`` or ``notin`` and values; ``onError:
continue`` without retries; valid timeouts; unique params, workspaces and workspace bindings;
``finally`` only with ``tasks``; and, for a Pipeline object (not one embedded in a PipelineRun,
whose workspaces may propagate), workspace bindings naming workspaces the pipeline declares.
Cycles and ``$(...)`` references are checked where the graph and substitution are built.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from gitferry.api.meta import Model, ObjectKey
from gitferry.api.tekton_meta import (
    Problem,
    TektonObjectMeta,
    checked_duration,
    dns_label_problem,
    optional_seconds,
    raise_problems,
    repeated,
    required_name,
    validate_object,
)
from gitferry.api.tekton_params import Param, ParamSpec, ParamValue, PipelineResult, param_list_problems
from gitferry.api.tekton_refs import TaskRef
from gitferry.api.tekton_tasks import TaskSpec, checked_on_error

KIND = "Pipeline"


class WhenExpression(Model):
    """Run the task only if ``input`` is (``in``) or is not (``notin``) one of ``values``."""

    input: str = ""
    operator: str = ""
    values: list[str] = Field(default_factory=list)
    cel: str = ""  # a CEL expression instead: parsed, not implemented

    @model_validator(mode="after")
    def _check(self) -> WhenExpression:
        problems: list[Problem] = []
        if self.cel:
            if self.input or self.operator or self.values:
                problems.append((("cel",), "cel cannot be combined with input, operator and values"))
        elif self.operator not in ("in", "notin"):
            problems.append((("operator",), f"operator {self.operator!r} must be in or notin"))
        elif not self.values:
            problems.append((("values",), "values must not be empty"))
        raise_problems("WhenExpression", problems, self.input)
        return self


class PipelineTaskMetadata(Model):
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class EmbeddedTask(TaskSpec):
    """A taskSpec written inside a pipeline task; with apiVersion and kind, a custom task's spec."""

    api_version: str = ""
    kind: str = ""
    spec: dict[str, Any] | None = None
    metadata: PipelineTaskMetadata | None = None

    @property
    def is_custom_task(self) -> bool:
        return bool(self.api_version or self.kind) and not self.steps

    def problems(self) -> list[Problem]:
        type_fields = {"apiVersion": self.api_version, "kind": self.kind}
        if self.steps:
            mixed = [((f,), f"{f} cannot be set together with steps") for f, value in type_fields.items() if value]
            return mixed + super().problems()
        if self.is_custom_task:
            return [((f,), f"a custom task's spec needs {f}") for f, value in type_fields.items() if not value]
        return super().problems()

    def unsupported_fields(self, prefix: str = "spec") -> list[str]:
        if self.is_custom_task:
            return [f"{prefix}.kind={self.kind}"]
        return super().unsupported_fields(prefix)


class WorkspacePipelineTaskBinding(Model):
    """Gives the pipeline workspace ``workspace`` (default: the same name) to the task's ``name``."""

    name: str = Field(min_length=1)
    workspace: str = ""
    sub_path: str = ""

    @property
    def pipeline_workspace(self) -> str:
        return self.workspace or self.name


class PipelineTask(Model):
    name: str = ""
    display_name: str = ""
    description: str = ""
    task_ref: TaskRef | None = None
    task_spec: EmbeddedTask | None = None
    when: list[WhenExpression] = Field(default_factory=list)
    retries: int = Field(default=0, ge=0)
    run_after: list[str] = Field(default_factory=list)
    params: list[Param] = Field(default_factory=list)
    workspaces: list[WorkspacePipelineTaskBinding] = Field(default_factory=list)
    timeout: str | None = None
    on_error: str = ""  # continue | stopAndFail | a $(params.x) reference
    # Parsed, not implemented: fan-out over param combinations, pipelines in pipelines.
    matrix: dict[str, Any] | None = None
    pipeline_ref: dict[str, Any] | None = None
    pipeline_spec: dict[str, Any] | None = None

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str | None) -> str | None:
        return checked_duration(value)

    @field_validator("on_error")
    @classmethod
    def _on_error(cls, value: str) -> str:
        return checked_on_error(value)

    @model_validator(mode="after")
    def _check(self) -> PipelineTask:
        raise_problems("PipelineTask", self._problems(), self.name)
        return self

    def _problems(self) -> list[Problem]:
        out: list[Problem] = []
        if problem := dns_label_problem(self.name, "pipeline task name"):
            out.append((("name",), problem))
        given = self._refs_and_specs()
        if len(given) != 1:
            what = "neither is set" if not given else f"{' and '.join(given)} are set"
            out.append(
                ((given[-1] if given else "taskRef",), f"exactly one of taskRef and taskSpec is required: {what}")
            )
        out += [
            (("runAfter", i), f"task {self.name!r} cannot run after itself")
            for i, name in enumerate(self.run_after)
            if name == self.name
        ]
        out += param_list_problems("params", self.params)
        names = [w.name for w in self.workspaces]
        out += [(("workspaces", i, "name"), f"workspace {names[i]!r} is bound more than once") for i in repeated(names)]
        if self.on_error == "continue" and self.retries > 0:
            out.append((("onError",), "onError: continue cannot be combined with retries"))
        return out

    def _refs_and_specs(self) -> list[str]:
        """Which of taskRef, taskSpec, pipelineRef and pipelineSpec are set: exactly one should be."""
        given = {
            "taskRef": self.task_ref,
            "taskSpec": self.task_spec,
            "pipelineRef": self.pipeline_ref,
            "pipelineSpec": self.pipeline_spec,
        }
        return [field for field, value in given.items() if value is not None]

    @property
    def referenced_task(self) -> str | None:
        """The name of the Task this runs by reference; None for an embedded spec, a resolver or a custom task."""
        ref = self.task_ref
        if ref is None or ref.resolver or ref.is_custom_task:
            return None
        return ref.name

    @property
    def timeout_seconds(self) -> float | None:
        return optional_seconds(self.timeout)

    @property
    def param_values(self) -> dict[str, ParamValue]:
        return {p.name: p.value for p in self.params}

    def unsupported_fields(self, prefix: str) -> list[str]:
        out = [f"{prefix}.matrix"] if self.matrix is not None else []
        out += [f"{prefix}.{field}" for field in self._refs_and_specs() if field.startswith("pipeline")]
        if self.task_ref is not None:
            out += self.task_ref.unsupported_fields(f"{prefix}.taskRef")
        if self.task_spec is not None:
            out += self.task_spec.unsupported_fields(f"{prefix}.taskSpec")
        return out + [f"{prefix}.when.{i}.cel" for i, when in enumerate(self.when) if when.cel]


class PipelineWorkspaceDeclaration(Model):
    name: str = Field(min_length=1)
    description: str = ""
    optional: bool = False


class PipelineSpec(Model):
    display_name: str = ""
    description: str = ""
    tasks: list[PipelineTask] = Field(default_factory=list)
    params: list[ParamSpec] = Field(default_factory=list)
    workspaces: list[PipelineWorkspaceDeclaration] = Field(default_factory=list)
    results: list[PipelineResult] = Field(default_factory=list)
    finally_: list[PipelineTask] = Field(default_factory=list, alias="finally")

    @model_validator(mode="after")
    def _check(self) -> PipelineSpec:
        raise_problems("PipelineSpec", self.problems(), "")
        return self

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        if not (self.description or self.params or self.tasks or self.workspaces or self.finally_ or self.results):
            out.append((("tasks",), "a pipeline needs at least one of tasks, params, workspaces or description"))
        if self.finally_ and not self.tasks:
            out.append((("finally",), f"spec.tasks is empty but spec.finally has {len(self.finally_)} tasks"))
        located = self._located_tasks()
        for j in repeated([task.name for _, _, task in located]):
            field, i, task = located[j]
            out.append(((field, i, "name"), f"pipeline task name {task.name!r} is used more than once"))
        out += self._run_after_problems()
        out += param_list_problems("params", self.params)
        names = [w.name for w in self.workspaces]
        out += [
            (("workspaces", i, "name"), f"workspace {names[i]!r} is declared more than once") for i in repeated(names)
        ]
        names = [r.name for r in self.results]
        out += [(("results", i, "name"), f"result {names[i]!r} is declared more than once") for i in repeated(names)]
        return out

    def _located_tasks(self) -> list[tuple[str, int, PipelineTask]]:
        return [("tasks", i, t) for i, t in enumerate(self.tasks)] + [
            ("finally", i, t) for i, t in enumerate(self.finally_)
        ]

    def _run_after_problems(self) -> list[Problem]:
        out: list[Problem] = []
        tasks, finally_tasks = set(self.task_names()), set(self.finally_names())
        for i, task in enumerate(self.tasks):
            for j, name in enumerate(task.run_after):
                if name in finally_tasks:
                    out.append((("tasks", i, "runAfter", j), f"{name!r} is a finally task: tasks cannot run after one"))
                elif name not in tasks:
                    out.append(
                        (
                            ("tasks", i, "runAfter", j),
                            f"task {task.name!r} runs after {name!r}, which is not in spec.tasks",
                        )
                    )
        for i, task in enumerate(self.finally_):
            if task.run_after:
                out.append(
                    (
                        ("finally", i, "runAfter"),
                        f"finally task {task.name!r} cannot use runAfter: finally tasks run after all tasks",
                    )
                )
        return out

    def workspace_binding_problems(self) -> list[Problem]:
        """Bindings that name a workspace this pipeline does not declare (Tekton checks this for a
        Pipeline object; an embedded pipelineSpec may use workspaces propagated from its run)."""
        declared = {w.name for w in self.workspaces}
        return [
            (
                (field, i, "workspaces", j, "workspace" if binding.workspace else "name"),
                f"task {task.name!r} binds workspace {binding.pipeline_workspace!r}, not declared by the pipeline",
            )
            for field, i, task in self._located_tasks()
            for j, binding in enumerate(task.workspaces)
            if binding.pipeline_workspace not in declared
        ]

    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]

    def finally_names(self) -> list[str]:
        return [t.name for t in self.finally_]

    def all_tasks(self) -> list[PipelineTask]:
        return [*self.tasks, *self.finally_]

    def task(self, name: str) -> PipelineTask:
        """The task or finally task called ``name`` (KeyError if there is none)."""
        found = next((t for t in self.all_tasks() if t.name == name), None)
        if found is None:
            raise KeyError(name)
        return found

    def run_after(self) -> dict[str, list[str]]:
        """Each task of ``spec.tasks`` and the names in its ``runAfter`` (not its result references)."""
        return {t.name: list(t.run_after) for t in self.tasks}

    def unsupported_fields(self, prefix: str = "spec") -> list[str]:
        return [
            path
            for field, i, task in self._located_tasks()
            for path in task.unsupported_fields(f"{prefix}.{field}.{i}")
        ]


class Pipeline(Model):
    api_version: Literal["tekton.dev/v1"] = "tekton.dev/v1"
    kind: Literal["Pipeline"] = "Pipeline"
    metadata: TektonObjectMeta
    spec: PipelineSpec

    @model_validator(mode="after")
    def _check(self) -> Pipeline:
        problems = required_name(self.metadata, KIND)
        problems += [(("spec", *loc), message) for loc, message in self.spec.workspace_binding_problems()]
        raise_problems(KIND, problems, "")
        return self

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(KIND, self.metadata.namespace, self.metadata.name)

    def unsupported_fields(self) -> list[str]:
        return self.spec.unsupported_fields()


def parse_pipeline(obj: dict[str, Any], origin: str = "") -> Pipeline:
    """Validate a Pipeline; raise InvalidObjectError naming the object, file and field."""
    return validate_object(Pipeline, KIND, obj, origin)
