"""PipelineRun and TaskRun (``tekton.dev/v1``): one execution of a Pipeline or a Task, with the
params, workspaces and timeouts it runs with. Runs are often written with ``metadata.generateName``
and get their name when created (``named``).

The checks are those of Tekton's admission webhook: exactly one of the ref and the embedded
spec; a ref with a name or a resolver; param names unique ignoring case; workspace bindings with
exactly one volume source (with its required name), bound once; a ``spec.status`` Tekton knows;
``statusMessage`` only with a status; timeouts of at least 0, where ``timeouts.tasks`` and
``timeouts.finally``, alone and together, fit in ``timeouts.pipeline`` (60m when unset, as a
TaskRun's ``timeout``).
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from gitferry.api.meta import Model, ObjectKey, set_fields
from gitferry.api.tekton_meta import (
    DEFAULT_TIMEOUT,
    Problem,
    TektonObjectMeta,
    checked_duration,
    duration_seconds,
    optional_seconds,
    raise_problems,
    repeated,
    validate_object,
)
from gitferry.api.tekton_params import Param, ParamValue, param_list_problems
from gitferry.api.tekton_pipelines import PipelineSpec
from gitferry.api.tekton_refs import PipelineRef, TaskRef
from gitferry.api.tekton_tasks import TaskSpec

PIPELINE_RUN_KIND = "PipelineRun"
TASK_RUN_KIND = "TaskRun"

# Where a workspace's files come from, and which of those gitferry provides.
WORKSPACE_SOURCES = (
    "emptyDir",
    "volumeClaimTemplate",
    "persistentVolumeClaim",
    "configMap",
    "secret",
    "projected",
    "csi",
)
SUPPORTED_WORKSPACE_SOURCES = ("emptyDir", "volumeClaimTemplate", "persistentVolumeClaim")
# The field each source must name, as Tekton requires.
_SOURCE_REQUIRED_FIELD = {
    "persistentVolumeClaim": "claimName",
    "configMap": "name",
    "secret": "secretName",
    "projected": "sources",
    "csi": "driver",
}


class WorkspaceBinding(Model):
    """The volume a run gives a declared workspace: exactly one source, optionally a ``subPath`` of it.

    Supported (``SUPPORTED_WORKSPACE_SOURCES``): ``emptyDir`` and ``volumeClaimTemplate``, each a
    fresh folder that lives as long as the run (a claim's storage size and class mean nothing
    without a cluster), and ``persistentVolumeClaim``, a folder per claim name that outlives runs
    (a cache). Parsed and named by ``unsupported_fields()``: ``configMap``, ``secret``,
    ``projected`` and ``csi``.
    """

    name: str = Field(min_length=1)
    sub_path: str = ""
    empty_dir: dict[str, Any] | None = None
    volume_claim_template: dict[str, Any] | None = None
    persistent_volume_claim: dict[str, Any] | None = None
    config_map: dict[str, Any] | None = None
    secret: dict[str, Any] | None = None
    projected: dict[str, Any] | None = None
    csi: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> WorkspaceBinding:
        problems: list[Problem] = []
        given = self._sources()
        if len(given) != 1:
            what = "none is set" if not given else f"{', '.join(given)} are set"
            problems.append(
                ((), f"workspace {self.name!r} needs exactly one of {', '.join(WORKSPACE_SOURCES)}: {what}")
            )
        for source, body in given.items():
            required = _SOURCE_REQUIRED_FIELD.get(source)
            if required and not body.get(required):
                problems.append(((source, required), f"{source}.{required} is required"))
        raise_problems("WorkspaceBinding", problems, self.name)
        return self

    def _sources(self) -> dict[str, dict[str, Any]]:
        given = {
            "emptyDir": self.empty_dir,
            "volumeClaimTemplate": self.volume_claim_template,
            "persistentVolumeClaim": self.persistent_volume_claim,
            "configMap": self.config_map,
            "secret": self.secret,
            "projected": self.projected,
            "csi": self.csi,
        }
        return {source: body for source, body in given.items() if body is not None}

    @property
    def source(self) -> str:
        """The source's field name: ``emptyDir``, ``volumeClaimTemplate``, ``secret``, ..."""
        return next(iter(self._sources()))


def _binding_problems(bindings: list[WorkspaceBinding], *, ignore_case: bool) -> list[Problem]:
    names = [b.name for b in bindings]
    return [
        (("workspaces", i, "name"), f"workspace {names[i]!r} is bound more than once")
        for i in repeated(names, ignore_case=ignore_case)
    ]


def _binding_unsupported(bindings: list[WorkspaceBinding]) -> list[str]:
    return [
        f"spec.workspaces.{i}.{b.source}" for i, b in enumerate(bindings) if b.source not in SUPPORTED_WORKSPACE_SOURCES
    ]


def _ref_xor_spec(ref: object | None, spec: object | None, kind: str) -> list[Problem]:
    if ref is not None and spec is not None:
        return [((f"{kind}Spec",), f"{kind}Ref and {kind}Spec cannot both be set")]
    if ref is None and spec is None:
        return [((f"{kind}Ref",), f"one of {kind}Ref and {kind}Spec is required")]
    return []


