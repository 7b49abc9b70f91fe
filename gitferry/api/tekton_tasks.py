"""Task (``tekton.dev/v1``): steps run one after another in one pod, sharing workspaces.

The checks are those of Tekton's admission webhook for a TaskSpec: at least one step; unique
step names that are DNS-1123 labels; an image for every step (its own or the stepTemplate's);
``script`` not combined with ``command`` (nor with a command inherited from the stepTemplate);
valid ``onError`` and ``timeout``; unique param, workspace and volume names; workspace mount paths
that do not collide; object params with properties. Result names are also required to be
unique, a check Tekton leaves to run time.

Container fields that need a Kubernetes pod (``securityContext``, ``volumeMounts``,
``computeResources``, ...), sidecars and volumes are parsed so a Task from a Tekton repository
reads, and named by ``unsupported_fields()`` when set.
"""

from __future__ import annotations

import posixpath
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from gitferry.api.meta import Model, ObjectKey, set_fields
from gitferry.api.tekton_meta import (
    Problem,
    TektonObjectMeta,
    checked_duration,
    dns_label_problem,
    invalid,
    optional_seconds,
    raise_problems,
    repeated,
    required_name,
    validate_object,
)
from gitferry.api.tekton_params import Param, ParamSpec, TaskResult, param_list_problems

KIND = "Task"

PullPolicy = Literal["Always", "IfNotPresent", "Never"]


def checked_on_error(value: str) -> str:
    """For field validators: ``continue``, ``stopAndFail`` or a param reference that becomes one."""
    if value and value not in ("continue", "stopAndFail") and not value.startswith("$(params."):
        raise invalid(f"onError {value!r} must be continue or stopAndFail")
    return value


class EnvVar(Model):
    name: str = Field(min_length=1)
    value: str = ""
    value_from: dict[str, Any] | None = None  # secretKeyRef, configMapKeyRef, ...: not implemented


class StepTemplate(Model):
    """Defaults for every step of the Task: a step's own fields win, ``env`` is merged by name."""

    image: str = ""
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    working_dir: str = ""
    env: list[EnvVar] = Field(default_factory=list)
    image_pull_policy: PullPolicy | None = None
    # Parsed, not implemented:
    env_from: list[dict[str, Any]] = Field(default_factory=list)
    compute_resources: dict[str, Any] | None = None
    volume_mounts: list[dict[str, Any]] = Field(default_factory=list)
    volume_devices: list[dict[str, Any]] = Field(default_factory=list)
    security_context: dict[str, Any] | None = None


class Step(StepTemplate):
    """One container of the Task. ``script`` becomes the entrypoint when set; else ``command``."""

    name: str = ""
    display_name: str = ""
    script: str = ""
    timeout: str | None = None
    on_error: str = ""  # continue | stopAndFail | a $(params.x) reference
    # Parsed, not implemented (step workspaces, output streams, StepActions and their results):
    workspaces: list[dict[str, Any]] = Field(default_factory=list)
    stdout_config: dict[str, Any] | None = None
    stderr_config: dict[str, Any] | None = None
    ref: dict[str, Any] | None = None
    params: list[Param] = Field(default_factory=list)
    results: list[dict[str, Any]] = Field(default_factory=list)
    when: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str | None) -> str | None:
        return checked_duration(value)

    @field_validator("on_error")
    @classmethod
    def _on_error(cls, value: str) -> str:
        return checked_on_error(value)

    @model_validator(mode="after")
    def _check(self) -> Step:
        problem = dns_label_problem(self.name, "step name") if self.name else None
        raise_problems("Step", [(("name",), problem)] if problem else [], self.name)
        return self

    @property
    def timeout_seconds(self) -> float | None:
        return optional_seconds(self.timeout)


STEP_TEMPLATE_UNSUPPORTED_FIELDS = {
    "envFrom": "environment from ConfigMaps and Secrets",
    "computeResources": "CPU and memory requests and limits",
    "volumeMounts": "volumes (use workspaces)",
    "volumeDevices": "block devices",
    "securityContext": "security contexts",
}
STEP_UNSUPPORTED_FIELDS = {
    **STEP_TEMPLATE_UNSUPPORTED_FIELDS,
    "workspaces": "per-step workspaces",
    "stdoutConfig": "writing a step's stdout to a file",
    "stderrConfig": "writing a step's stderr to a file",
    "ref": "StepActions",
    "params": "StepAction params",
    "results": "step results",
    "when": "step when expressions",
}
TASK_SPEC_UNSUPPORTED_FIELDS = {"sidecars": "sidecars", "volumes": "volumes (use workspaces)"}


class WorkspaceDeclaration(Model):
    """A workspace a Task needs, mounted at ``mountPath`` (default ``/workspace/<name>``)."""

    name: str = Field(min_length=1)
    description: str = ""
    mount_path: str = ""
    read_only: bool = False
    optional: bool = False

    @property
    def path(self) -> str:
        return self.mount_path or f"/workspace/{self.name}"


def _mount_path(raw: dict[str, Any]) -> str:
    return posixpath.normpath(str(raw.get("mountPath", "")))


