"""A Pipeline's task graph and which task runs next, as Tekton's PipelineRun reconciler decides it. Pure.

Edges are ``runAfter`` and result references (``$(tasks.build.results.digest)`` in a task's
params or ``when``). From Tekton (pkg/reconciler/pipeline/dag, pipelinerun/resources
pipelinerunresolution.go and pipelinerunstate.go, docs/pipelines.md):

- A task may start when every parent is done (succeeded, failed or skipped) and the run is not
  stopping. Its ``when`` expressions are evaluated then; false skips it ("When Expressions
  evaluated to false").
- A task that failed, unless it has ``onError: continue``, stops the run: no new task starts,
  every task not started is skipped ("PipelineRun was stopping"), the running ones finish, then
  ``finally`` runs.
- ``when`` guards the task only: a task skipped by its own ``when`` counts as done, so tasks that
  merely run after it still run. A task that uses its results is skipped ("Results were missing"),
  and a task whose parent was skipped for any other reason is skipped ("Parent Tasks were skipped").
  Tekton tests a task's own ``when`` before its parents' skips, so a false ``when`` makes it a
  when-skip even then, and the tasks after it run.
- ``$(tasks.<name>.status)`` is ``Succeeded``, ``Failed`` or ``None`` (skipped or not run);
  ``$(tasks.status)`` is ``Succeeded``, ``Failed`` (any failure), ``Completed`` (all done, some
  skipped) or ``None`` (some not done yet).

``finally`` tasks are not nodes of this graph; they run once ``Decision.done`` is true.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from gitferry.errors import InvalidObjectError
from gitferry.pipelines.variables import Reference


@dataclass(frozen=True)
class TaskNode:
    """One pipeline task: what it runs after and whose results it reads."""

    name: str
    run_after: tuple[str, ...] = ()
    uses_results_of: tuple[str, ...] = ()
    continue_on_error: bool = False  # the PipelineTask's ``onError: continue``

    @property
    def parents(self) -> tuple[str, ...]:
        """``runAfter`` and result producers, each once, in that order."""
        return tuple(dict.fromkeys((*self.run_after, *self.uses_results_of)))


class TaskState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


DONE = frozenset({TaskState.SUCCEEDED, TaskState.FAILED, TaskState.SKIPPED})


class SkipReason(StrEnum):
    """Tekton's ``SkippingReason`` texts, as a PipelineRun's ``status.skippedTasks`` shows them."""

    WHEN = "When Expressions evaluated to false"
    PARENT_SKIPPED = "Parent Tasks were skipped"
    STOPPING = "PipelineRun was stopping"
    MISSING_RESULTS = "Results were missing"


@dataclass(frozen=True)
class Decision:
    """What to do now: tasks to start and tasks to mark skipped, both in the order of the task list."""

    start: tuple[str, ...] = ()
    skip: Mapping[str, SkipReason] = field(default_factory=dict)
    stopping: bool = False  # a task failed: nothing new starts
    done: bool = False  # once ``start`` and ``skip`` are applied, no task is pending or running


def result_producers(refs: Iterable[Reference]) -> tuple[str, ...]:
    """Tasks whose results the references read (``tasks.<name>.results.<result>...``), each once."""
    names = (r.path[1] for r in refs if len(r.path) >= 4 and r.path[0] == "tasks" and r.path[2] == "results")
    return tuple(dict.fromkeys(names))


def check(nodes: Sequence[TaskNode]) -> None:
    """Raise ``InvalidObjectError`` for a duplicate name, a reference to an unknown task, or a cycle."""
    names: set[str] = set()
    for node in nodes:
        if node.name in names:
            raise InvalidObjectError(f"pipeline task {node.name!r} is defined more than once")
        names.add(node.name)
    for node in nodes:
        for parent in node.run_after:
            if parent not in names:
                raise InvalidObjectError(
                    f"task {node.name!r} runs after {parent!r}, which is not a task of the pipeline"
                )
        for parent in node.uses_results_of:
            if parent not in names:
                raise InvalidObjectError(
                    f"task {node.name!r} uses results of {parent!r}, which is not a task of the pipeline"
                )
    cycle = _find_cycle(nodes)
    if cycle:
        raise InvalidObjectError(f"cycle detected: {' -> '.join(cycle)}")


def _find_cycle(nodes: Sequence[TaskNode]) -> list[str] | None:
    """The first cycle in execution order (``a -> b``: b runs after a), starting at its first-listed task."""
    position = {node.name: i for i, node in enumerate(nodes)}
    children: dict[str, list[str]] = {node.name: [] for node in nodes}
    for node in nodes:
        for parent in node.parents:
            children[parent].append(node.name)
    done: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        if name in path:
            loop = path[path.index(name) :]
            first = min(range(len(loop)), key=lambda i: position[loop[i]])
            loop = loop[first:] + loop[:first]
            return [*loop, loop[0]]
        if name in done:
            return None
        path.append(name)
        for child in children[name]:
            found = visit(child)
            if found:
                return found
        path.pop()
        done.add(name)
        return None

    for node in nodes:
        found = visit(node.name)
        if found:
            return found
    return None


def topological_order(nodes: Sequence[TaskNode]) -> list[str]:
    """Every task after its parents; among tasks free to go, the task list's order. Checks first."""
    check(nodes)
    placed: list[str] = []
    seen: set[str] = set()
    remaining = list(nodes)
    while remaining:
        ready = [n for n in remaining if all(p in seen for p in n.parents)]
        for node in ready:
            placed.append(node.name)
            seen.add(node.name)
        remaining = [n for n in remaining if n.name not in seen]
    return placed


