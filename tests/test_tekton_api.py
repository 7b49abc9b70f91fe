"""Tekton objects are read as Tekton's webhook reads them: valid files parse into typed models, bad
ones are refused with the object, the file and the field path, unimplemented fields are named."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from gitferry.api import tekton
from gitferry.api.manifests import load_documents
from gitferry.errors import InvalidObjectError, UnsupportedError

BUILDAH_TASK = """
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: buildah
  labels: {app.kubernetes.io/version: "0.9"}
spec:
  description: Build an image from a Dockerfile and push it.
  params:
    - name: IMAGE
      description: Reference of the image buildah will produce.
    - name: DOCKERFILE
      default: ./Dockerfile
    - name: CONTEXT
      default: .
    - name: BUILD_EXTRA_ARGS
      type: array
      default: []
    - name: TLSVERIFY
      default: "true"
      enum: ["true", "false"]
    - name: labels
      type: object
      properties: {maintainer: {}, revision: {type: string}}
      default: {maintainer: ci}
  workspaces:
    - name: source
    - name: dockerconfig
      optional: true
      readOnly: true
      mountPath: /root/.docker
  results:
    - name: IMAGE_DIGEST
      description: Digest of the image just built.
    - name: IMAGE_URL
  stepTemplate:
    image: quay.io/buildah/stable:v1.37
    workingDir: $(workspaces.source.path)
    env:
      - name: STORAGE_DRIVER
        value: vfs
  steps:
    - name: build
      timeout: 30m
      script: |
        buildah bud --tls-verify=$(params.TLSVERIFY) -f $(params.DOCKERFILE) -t $(params.IMAGE) $(params.CONTEXT)
    - name: push
      command: [buildah, push]
      args: ["$(params.BUILD_EXTRA_ARGS[*])", "--digestfile=/tmp/digest", "$(params.IMAGE)"]
      onError: continue
    - name: write-results
      image: registry.access.redhat.com/ubi9/ubi-minimal
      script: |
        printf '%s' "$(params.IMAGE)" > "$(results.IMAGE_URL.path)"
        cat /tmp/digest > "$(results.IMAGE_DIGEST.path)"
"""

PIPELINE = """
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: build-and-deploy
  namespace: ci
spec:
  params:
    - name: git-url
    - name: revision
      default: main
    - name: deploy
      default: "true"
  workspaces:
    - name: shared
    - name: registry-auth
      optional: true
  results:
    - name: image-digest
      value: $(tasks.build.results.IMAGE_DIGEST)
  tasks:
    - name: fetch
      taskRef: {name: git-clone}
      retries: 2
      params:
        - {name: url, value: $(params.git-url)}
        - {name: revision, value: $(params.revision)}
      workspaces: [{name: output, workspace: shared}]
    - name: test
      runAfter: [fetch]
      timeout: 10m
      workspaces: [{name: source, workspace: shared, subPath: app}]
      taskSpec:
        workspaces: [{name: source}]
        steps:
          - name: unit
            image: python:3.12
            workingDir: $(workspaces.source.path)
            script: pytest -q
    - name: build
      runAfter: [test]
      taskRef: {name: buildah, kind: Task}
      params:
        - {name: IMAGE, value: "registry.example/app:$(tasks.fetch.results.commit)"}
        - {name: BUILD_EXTRA_ARGS, value: [--squash, --layers]}
      workspaces:
        - {name: source, workspace: shared}
        - {name: dockerconfig, workspace: registry-auth}
    - name: deploy
      runAfter: [build, test]
      when:
        - {input: $(params.deploy), operator: in, values: ["true"]}
      taskRef: {name: kubectl-apply}
      onError: continue
      params:
        - {name: image, value: "$(tasks.build.results.IMAGE_URL)@$(tasks.build.results.IMAGE_DIGEST)"}
  finally:
    - name: notify
      taskRef: {name: send-notification}
      params: [{name: status, value: $(tasks.status)}]
"""

PIPELINE_RUN = """
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: build-and-deploy-1
  namespace: ci
spec:
  pipelineRef: {name: build-and-deploy}
  params:
    - {name: git-url, value: "https://git.example/app.git"}
    - {name: deploy, value: false}
  timeouts: {pipeline: 1h30m, tasks: 1h, finally: 20m}
  workspaces:
    - name: shared
      subPath: run-1
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
    - name: registry-auth
      emptyDir: {}