class TimeoutFields(Model):
    """How long the whole run, its tasks and its finally tasks may take; ``0`` is no limit."""

    pipeline: str | None = None
    tasks: str | None = None
    finally_: str | None = Field(default=None, alias="finally")

    @field_validator("pipeline", "tasks", "finally_")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        return checked_duration(value)

    @model_validator(mode="after")
    def _check(self) -> TimeoutFields:
        raise_problems("TimeoutFields", self._problems(), "")
        return self

    def _problems(self) -> list[Problem]:
        # Tekton's rule, with timeouts.pipeline defaulted first as its webhook does.
        limit = self.pipeline_seconds
        where = f"timeouts.pipeline ({self.pipeline or f'{DEFAULT_TIMEOUT}, the default'})"
        out: list[Problem] = []
        for field, value in (("tasks", self.tasks), ("finally", self.finally_)):
            seconds = optional_seconds(value)
            if seconds is None or limit == 0:
                continue
            if seconds == 0:
                out.append(((field,), f"timeouts.{field} 0 (no timeout) is longer than {where}"))
            elif seconds > limit:
                out.append(((field,), f"timeouts.{field} {value} is longer than {where}"))
        both = self.tasks is not None and self.finally_ is not None
        # Compared even when timeouts.pipeline is 0, as Tekton does.
        if both and not out and duration_seconds(self.tasks or "0") + duration_seconds(self.finally_ or "0") > limit:
            out.append(((), f"timeouts.tasks {self.tasks} + timeouts.finally {self.finally_} exceed {where}"))
        return out

    @property
    def pipeline_seconds(self) -> float:
        return duration_seconds(self.pipeline or DEFAULT_TIMEOUT)

    @property
    def tasks_seconds(self) -> float | None:
        return optional_seconds(self.tasks)

    @property
    def finally_seconds(self) -> float | None:
        return optional_seconds(self.finally_)


class PipelineTaskRunTemplate(Model):
    pod_template: dict[str, Any] | None = None
    service_account_name: str = ""


PipelineRunStatus = Literal["", "Cancelled", "CancelledRunFinally", "StoppedRunFinally", "PipelineRunPending"]

PIPELINE_RUN_UNSUPPORTED_FIELDS = {
    "pipelineRef.resolver": "resolvers",
    "pipelineRef.params": "resolver params",
    "taskRunTemplate.podTemplate": "pod templates",
    "taskRunTemplate.serviceAccountName": "service accounts",
    "taskRunSpecs": "per-task run settings",
    "managedBy": "runs managed by another controller",
}


class PipelineRunSpec(Model):
    pipeline_ref: PipelineRef | None = None
    pipeline_spec: PipelineSpec | None = None
    params: list[Param] = Field(default_factory=list)
    status: PipelineRunStatus = ""
    timeouts: TimeoutFields | None = None
    task_run_template: PipelineTaskRunTemplate | None = None
    workspaces: list[WorkspaceBinding] = Field(default_factory=list)
    task_run_specs: list[dict[str, Any]] = Field(default_factory=list)
    managed_by: str | None = None

    @model_validator(mode="after")
    def _check(self) -> PipelineRunSpec:
        problems = _ref_xor_spec(self.pipeline_ref, self.pipeline_spec, "pipeline")
        problems += param_list_problems("params", self.params, ignore_case=True)
        problems += _binding_problems(self.workspaces, ignore_case=False)
        raise_problems("PipelineRunSpec", problems, "")
        return self

    @property
    def param_values(self) -> dict[str, ParamValue]:
        return {p.name: p.value for p in self.params}

    def workspace(self, name: str) -> WorkspaceBinding | None:
        return next((w for w in self.workspaces if w.name == name), None)


class PipelineRun(Model):
    api_version: Literal["tekton.dev/v1"] = "tekton.dev/v1"
    kind: Literal["PipelineRun"] = "PipelineRun"
    metadata: TektonObjectMeta
    spec: PipelineRunSpec

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(PIPELINE_RUN_KIND, self.metadata.namespace, _name_of(self.metadata, PIPELINE_RUN_KIND))

    def named(self, name: str) -> Self:
        """This run with ``metadata.name`` set: how a run written with generateName is created."""
        return self.model_copy(update={"metadata": self.metadata.model_copy(update={"name": name})})

    @property
    def timeouts(self) -> TimeoutFields:
        return self.spec.timeouts or TimeoutFields()

    def unsupported_fields(self) -> list[str]:
        out = set_fields(self.spec, PIPELINE_RUN_UNSUPPORTED_FIELDS) + _binding_unsupported(self.spec.workspaces)
        if self.spec.pipeline_spec is not None:
            out += self.spec.pipeline_spec.unsupported_fields("spec.pipelineSpec")
        return out