def decide(
    nodes: Sequence[TaskNode],
    states: Mapping[str, TaskState],
    *,
    skip_reasons: Mapping[str, SkipReason] | None = None,
    when: Callable[[str], bool] | None = None,
) -> Decision:
    """Which tasks start now and which are skipped, given each task's state (absent: pending).

    ``skip_reasons`` says why earlier skipped tasks were skipped; a skipped task without one
    counts as not skipped by ``when`` (so its dependents are skipped). ``when(name)`` says whether
    a ready task's ``when`` expressions allow it to run; it is asked only for tasks whose parents
    are all done, as Tekton evaluates them, with results of those parents available. Without it
    every ready task is started. Skips cascade within one call: a skipped task's dependents are
    decided in the same call, and tasks unblocked by a ``when`` skip are started in it.
    """
    by_name = {node.name: node for node in nodes}
    unknown = sorted(set(states) - set(by_name))
    if unknown:
        raise ValueError(f"states for tasks that are not in the pipeline: {', '.join(unknown)}")
    state = {node.name: states.get(node.name, TaskState.PENDING) for node in nodes}
    reasons = dict(skip_reasons or {})
    stopping = any(state[n.name] is TaskState.FAILED and not n.continue_on_error for n in nodes)
    start: set[str] = set()
    skip: dict[str, SkipReason] = {}

    def skipped(name: str, reason: SkipReason) -> None:
        state[name] = TaskState.SKIPPED
        reasons[name] = reason
        skip[name] = reason

    for name in topological_order(nodes):
        if state[name] is not TaskState.PENDING:
            continue
        node = by_name[name]
        parents_done = all(state[p] in DONE for p in node.parents)
        if stopping:
            skipped(name, SkipReason.STOPPING)
        elif parents_done and when is not None and not when(name):
            skipped(name, SkipReason.WHEN)  # before the parents' skips, as Tekton's skip() checks it
        elif any(state[p] is TaskState.SKIPPED and reasons.get(p) is not SkipReason.WHEN for p in node.parents):
            skipped(name, SkipReason.PARENT_SKIPPED)
        elif not parents_done:
            continue
        elif any(state[p] is not TaskState.SUCCEEDED for p in node.uses_results_of):
            skipped(name, SkipReason.MISSING_RESULTS)
        else:
            start.add(name)
            state[name] = TaskState.RUNNING
    order = [node.name for node in nodes]
    return Decision(
        start=tuple(n for n in order if n in start),
        skip={n: skip[n] for n in order if n in skip},
        stopping=stopping,
        done=all(s in DONE for s in state.values()),
    )


def evaluate_when(input: str, operator: str, values: Sequence[str]) -> bool:
    """One ``when`` expression after substitution: ``in`` or ``notin`` compares whole strings."""
    if operator == "in":
        return input in values
    if operator == "notin":
        return input not in values
    raise InvalidObjectError(f"when expression operator {operator!r} is not one of: in, notin")


def task_status(state: TaskState) -> str:
    """``$(tasks.<name>.status)`` for a finally task: ``Succeeded``, ``Failed`` or ``None``."""
    if state is TaskState.SUCCEEDED:
        return "Succeeded"
    if state is TaskState.FAILED:
        return "Failed"
    return "None"


def aggregate_status(states: Iterable[TaskState]) -> str:
    """``$(tasks.status)``: ``None`` until all are done, then ``Failed``, ``Completed`` or ``Succeeded``."""
    states = list(states)
    if not all(s in DONE for s in states):
        return "None"
    if TaskState.FAILED in states:
        return "Failed"
    if TaskState.SKIPPED in states:
        return "Completed"
    return "Succeeded"