"""

EMBEDDED_PIPELINE_RUN = """
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: ci-run-
  annotations:
    pipelinesascode.tekton.dev/on-event: "[push]"
spec:
  status: PipelineRunPending
  params: [{name: revision, value: main}]
  workspaces: [{name: source, emptyDir: {}}]
  pipelineSpec:
    params: [{name: revision}]
    tasks:
      - name: lint
        workspaces: [{name: source}]
        taskSpec:
          steps:
            - {name: ruff, image: "ghcr.io/astral-sh/ruff:0.6", args: [check, $(workspaces.source.path)]}
"""

TASK_RUN = """
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {generateName: buildah-run-}
spec:
  taskRef: {name: buildah}
  timeout: 45m
  params:
    - {name: IMAGE, value: registry.example/app:dev}
    - {name: BUILD_EXTRA_ARGS, value: [--squash]}
    - {name: labels, value: {maintainer: me}}
  workspaces:
    - {name: source, emptyDir: {}}
"""


def doc(text: str) -> dict[str, Any]:
    [obj] = load_documents(text, "x.yaml")
    return obj


def test_a_buildah_task_parses_with_inferred_types_and_defaults() -> None:
    task = tekton.parse_task(doc(BUILDAH_TASK), "tekton/buildah.yaml")
    spec = task.spec
    assert task.key.name == "buildah" and task.metadata.namespace == "default"
    assert [(p.name, p.type, p.default) for p in spec.params] == [
        ("IMAGE", "string", None),
        ("DOCKERFILE", "string", "./Dockerfile"),
        ("CONTEXT", "string", "."),
        ("BUILD_EXTRA_ARGS", "array", []),
        ("TLSVERIFY", "string", "true"),
        ("labels", "object", {"maintainer": "ci"}),
    ]
    assert spec.params[4].enum == ["true", "false"] and not spec.params[0].has_default
    assert [w.path for w in spec.workspaces] == ["/workspace/source", "/root/.docker"]
    assert spec.workspaces[1].read_only and spec.workspaces[1].optional
    assert [r.name for r in spec.results] == ["IMAGE_DIGEST", "IMAGE_URL"]
    assert spec.step_template is not None and spec.step_template.env[0].value == "vfs"
    build, push, write = spec.steps
    assert build.timeout_seconds == 1800 and build.script.startswith("buildah bud") and not build.image
    assert push.command == ["buildah", "push"] and push.on_error == "continue" and push.timeout_seconds is None
    assert write.image.startswith("registry.access.redhat.com/")
    assert task.unsupported_fields() == []


def test_a_pipeline_parses_with_its_graph_guards_and_finally() -> None:
    pipeline = tekton.parse_pipeline(doc(PIPELINE), "tekton/pipeline.yaml")
    spec = pipeline.spec
    assert str(pipeline.key) == "Pipeline/ci/build-and-deploy"
    assert spec.task_names() == ["fetch", "test", "build", "deploy"] and spec.finally_names() == ["notify"]
    assert spec.run_after() == {"fetch": [], "test": ["fetch"], "build": ["test"], "deploy": ["build", "test"]}
    fetch, test, build, deploy = spec.tasks
    assert fetch.retries == 2 and fetch.referenced_task == "git-clone"
    assert test.referenced_task is None and test.task_spec is not None and test.timeout_seconds == 600
    assert test.workspaces[0].sub_path == "app" and test.workspaces[0].pipeline_workspace == "shared"
    assert build.param_values == {
        "IMAGE": "registry.example/app:$(tasks.fetch.results.commit)",
        "BUILD_EXTRA_ARGS": ["--squash", "--layers"],
    }
    assert [p.value_type for p in build.params] == ["string", "array"]
    assert [(w.input, w.operator, w.values) for w in deploy.when] == [("$(params.deploy)", "in", ["true"])]
    assert deploy.on_error == "continue" and deploy.timeout_seconds is None
    assert spec.task("notify").param_values == {"status": "$(tasks.status)"}
    assert spec.results[0].value == "$(tasks.build.results.IMAGE_DIGEST)"
    assert pipeline.unsupported_fields() == []
    with pytest.raises(KeyError):
        spec.task("nope")


def test_a_pipeline_run_with_a_ref_timeouts_and_workspaces() -> None:
    run = tekton.parse_pipeline_run(doc(PIPELINE_RUN), "runs/1.yaml")
    assert run.spec.pipeline_ref is not None and run.spec.pipeline_ref.name == "build-and-deploy"
    assert run.spec.param_values == {"git-url": "https://git.example/app.git", "deploy": "false"}
    assert (run.timeouts.pipeline_seconds, run.timeouts.tasks_seconds, run.timeouts.finally_seconds) == (
        5400,
        3600,
        1200,
    )
    shared, auth = run.spec.workspaces
    assert (shared.source, shared.sub_path, auth.source) == ("volumeClaimTemplate", "run-1", "emptyDir")
    assert run.spec.workspace("registry-auth") == auth and run.spec.workspace("nope") is None
    assert str(run.key) == "PipelineRun/ci/build-and-deploy-1"
    assert run.unsupported_fields() == []


def test_a_pipeline_run_with_generate_name_and_an_embedded_pipeline() -> None:
    run = tekton.parse_pipeline_run(doc(EMBEDDED_PIPELINE_RUN), ".tekton/push.yaml")
    assert run.metadata.name == "" and run.metadata.display_name == "ci-run-*"
    assert run.spec.status == "PipelineRunPending" and run.spec.pipeline_ref is None
    assert run.spec.pipeline_spec is not None and run.spec.pipeline_spec.task_names() == ["lint"]
    # Without timeouts, the pipeline gets Tekton's default and tasks and finally share it.
    assert (run.timeouts.pipeline_seconds, run.timeouts.tasks_seconds) == (3600, None)
    with pytest.raises(ValueError, match=r"PipelineRun ci-run-\* has no name yet"):
        _ = run.key
    assert str(run.named("ci-run-x7k2p").key) == "PipelineRun/default/ci-run-x7k2p"
    assert run.unsupported_fields() == []


def test_a_task_run() -> None:
    run = tekton.parse_task_run(doc(TASK_RUN), "runs/task.yaml")
    assert run.spec.task_ref is not None and run.spec.task_ref.name == "buildah"
    assert run.spec.timeout_seconds == 2700
    assert tekton.parse_task_run(changed(TASK_RUN, "spec.timeout", DELETE), "x.yaml").spec.timeout_seconds == 3600
    assert run.spec.param_values["labels"] == {"maintainer": "me"}
    assert run.named("buildah-run-1").key.name == "buildah-run-1"
    assert run.unsupported_fields() == []


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (BUILDAH_TASK, tekton.Task),
        (PIPELINE, tekton.Pipeline),
        (PIPELINE_RUN, tekton.PipelineRun),
        (TASK_RUN, tekton.TaskRun),
    ],
)
def test_parse_tekton_dispatches_on_kind(text: str, kind: type) -> None:
    assert isinstance(tekton.parse_tekton(doc(text), "x.yaml"), kind)


def test_kinds_gitferry_does_not_run_are_unsupported() -> None:
    obj = {"apiVersion": "tekton.dev/v1beta1", "kind": "ClusterTask", "metadata": {"name": "old"}, "spec": {}}
    with pytest.raises(UnsupportedError, match=r"^ClusterTask old in x\.yaml: field kind: ClusterTask is not one of"):
        tekton.parse_tekton(obj, "x.yaml")


def test_other_api_versions_are_refused() -> None:
    obj = doc(BUILDAH_TASK) | {"apiVersion": "tekton.dev/v1beta1"}
    with pytest.raises(
        InvalidObjectError, match=r"Task buildah in x\.yaml: field apiVersion: Input should be 'tekton\.dev/v1'"
    ):
        tekton.parse_tekton(obj, "x.yaml")


@pytest.mark.parametrize(
    ("raw", "value"),
    [(3, "3"), (True, "true"), (None, ""), (1.5, "1.5"), ([1, 2], "[1,2]"), ({"a": 1}, '{"a":1}'), (["a"], ["a"])],
)
def test_param_values_are_decoded_as_tekton_decodes_them(raw: Any, value: Any) -> None:
    assert tekton.Param.model_validate({"name": "p", "value": raw}).value == value


def changed(text: str, path: str, value: Any) -> dict[str, Any]:
    """The document with the value at a dotted path (list indexes as numbers) replaced; ``DELETE`` removes it."""
    obj = copy.deepcopy(doc(text))
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = obj
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return obj


DELETE = object()
NO_IMAGE = {"name": "bare", "script": "true"}

INVALID = [
    # Task
    (
        BUILDAH_TASK,
        "spec.steps.0.name",
        "Build_It",
        "spec.steps.0.name",
        "step name 'Build_It' must be a DNS-1123 label",
    ),
    (BUILDAH_TASK, "spec.steps.1.name", "build", "spec.steps.1.name", "step name 'build' is used more than once"),
    (BUILDAH_TASK, "spec.stepTemplate", DELETE, "spec.steps.0.image", "a step needs an image"),
    (BUILDAH_TASK, "spec.steps.0.command", ["sh"], "spec.steps.0.script", "script cannot be combined with command"),
    (BUILDAH_TASK, "spec.stepTemplate.command", ["sh"], "spec.steps.0.script", "with the stepTemplate's command"),
    (BUILDAH_TASK, "spec.steps", [], "spec.steps", "a Task needs at least one step"),
    (BUILDAH_TASK, "spec.steps.1.onError", "ignore", "spec.steps.1.onError", "onError 'ignore' must be continue or"),
    (BUILDAH_TASK, "spec.steps.0.timeout", "30 minutes", "spec.steps.0.timeout", "invalid duration '30 minutes'"),
    (BUILDAH_TASK, "spec.steps.0.timeout", "-1s", "spec.steps.0.timeout", "duration '-1s' must be at least 0"),
    (BUILDAH_TASK, "spec.steps.0.resources", {}, "spec.steps.0.resources", "unknown field"),
    (
        BUILDAH_TASK,
        "spec.params.3.default",
        "--squash",
        "spec.params.3.default",
        "a default of type string does not fit a param of type array",
    ),
    (
        BUILDAH_TASK,
        "spec.params.0",
        {"name": "IMAGE", "type": "string", "default": ["a"]},
        "spec.params.0.default",
        "a default of type array does not fit a param of type string",
    ),
    (BUILDAH_TASK, "spec.params.1.name", "IMAGE", "spec.params.1.name", "param 'IMAGE' is given more than once"),
    (BUILDAH_TASK, "spec.params.0.name", "1st", "spec.params.0.name", "param name '1st' must start with a letter"),
    (
        BUILDAH_TASK,
        "spec.params.0.type",
        "number",
        "spec.params.0.type",
        "Input should be 'string', 'array' or 'object'",
    ),
    (
        BUILDAH_TASK,
        "spec.params.4.default",
        "yes",
        "spec.params.4.default",
        "default 'yes' is not one of the enum values",
    ),
    (
        BUILDAH_TASK,
        "spec.params.5.properties",
        DELETE,
        "spec.params.5.properties",
        "object param 'labels' needs properties",
    ),
    (BUILDAH_TASK, "spec.workspaces.1.name", "source", "spec.workspaces.1.name", "workspace 'source' is declared more"),
    (
        BUILDAH_TASK,
        "spec.workspaces.1.mountPath",
        "/workspace/source/",
        "spec.workspaces.1.mountPath",
        "mount path '/workspace/source' is already used",
    ),
    (
        BUILDAH_TASK,
        "spec.results.1.name",
        "IMAGE_DIGEST",
        "spec.results.1.name",
        "result 'IMAGE_DIGEST' is declared more",
    ),
    (BUILDAH_TASK, "spec.results.0.name", "-digest", "spec.results.0.name", "result name '-digest' must be"),
    (BUILDAH_TASK, "metadata.name", "Buildah", "metadata.name", "name 'Buildah' must be at most 63 lower-case"),
    (BUILDAH_TASK, "metadata", {"generateName": "buildah-"}, "metadata.name", "a Task is referred to by name"),
    # Pipeline
    (
        PIPELINE,
        "spec.tasks.0.name",
        "Fetch",
        "spec.tasks.0.name",
        "pipeline task name 'Fetch' must be a DNS-1123 label",
    ),
    (
        PIPELINE,
        "spec.finally.0.name",
        "fetch",
        "spec.finally.0.name",
        "pipeline task name 'fetch' is used more than once",
    ),
    (
        PIPELINE,
        "spec.tasks.0.taskSpec",
        {"steps": [NO_IMAGE | {"image": "x"}]},
        "spec.tasks.0.taskSpec",
        "exactly one of taskRef and taskSpec is required: taskRef and taskSpec are set",
    ),
    (
        PIPELINE,
        "spec.tasks.0.taskRef",
        DELETE,
        "spec.tasks.0.taskRef",
        "exactly one of taskRef and taskSpec is required: neither",
    ),
    (
        PIPELINE,
        "spec.tasks.1.runAfter",
        ["fetsh"],
        "spec.tasks.1.runAfter.0",
        "task 'test' runs after 'fetsh', which is not in spec.tasks",
    ),
    (PIPELINE, "spec.tasks.1.runAfter", ["test"], "spec.tasks.1.runAfter.0", "task 'test' cannot run after itself"),
    (PIPELINE, "spec.tasks.1.runAfter", ["notify"], "spec.tasks.1.runAfter.0", "'notify' is a finally task"),
    (
        PIPELINE,
        "spec.finally.0.runAfter",
        ["deploy"],
        "spec.finally.0.runAfter",
        "finally task 'notify' cannot use runAfter",
    ),
    (
        PIPELINE,
        "spec.tasks.3.when.0.operator",
        "==",
        "spec.tasks.3.when.0.operator",
        "operator '==' must be in or notin",
    ),
    (PIPELINE, "spec.tasks.3.when.0.values", [], "spec.tasks.3.when.0.values", "values must not be empty"),
    (PIPELINE, "spec.tasks.3.retries", 1, "spec.tasks.3.onError", "onError: continue cannot be combined with retries"),
    (PIPELINE, "spec.tasks.1.timeout", "10 min", "spec.tasks.1.timeout", "invalid duration '10 min'"),
    (
        PIPELINE,
        "spec.tasks.0.workspaces.0.workspace",
        "shred",
        "spec.tasks.0.workspaces.0.workspace",
        "binds workspace 'shred', not declared",
    ),
    (
        PIPELINE,
        "spec.tasks.2.workspaces.1.name",
        "source",
        "spec.tasks.2.workspaces.1.name",
        "workspace 'source' is bound more than once",
    ),
    (PIPELINE, "spec.tasks", [], "spec.finally", "spec.tasks is empty but spec.finally has 1 tasks"),
    (PIPELINE, "spec", {}, "spec.tasks", "a pipeline needs at least one of tasks, params, workspaces or description"),
    (
        PIPELINE,
        "spec.tasks.0.taskRef.resolver",
        "git",
        "spec.tasks.0.taskRef.resolver",
        "name and resolver cannot both be set",
    ),
    (
        PIPELINE,
        "spec.tasks.0.taskRef.kind",
        "ClusterTask",
        "spec.tasks.0.taskRef.apiVersion",
        "ClusterTask is gone from tekton.dev/v1",
    ),
    (
        PIPELINE,
        "spec.tasks.1.taskSpec.steps.0",
        NO_IMAGE,
        "spec.tasks.1.taskSpec.steps.0.image",
        "a step needs an image",
    ),
    (PIPELINE, "spec.params.1.name", "git-url", "spec.params.1.name", "param 'git-url' is given more than once"),
    (
        PIPELINE,
        "spec.workspaces.1.name",
        "shared",
        "spec.workspaces.1.name",
        "workspace 'shared' is declared more than once",
    ),
    # PipelineRun
    (
        PIPELINE_RUN,
        "spec.pipelineSpec",
        {"tasks": [{"name": "a", "taskRef": {"name": "b"}}]},
        "spec.pipelineSpec",
        "pipelineRef and pipelineSpec cannot both be set",
    ),
    (PIPELINE_RUN, "spec.pipelineRef", DELETE, "spec.pipelineRef", "one of pipelineRef and pipelineSpec is required"),
    (
        PIPELINE_RUN,
        "spec.timeouts.finally",
        "40m",
        "spec.timeouts",
        "timeouts.tasks 1h + timeouts.finally 40m exceed timeouts.pipeline (1h30m)",
    ),
    (
        PIPELINE_RUN,
        "spec.timeouts.tasks",
        "2h",
        "spec.timeouts.tasks",
        "timeouts.tasks 2h is longer than timeouts.pipeline (1h30m)",
    ),
    (
        PIPELINE_RUN,
        "spec.timeouts",
        {"tasks": "2h"},
        "spec.timeouts.tasks",
        r"longer than timeouts.pipeline (60m, the default)",
    ),
    (
        PIPELINE_RUN,
        "spec.timeouts",
        {"pipeline": "1h", "finally": "0"},
        "spec.timeouts.finally",
        "timeouts.finally 0 (no timeout) is longer",
    ),
    (PIPELINE_RUN, "spec.timeouts.pipeline", "1 hour", "spec.timeouts.pipeline", "invalid duration '1 hour'"),
    (PIPELINE_RUN, "spec.status", "Stopped", "spec.status", "Input should be '', 'Cancelled'"),
    (
        PIPELINE_RUN,
        "spec.workspaces.1.secret",
        {"secretName": "s"},
        "spec.workspaces.1",
        "needs exactly one of emptyDir, volumeClaimTemplate",
    ),
    (PIPELINE_RUN, "spec.workspaces.1.emptyDir", DELETE, "spec.workspaces.1", "none is set"),
    (
        PIPELINE_RUN,
        "spec.workspaces.1",
        {"name": "registry-auth", "persistentVolumeClaim": {}},
        "spec.workspaces.1.persistentVolumeClaim.claimName",
        "persistentVolumeClaim.claimName is required",
    ),
    (
        PIPELINE_RUN,
        "spec.workspaces.1.name",
        "shared",
        "spec.workspaces.1.name",
        "workspace 'shared' is bound more than once",
    ),
    (PIPELINE_RUN, "spec.params.1.name", "GIT-URL", "spec.params.1.name", "param 'GIT-URL' is given more than once"),
    (
        EMBEDDED_PIPELINE_RUN,
        "spec.pipelineSpec.tasks.0.name",
        "Lint",
        "spec.pipelineSpec.tasks.0.name",
        "pipeline task name 'Lint'",
    ),
    (
        EMBEDDED_PIPELINE_RUN,
        "metadata",
        {"labels": {"a": "b"}},
        "metadata.name",
        "metadata.name or metadata.generateName is required",
    ),
    # TaskRun
    (
        TASK_RUN,
        "spec.taskSpec",
        {"steps": [{"image": "x"}]},
        "spec.taskSpec",
        "taskRef and taskSpec cannot both be set",
    ),
    (TASK_RUN, "spec.statusMessage", "stopped by hand", "spec.statusMessage", "statusMessage applies only with status"),
    (TASK_RUN, "spec.timeout", "-5m", "spec.timeout", "duration '-5m' must be at least 0"),
    (
        TASK_RUN,
        "spec.workspaces.0",
        {"name": "source", "configMap": {}},
        "spec.workspaces.0.configMap.name",
        "configMap.name is required",
    ),
    (
        TASK_RUN,
        "spec.taskRef.params",
        [{"name": "url", "value": "x"}],
        "spec.taskRef.params",
        "name and params cannot both be set",
    ),
]


@pytest.mark.parametrize(("text", "path", "value", "field", "message"), INVALID)
def test_invalid_objects_name_the_object_the_file_and_the_field(
    text: str, path: str, value: Any, field: str, message: str
) -> None:
    obj = changed(text, path, value)
    kind = obj["kind"]
    name = obj["metadata"].get("name") or (
        f"{obj['metadata']['generateName']}*" if "generateName" in obj["metadata"] else "?"
    )
    with pytest.raises(InvalidObjectError) as raised:
        tekton.parse_tekton(obj, "ci/tekton.yaml")
    text_of_error = str(raised.value)
    assert text_of_error.startswith(f"{kind} {name} in ci/tekton.yaml: "), text_of_error
    assert re.search(rf"field {re.escape(field)}: [^;]*{re.escape(message)}", text_of_error), text_of_error


def test_every_problem_is_reported_at_once() -> None:
    obj = changed(PIPELINE, "spec.tasks.1.runAfter", ["fetsh", "notify"])
    with pytest.raises(InvalidObjectError) as raised:
        tekton.parse_pipeline(obj, "p.yaml")
    assert "field spec.tasks.1.runAfter.0:" in str(raised.value) and "field spec.tasks.1.runAfter.1:" in str(
        raised.value
    )


def test_an_embedded_pipeline_may_bind_workspaces_its_run_propagates() -> None:
    # Tekton checks bindings against declarations for a Pipeline object only.
    run = tekton.parse_pipeline_run(doc(EMBEDDED_PIPELINE_RUN), "x.yaml")
    assert run.spec.pipeline_spec is not None and run.spec.pipeline_spec.workspaces == []


UNSUPPORTED_TASK = """
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: privileged}
spec:
  sidecars: [{name: docker, image: "docker:dind"}]
  volumes: [{name: cache, emptyDir: {}}]
  stepTemplate:
    image: alpine
    securityContext: {runAsUser: 0}
  steps:
    - name: a
      env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: s, key: token}}}, {name: PLAIN, value: x}]
      volumeMounts: [{name: cache, mountPath: /cache}]
      computeResources: {limits: {memory: 1Gi}}
      script: echo
  results:
    - {name: r, value: $(steps.a.results.r)}
