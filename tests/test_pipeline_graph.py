"""The pipeline DAG and scheduling decisions, as Tekton's PipelineRun reconciler makes them. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from gitferry.errors import InvalidObjectError
from gitferry.pipelines.graph import (
    Decision,
    SkipReason,
    TaskNode,
    TaskState,
    aggregate_status,
    check,
    decide,
    evaluate_when,
    result_producers,
    task_status,
    topological_order,
)
from gitferry.pipelines.variables import references

P, R, S, F, K = TaskState.PENDING, TaskState.RUNNING, TaskState.SUCCEEDED, TaskState.FAILED, TaskState.SKIPPED
WHEN, PARENT, STOPPING, MISSING = (
    SkipReason.WHEN,
    SkipReason.PARENT_SKIPPED,
    SkipReason.STOPPING,
    SkipReason.MISSING_RESULTS,
)


def node(name: str, *run_after: str, results: Sequence[str] = (), on_error_continue: bool = False) -> TaskNode:
    return TaskNode(name, tuple(run_after), tuple(results), on_error_continue)


LINEAR = [node("clone"), node("build", "clone"), node("push", "build")]
DIAMOND = [node("a"), node("b", "a"), node("c", results=["a"]), node("d", "b", "c")]
PARALLEL = [node("lint"), node("test"), node("build"), node("report", "lint", "test", "build")]
# tests -> approval (when-guarded) -> build -> deploy; approval's result -> notify -> after-notify
GUARDED = [
    node("tests"),
    node("approval", "tests"),
    node("build", "approval"),
    node("deploy", "build"),
    node("notify", results=["approval"]),
    node("after-notify", "notify"),
]


@pytest.mark.parametrize(
    ("nodes", "states", "expected"),
    [
        # linear
        (LINEAR, {}, Decision(start=("clone",))),
        (LINEAR, {"clone": R}, Decision()),
        (LINEAR, {"clone": S}, Decision(start=("build",))),
        (LINEAR, {"clone": S, "build": S, "push": R}, Decision()),
        (LINEAR, {"clone": S, "build": S, "push": S}, Decision(done=True)),
        # diamond: b and c together, d only after both
        (DIAMOND, {"a": S}, Decision(start=("b", "c"))),
        (DIAMOND, {"a": S, "b": S, "c": R}, Decision()),
        (DIAMOND, {"a": S, "b": S, "c": S}, Decision(start=("d",))),
        # parallel roots start together, in the task list's order
        (PARALLEL, {}, Decision(start=("lint", "test", "build"))),
        (PARALLEL, {"lint": S, "test": S, "build": R}, Decision()),
        (PARALLEL, {"lint": S, "test": S, "build": S}, Decision(start=("report",))),
    ],
)
def test_what_starts_now(nodes: list[TaskNode], states: Mapping[str, TaskState], expected: Decision) -> None:
    assert decide(nodes, states) == expected


def test_start_order_follows_the_task_list_not_the_graph() -> None:
    nodes = [node("z", "root"), node("root"), node("a", "root"), node("m")]
    assert decide(nodes, {}).start == ("root", "m")
    assert decide(nodes, {"root": S, "m": R}).start == ("z", "a")


@pytest.mark.parametrize(
    ("nodes", "states", "expected"),
    [
        # a failure stops the run: every task not started is skipped, running ones go on
        (LINEAR, {"clone": F}, Decision(skip={"build": STOPPING, "push": STOPPING}, stopping=True, done=True)),
        (
            PARALLEL,
            {"lint": F, "test": R},
            Decision(skip={"build": STOPPING, "report": STOPPING}, stopping=True),
        ),
        (
            PARALLEL,
            {"lint": F, "test": S, "build": S},
            Decision(skip={"report": STOPPING}, stopping=True, done=True),
        ),
        (DIAMOND, {"a": S, "b": F, "c": S}, Decision(skip={"d": STOPPING}, stopping=True, done=True)),
        # onError: continue: the failure does not stop the run, runAfter dependents still run...
        (
            [node("a", on_error_continue=True), node("b", "a"), node("c")],
            {"a": F},
            Decision(start=("b", "c")),
        ),
        # ... but its results are missing, and that skip cascades
        (
            [node("a", on_error_continue=True), node("b", results=["a"]), node("c", "b")],
            {"a": F},
            Decision(skip={"b": MISSING, "c": PARENT}, done=True),
        ),
    ],
)
def test_failure_propagation(nodes: list[TaskNode], states: Mapping[str, TaskState], expected: Decision) -> None:
    assert decide(nodes, states) == expected


def test_when_skip_guards_the_task_only() -> None:
    """docs/pipelines.md "Guarding a Task only": ordering dependents run, result dependents are skipped."""
    skipped_by_when = {"approval"}
    decision = decide(GUARDED, {"tests": S}, when=lambda name: name not in skipped_by_when)
    assert decision == Decision(
        start=("build",),
        skip={"approval": WHEN, "notify": MISSING, "after-notify": PARENT},
    )


def test_when_is_asked_only_for_tasks_whose_parents_are_done() -> None:
    asked: list[str] = []

    def when(name: str) -> bool:
        asked.append(name)
        return True

    decide(GUARDED, {"tests": R}, when=when)
    assert asked == []  # approval waits for tests, notify for approval's results
    asked.clear()
    decide(GUARDED, {"tests": S, "approval": S}, when=when)
    assert asked == ["build", "notify"]


@pytest.mark.parametrize(
    ("states", "reasons", "expected"),
    [
        # a task earlier skipped by its when: runAfter dependents run, result readers are skipped
        (
            {"tests": S, "approval": K},
            {"approval": WHEN},
            Decision(start=("build",), skip={"notify": MISSING, "after-notify": PARENT}),
        ),
        # skipped for another reason (or no reason given): every dependent is skipped, transitively
        (
            {"tests": S, "approval": K},
            {"approval": PARENT},
            Decision(skip={"build": PARENT, "deploy": PARENT, "notify": PARENT, "after-notify": PARENT}, done=True),
        ),
        (
            {"tests": S, "approval": K},
            {},
            Decision(skip={"build": PARENT, "deploy": PARENT, "notify": PARENT, "after-notify": PARENT}, done=True),
        ),
        # a when-skipped leaf ends the run as done
        (
            {"tests": S, "approval": S, "build": S, "deploy": K, "notify": S, "after-notify": S},
            {"deploy": WHEN},
            Decision(done=True),
        ),
    ],
)
def test_earlier_skips(states: Mapping[str, TaskState], reasons: Mapping[str, SkipReason], expected: Decision) -> None:
    assert decide(GUARDED, states, skip_reasons=reasons) == expected


def test_a_parent_skipped_for_another_reason_skips_before_the_other_parents_finish() -> None:
    nodes = [node("a"), node("b"), node("c", "a", "b")]
    assert decide(nodes, {"a": K, "b": R}, skip_reasons={"a": MISSING}) == Decision(skip={"c": PARENT})


def test_when_is_checked_before_skipped_parents_as_tekton_does() -> None:
    """Tekton's skip() tests ``when`` first: a false ``when`` makes the skip a when-skip, so runAfter dependents run."""
    nodes = [node("a"), node("b", "a"), node("c", "b")]
    decision = decide(nodes, {"a": K}, skip_reasons={"a": PARENT}, when=lambda name: name != "b")
    assert decision == Decision(start=("c",), skip={"b": WHEN})
    assert decide(nodes, {"a": K}, skip_reasons={"a": PARENT}) == Decision(skip={"b": PARENT, "c": PARENT}, done=True)


