"""References to a Task or a Pipeline kept elsewhere: by name in the same namespace, or through a
resolver (git, bundles, hub, cluster), which gitferry parses but does not implement.

Tekton's rule for both: a name, or a resolver with optional params, never a name with either.
A taskRef whose kind is not ``Task`` (or that has an apiVersion) points at a custom task.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from gitferry.api.meta import Model
from gitferry.api.tekton_meta import Problem, raise_problems
from gitferry.api.tekton_params import Param, param_list_problems


class TaskRef(Model):
    """A Task by name, or (not implemented) a resolver with params, or a custom task kind."""

    name: str = ""
    kind: str = "Task"
    api_version: str = ""
    resolver: str = ""
    params: list[Param] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> TaskRef:
        problems = ref_problems(self.name, self.resolver, self.params)
        if self.kind != "Task" and not self.api_version:
            hint = (
                " (ClusterTask is gone from tekton.dev/v1: use a Task or a resolver)"
                if self.kind == "ClusterTask"
                else ""
            )
            problems.append((("apiVersion",), f"a custom task of kind {self.kind!r} needs an apiVersion{hint}"))
        raise_problems("TaskRef", problems, self.name)
        return self

    @property
    def is_custom_task(self) -> bool:
        return self.kind != "Task" or bool(self.api_version)

    def unsupported_fields(self, prefix: str) -> list[str]:
        out = [f"{prefix}.{field}" for field in ("resolver", "params") if getattr(self, field)]
        if self.is_custom_task:
            out.append(
                f"{prefix}.kind={self.kind}" if self.kind != "Task" else f"{prefix}.apiVersion={self.api_version}"
            )
        return out


def ref_problems(name: str, resolver: str, params: list[Param]) -> list[Problem]:
    """The rules a taskRef and a pipelineRef share: a name, or a resolver (with params), not both."""
    out: list[Problem] = []
    if resolver and name:
        out.append((("resolver",), "name and resolver cannot both be set"))
    if params and name:
        out.append((("params",), "name and params cannot both be set (params go to a resolver)"))
    if params and not resolver:
        out.append((("resolver",), "params need a resolver"))
    if not (name or resolver or params):
        out.append((("name",), "name is required"))
    return out + param_list_problems("params", params, ignore_case=True)


class PipelineRef(Model):
    name: str = ""
    api_version: str = ""
    resolver: str = ""  # resolvers (git, bundles, hub, cluster): parsed, not implemented
    params: list[Param] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> PipelineRef:
        raise_problems("PipelineRef", ref_problems(self.name, self.resolver, self.params), self.name)
        return self