"""

UNSUPPORTED_PIPELINE = """
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: fancy}
spec:
  tasks:
    - name: remote
      taskRef:
        resolver: git
        params: [{name: url, value: "https://git.example/catalog.git"}]
    - name: approve
      taskRef: {apiVersion: custom.example/v1, kind: Approval, name: gate}
    - name: each
      taskRef: {name: build}
      matrix: {params: [{name: arch, value: [amd64, arm64]}]}
      when: [{cel: "'$(params.x)' == 'y'"}]
    - name: inline
      taskSpec:
        sidecars: [{name: db, image: postgres}]
        steps: [{image: alpine, script: "true"}]
"""


def test_unsupported_fields_are_named_by_their_path() -> None:
    assert tekton.parse_task(doc(UNSUPPORTED_TASK), "x.yaml").unsupported_fields() == [
        "spec.sidecars",
        "spec.volumes",
        "spec.stepTemplate.securityContext",
        "spec.steps.0.computeResources",
        "spec.steps.0.volumeMounts",
        "spec.steps.0.env.0.valueFrom",
        "spec.results.0.value",
    ]
    assert tekton.parse_pipeline(doc(UNSUPPORTED_PIPELINE), "x.yaml").unsupported_fields() == [
        "spec.tasks.0.taskRef.resolver",
        "spec.tasks.0.taskRef.params",
        "spec.tasks.1.taskRef.kind=Approval",
        "spec.tasks.2.matrix",
        "spec.tasks.2.when.0.cel",
        "spec.tasks.3.taskSpec.sidecars",
    ]


def test_unsupported_run_fields_and_workspace_sources() -> None:
    run = changed(PIPELINE_RUN, "spec.workspaces.1", {"name": "registry-auth", "secret": {"secretName": "auth"}})
    run["spec"]["taskRunTemplate"] = {"serviceAccountName": "builder"}
    run["spec"]["pipelineRef"] = {"resolver": "bundles", "params": [{"name": "bundle", "value": "reg/x:1"}]}
    assert tekton.parse_pipeline_run(run, "x.yaml").unsupported_fields() == [
        "spec.pipelineRef.resolver",
        "spec.pipelineRef.params",
        "spec.taskRunTemplate.serviceAccountName",
        "spec.workspaces.1.secret",
    ]
    task_run = changed(TASK_RUN, "spec.workspaces.0", {"name": "source", "configMap": {"name": "c"}})
    task_run["spec"]["serviceAccountName"] = "builder"
    task_run["spec"]["podTemplate"] = {"nodeSelector": {"arch": "arm64"}}
    assert tekton.parse_task_run(task_run, "x.yaml").unsupported_fields() == [
        "spec.serviceAccountName",
        "spec.podTemplate",
        "spec.workspaces.0.configMap",
    ]


def test_a_taskrun_becomes_a_one_task_pipelinerun_with_its_params_workspaces_and_timeout() -> None:
    [doc] = load_documents(
        """\
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  generateName: build-
  annotations: {pipelinesascode.tekton.dev/on-event: "[push]"}
spec:
  taskRef: {name: builder}
  params: [{name: image, value: registry/app}, {name: tags, value: [a, b]}]
  workspaces: [{name: source, emptyDir: {}}, {name: cache, persistentVolumeClaim: {claimName: c}}]
  timeout: 5m
  retries: 2
""",
        "build.yaml",
    )
    task_run = tekton.parse_tekton(doc, "build.yaml")
    assert isinstance(task_run, tekton.TaskRun)
    run = task_run.as_pipeline_run()
    assert run.metadata.generate_name == "build-"
    assert run.metadata.annotations == {"pipelinesascode.tekton.dev/on-event": "[push]"}
    spec = run.spec.pipeline_spec
    assert spec is not None and [w.name for w in spec.workspaces] == ["source", "cache"]
    [task] = spec.tasks
    assert (task.name, task.referenced_task, task.retries, task.timeout) == ("builder", "builder", 2, "5m")
    assert {p.name: p.value for p in task.params} == {"image": "registry/app", "tags": ["a", "b"]}
    assert [(w.name, w.workspace) for w in task.workspaces] == [("source", "source"), ("cache", "cache")]
    assert run.spec.workspace("cache") is not None and run.timeouts.pipeline_seconds == 300