def test_when_skip_and_a_failure_in_the_same_run() -> None:
    nodes = [node("a"), node("b", "a"), node("c")]
    decision = decide(nodes, {"c": F}, when=lambda name: False)
    assert decision == Decision(skip={"a": STOPPING, "b": STOPPING}, stopping=True, done=True)


def test_states_of_unknown_tasks_are_refused() -> None:
    with pytest.raises(ValueError, match="not in the pipeline: ghost"):
        decide(LINEAR, {"ghost": S})


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ([node("a"), node("b", "a"), node("c", "b", "a", "d")], r"task 'c' runs after 'd', which is not a task"),
        ([node("a"), node("b", results=["x"])], r"task 'b' uses results of 'x', which is not a task"),
        ([node("a"), node("a")], r"pipeline task 'a' is defined more than once"),
        ([node("a", "a")], r"^cycle detected: a -> a$"),
        ([node("a", "c"), node("b", "a"), node("c", "b")], r"^cycle detected: a -> b -> c -> a$"),
        ([node("c", "b"), node("b", "a"), node("a", "c")], r"^cycle detected: c -> a -> b -> c$"),
        (
            [node("root"), node("x", "root", "z"), node("y", "x"), node("z", results=["y"])],
            r"^cycle detected: x -> y -> z -> x$",
        ),
    ],
)
def test_check_rejects(nodes: list[TaskNode], message: str) -> None:
    with pytest.raises(InvalidObjectError, match=message):
        check(nodes)