TASK_RUN_UNSUPPORTED_FIELDS = {
    "serviceAccountName": "service accounts",
    "podTemplate": "pod templates",
    "stepSpecs": "per-step resource overrides",
    "sidecarSpecs": "per-sidecar resource overrides",
    "computeResources": "CPU and memory requests and limits",
    "debug": "breakpoints",
    "managedBy": "runs managed by another controller",
}


class TaskRunSpec(Model):
    params: list[Param] = Field(default_factory=list)
    service_account_name: str = ""
    task_ref: TaskRef | None = None
    task_spec: TaskSpec | None = None
    status: Literal["", "TaskRunCancelled"] = ""
    status_message: str = ""
    retries: int = Field(default=0, ge=0)
    timeout: str | None = None
    workspaces: list[WorkspaceBinding] = Field(default_factory=list)
    pod_template: dict[str, Any] | None = None
    step_specs: list[dict[str, Any]] = Field(default_factory=list)
    sidecar_specs: list[dict[str, Any]] = Field(default_factory=list)
    compute_resources: dict[str, Any] | None = None
    debug: dict[str, Any] | None = None
    managed_by: str | None = None

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str | None) -> str | None:
        return checked_duration(value)

    @model_validator(mode="after")
    def _check(self) -> TaskRunSpec:
        problems = _ref_xor_spec(self.task_ref, self.task_spec, "task")
        problems += param_list_problems("params", self.params, ignore_case=True)
        problems += _binding_problems(self.workspaces, ignore_case=True)
        if self.status_message and not self.status:
            problems.append((("statusMessage",), "statusMessage applies only with status"))
        raise_problems("TaskRunSpec", problems, "")
        return self

    @property
    def timeout_seconds(self) -> float:
        """The timeout, 60m when unset as Tekton defaults it; 0 is no limit."""
        return duration_seconds(self.timeout or DEFAULT_TIMEOUT)

    @property
    def param_values(self) -> dict[str, ParamValue]:
        return {p.name: p.value for p in self.params}


class TaskRun(Model):
    api_version: Literal["tekton.dev/v1"] = "tekton.dev/v1"
    kind: Literal["TaskRun"] = "TaskRun"
    metadata: TektonObjectMeta
    spec: TaskRunSpec

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(TASK_RUN_KIND, self.metadata.namespace, _name_of(self.metadata, TASK_RUN_KIND))

    def named(self, name: str) -> Self:
        """This run with ``metadata.name`` set: how a run written with generateName is created."""
        return self.model_copy(update={"metadata": self.metadata.model_copy(update={"name": name})})

    def as_pipeline_run(self) -> PipelineRun:
        """This TaskRun as the PipelineRun of one pipeline task (named after its Task, else ``task``),
        so one engine runs and records both. Params and workspaces pass through as they are; the
        TaskRun's ``timeout`` bounds the task and the run; its annotations and name are kept."""
        spec = self.spec

        def dump(model: Model) -> dict[str, Any]:
            return model.model_dump(by_alias=True, exclude_defaults=True)

        task: dict[str, Any] = {
            "name": (spec.task_ref.name if spec.task_ref is not None else "") or "task",
            "params": [dump(p) for p in spec.params],
            "workspaces": [{"name": w.name, "workspace": w.name} for w in spec.workspaces],
            "retries": spec.retries,
        }
        if spec.task_ref is not None:
            task["taskRef"] = dump(spec.task_ref)
        elif spec.task_spec is not None:
            task["taskSpec"] = dump(spec.task_spec)
        run_spec: dict[str, Any] = {
            "pipelineSpec": {"tasks": [task], "workspaces": [{"name": w.name} for w in spec.workspaces]},
            "workspaces": [dump(w) for w in spec.workspaces],
        }
        if spec.timeout is not None:
            task["timeout"] = spec.timeout
            run_spec["timeouts"] = {"pipeline": spec.timeout}
        return PipelineRun.model_validate({"metadata": dump(self.metadata), "spec": run_spec})

    def unsupported_fields(self) -> list[str]:
        out = set_fields(self.spec, TASK_RUN_UNSUPPORTED_FIELDS) + _binding_unsupported(self.spec.workspaces)
        if self.spec.task_ref is not None:
            out += self.spec.task_ref.unsupported_fields("spec.taskRef")
        if self.spec.task_spec is not None:
            out += self.spec.task_spec.unsupported_fields("spec.taskSpec")
        return out


def _name_of(meta: TektonObjectMeta, kind: str) -> str:
    if not meta.name:
        raise ValueError(f"{kind} {meta.display_name} has no name yet: give it one with named()")
    return meta.name


def parse_pipeline_run(obj: dict[str, Any], origin: str = "") -> PipelineRun:
    """Validate a PipelineRun; raise InvalidObjectError naming the object, file and field."""
    return validate_object(PipelineRun, PIPELINE_RUN_KIND, obj, origin)


def parse_task_run(obj: dict[str, Any], origin: str = "") -> TaskRun:
    """Validate a TaskRun; raise InvalidObjectError naming the object, file and field."""
    return validate_object(TaskRun, TASK_RUN_KIND, obj, origin)