class TaskSpec(Model):
    params: list[ParamSpec] = Field(default_factory=list)
    display_name: str = ""
    description: str = ""
    steps: list[Step] = Field(default_factory=list)
    step_template: StepTemplate | None = None
    workspaces: list[WorkspaceDeclaration] = Field(default_factory=list)
    results: list[TaskResult] = Field(default_factory=list)
    sidecars: list[dict[str, Any]] = Field(default_factory=list)
    volumes: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> TaskSpec:
        raise_problems(type(self).__name__, self.problems(), "")
        return self

    def problems(self) -> list[Problem]:
        """What Tekton's webhook rejects in this spec, each at its path inside the spec."""
        out: list[Problem] = []
        if not self.steps:
            out.append((("steps",), "a Task needs at least one step"))
        template = self.step_template or StepTemplate()
        for i, step in enumerate(self.steps):
            if step.ref is not None:
                continue  # a StepAction brings its own image and command
            if not (step.image or template.image):
                out.append((("steps", i, "image"), "a step needs an image (or a stepTemplate with one)"))
            if step.script and (step.command or template.command):
                where = "command" if step.command else "the stepTemplate's command"
                out.append((("steps", i, "script"), f"script cannot be combined with {where}"))
        indexed = [(i, s.name) for i, s in enumerate(self.steps) if s.name]
        for j in repeated([name for _, name in indexed]):
            i, name = indexed[j]
            out.append((("steps", i, "name"), f"step name {name!r} is used more than once"))
        out += param_list_problems("params", self.params)
        for i, param in enumerate(self.params):
            if param.type == "object" and param.properties is None:
                out.append((("params", i, "properties"), f"object param {param.name!r} needs properties"))
        result_names = [r.name for r in self.results]
        out += [
            (("results", i, "name"), f"result {result_names[i]!r} is declared more than once")
            for i in repeated(result_names)
        ]
        out += self._workspace_problems()
        volume_names = [str(v.get("name", "")) for v in self.volumes]
        out += [
            (("volumes", i, "name"), f"volume {volume_names[i]!r} is declared more than once")
            for i in repeated(volume_names)
        ]
        return out

    def _workspace_problems(self) -> list[Problem]:
        out: list[Problem] = []
        names = [w.name for w in self.workspaces]
        out += [
            (("workspaces", i, "name"), f"workspace {names[i]!r} is declared more than once") for i in repeated(names)
        ]
        mounts = self.step_template.volume_mounts if self.step_template else []
        taken = {_mount_path(m) for m in [*mounts, *(m for s in self.steps for m in s.volume_mounts)]}
        for i, workspace in enumerate(self.workspaces):
            path = posixpath.normpath(workspace.path)
            if path in taken:
                out.append(
                    (
                        ("workspaces", i, "mountPath"),
                        f"mount path {path!r} is already used by another workspace or volume",
                    )
                )
            taken.add(path)
        return out

    def workspace(self, name: str) -> WorkspaceDeclaration | None:
        return next((w for w in self.workspaces if w.name == name), None)

    def unsupported_fields(self, prefix: str = "spec") -> list[str]:
        """The paths (under ``prefix``) of fields set here that gitferry does not implement."""
        out = _under(prefix, set_fields(self, TASK_SPEC_UNSUPPORTED_FIELDS))
        if self.step_template is not None:
            out += _container_unsupported(
                self.step_template, f"{prefix}.stepTemplate", STEP_TEMPLATE_UNSUPPORTED_FIELDS
            )
        for i, step in enumerate(self.steps):
            out += _container_unsupported(step, f"{prefix}.steps.{i}", STEP_UNSUPPORTED_FIELDS)
        out += [f"{prefix}.results.{i}.value" for i, result in enumerate(self.results) if result.value is not None]
        return out


def _under(prefix: str, paths: list[str]) -> list[str]:
    """``set_fields`` names paths as ``spec.<path>``; put them under ``prefix`` instead."""
    return [prefix + path.removeprefix("spec") for path in paths]


def _container_unsupported(container: StepTemplate, prefix: str, fields: dict[str, str]) -> list[str]:
    out = _under(prefix, set_fields(container, fields))
    return out + [f"{prefix}.env.{i}.valueFrom" for i, env in enumerate(container.env) if env.value_from is not None]


class Task(Model):
    api_version: Literal["tekton.dev/v1"] = "tekton.dev/v1"
    kind: Literal["Task"] = "Task"
    metadata: TektonObjectMeta
    spec: TaskSpec

    @model_validator(mode="after")
    def _named(self) -> Task:
        raise_problems(KIND, required_name(self.metadata, KIND), "")
        return self

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(KIND, self.metadata.namespace, self.metadata.name)

    def unsupported_fields(self) -> list[str]:
        return self.spec.unsupported_fields()


def parse_task(obj: dict[str, Any], origin: str = "") -> Task:
    """Validate a Task; raise InvalidObjectError naming the object, file and field."""
    return validate_object(Task, KIND, obj, origin)