def test_decide_checks_the_graph() -> None:
    with pytest.raises(InvalidObjectError, match="cycle detected"):
        decide([node("a", "b"), node("b", "a")], {})


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        (LINEAR, ["clone", "build", "push"]),
        ([node("d", "b", "c"), node("c", "a"), node("b", "a"), node("a")], ["a", "c", "b", "d"]),
        (PARALLEL, ["lint", "test", "build", "report"]),
    ],
)
def test_topological_order(nodes: list[TaskNode], expected: list[str]) -> None:
    check(nodes)
    assert topological_order(nodes) == expected


def test_parents_union_run_after_and_results_once() -> None:
    assert node("x", "a", "b", results=["b", "c"]).parents == ("a", "b", "c")


def test_result_producers_from_references() -> None:
    text = (
        "$(tasks.build.results.digest) $(tasks.build.results.tags[*]) $(tasks.scan.results.report.url) "
        "$(tasks.status) $(tasks.build.status) $(params.tasks) $(tasks.x.outputs.y)"
    )
    assert result_producers(references(text)) == ("build", "scan")


@pytest.mark.parametrize(
    ("input", "operator", "values", "expected"),
    [
        ("main", "in", ["main", "release"], True),
        ("dev", "in", ["main", "release"], False),
        ("dev", "notin", ["main", "release"], True),
        ("main", "notin", ["main"], False),
        ("", "in", [""], True),
        ("x", "in", [], False),  # an empty array param expanded into values
        ("x", "notin", [], True),
        ("Main", "in", ["main"], False),  # exact, case-sensitive
    ],
)
def test_evaluate_when(input: str, operator: str, values: list[str], expected: bool) -> None:
    assert evaluate_when(input, operator, values) is expected


def test_evaluate_when_refuses_other_operators() -> None:
    with pytest.raises(InvalidObjectError, match="'=' is not one of: in, notin"):
        evaluate_when("a", "=", ["a"])


@pytest.mark.parametrize(
    ("state", "expected"),
    [(S, "Succeeded"), (F, "Failed"), (K, "None"), (P, "None"), (R, "None")],
)
def test_task_status(state: TaskState, expected: str) -> None:
    assert task_status(state) == expected


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([S, S], "Succeeded"),
        ([S, K], "Completed"),
        ([K, F, S], "Failed"),
        ([S, F], "Failed"),
        ([S, R], "None"),
        ([F, P], "None"),
        ([], "Succeeded"),
    ],
)
def test_aggregate_status(states: list[TaskState], expected: str) -> None:
    assert aggregate_status(states) == expected
