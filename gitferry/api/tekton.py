"""Tekton Pipelines objects (``tekton.dev/v1``): Task, Pipeline, PipelineRun and TaskRun.

Pure models with the checks Tekton's admission webhook makes, so a bad pipeline file is refused
with a message naming the object, the file and the field. Import this module and use its names
(``tekton.Pipeline``, ``tekton.parse_tekton``); the models live in:

    tekton_meta       metadata with generateName, name and duration rules, problem reporting
    tekton_params     ParamSpec, Param, TaskResult, PipelineResult
    tekton_tasks      Step, StepTemplate, WorkspaceDeclaration, TaskSpec, Task
    tekton_refs       TaskRef, PipelineRef
    tekton_pipelines  WhenExpression, PipelineTask, PipelineSpec, Pipeline
    tekton_runs       WorkspaceBinding, TimeoutFields, PipelineRun, TaskRun

Each object's ``unsupported_fields()`` lists the Tekton fields it sets that gitferry parses but
does not implement (resolvers, sidecars, pod-level container settings, matrix, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitferry.api.tekton_meta import API_VERSION, DEFAULT_TIMEOUT, TektonObjectMeta, object_display_name
from gitferry.api.tekton_params import (
    Param,
    ParamSpec,
    ParamType,
    ParamValue,
    PipelineResult,
    PropertySpec,
    TaskResult,
)
from gitferry.api.tekton_pipelines import (
    EmbeddedTask,
    Pipeline,
    PipelineSpec,
    PipelineTask,
    PipelineTaskMetadata,
    PipelineWorkspaceDeclaration,
    WhenExpression,
    WorkspacePipelineTaskBinding,
    parse_pipeline,
)
from gitferry.api.tekton_refs import PipelineRef, TaskRef
from gitferry.api.tekton_runs import (
    SUPPORTED_WORKSPACE_SOURCES,
    PipelineRun,
    PipelineRunSpec,
    PipelineTaskRunTemplate,
    TaskRun,
    TaskRunSpec,
    TimeoutFields,
    WorkspaceBinding,
    parse_pipeline_run,
    parse_task_run,
)
from gitferry.api.tekton_tasks import EnvVar, Step, StepTemplate, Task, TaskSpec, WorkspaceDeclaration, parse_task
from gitferry.errors import UnsupportedError

__all__ = [
    "API_VERSION",
    "DEFAULT_TIMEOUT",
    "KINDS",
    "SUPPORTED_WORKSPACE_SOURCES",
    "EmbeddedTask",
    "EnvVar",
    "Param",
    "ParamSpec",
    "ParamType",
    "ParamValue",
    "Pipeline",
    "PipelineRef",
    "PipelineResult",
    "PipelineRun",
    "PipelineRunSpec",
    "PipelineSpec",
    "PipelineTask",
    "PipelineTaskMetadata",
    "PipelineTaskRunTemplate",
    "PipelineWorkspaceDeclaration",
    "PropertySpec",
    "Step",
    "StepTemplate",
    "Task",
    "TaskRef",
    "TaskResult",
    "TaskRun",
    "TaskRunSpec",
    "TaskSpec",
    "TektonObject",
    "TektonObjectMeta",
    "TimeoutFields",
    "WhenExpression",
    "WorkspaceBinding",
    "WorkspaceDeclaration",
    "WorkspacePipelineTaskBinding",
    "parse_pipeline",
    "parse_pipeline_run",
    "parse_task",
    "parse_task_run",
    "parse_tekton",
]

TektonObject = Task | Pipeline | PipelineRun | TaskRun

PARSERS: dict[str, Callable[[dict[str, Any], str], TektonObject]] = {
    "Task": parse_task,
    "Pipeline": parse_pipeline,
    "PipelineRun": parse_pipeline_run,
    "TaskRun": parse_task_run,
}
KINDS = frozenset(PARSERS)


def parse_tekton(obj: dict[str, Any], origin: str = "") -> TektonObject:
    """Validate a Task, Pipeline, PipelineRun or TaskRun by its kind; InvalidObjectError names the
    object, file and field, UnsupportedError a kind gitferry does not run (ClusterTask, StepAction, ...)."""
    kind = str(obj.get("kind", ""))
    parser = PARSERS.get(kind)
    if parser is None:
        where = f" in {origin}" if origin else ""
        raise UnsupportedError(
            f"{kind or 'object'} {object_display_name(obj)}{where}: field kind: "
            f"{kind or 'no kind'} is not one of the Tekton kinds gitferry runs ({', '.join(sorted(KINDS))})"
        )
    return parser(obj, origin)
