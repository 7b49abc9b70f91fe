"""Pure decisions about ``dependsOn``: cycles, order, and whether an object may proceed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gitferry.api.keys import ObjectKey


def find_cycle(deps_of: Callable[[ObjectKey], Sequence[ObjectKey]], start: ObjectKey) -> list[ObjectKey] | None:
    """The first dependency cycle reachable from ``start`` (as a path that returns to its head), or None.

    ``deps_of`` is asked only for the nodes reachable from ``start``, so a caller can look them up
    lazily instead of loading every object.
    """
    path: list[ObjectKey] = []
    on_path: set[ObjectKey] = set()
    done: set[ObjectKey] = set()

    def visit(node: ObjectKey) -> list[ObjectKey] | None:
        if node in on_path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        on_path.add(node)
        for dep in deps_of(node):
            found = visit(dep)
            if found:
                return found
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    return visit(start)


def order(graph: Mapping[ObjectKey, Sequence[ObjectKey]]) -> list[ObjectKey]:
    """Every node after all its dependencies (dependencies missing from the graph are ignored).

    Nodes in a cycle come last, in name order, so the cycle is reported rather than hidden.
    """
    placed: list[ObjectKey] = []
    seen: set[ObjectKey] = set()
    remaining = sorted(graph)
    while remaining:
        ready = [n for n in remaining if all(d in seen or d not in graph for d in graph[n])]
        if not ready:
            placed.extend(remaining)
            break
        for node in ready:
            placed.append(node)
            seen.add(node)
        remaining = [n for n in remaining if n not in seen]
    return placed


@dataclass(frozen=True)
class DependencyState:
    """What a dependent needs to know of one dependency: its Ready condition and what it applied."""

    ready: bool | None
    generation: int
    observed_generation: int
    source: ObjectKey | None
    last_applied_revision: str


def blocking_dependency(
    deps: Sequence[ObjectKey], states: Mapping[ObjectKey, DependencyState], source: ObjectKey, revision: str
) -> tuple[ObjectKey, str] | None:
    """The first dependency that stops an object from proceeding and why; None when all are ready.

    As Flux's kustomize-controller: a dependency must exist, be Ready for its current generation,
    and, when it reads the same source, have applied the revision the dependent is about to apply
    (so dependants follow a new commit in order). An absent key means the dependency does not exist.
    """
    for dep in deps:
        name = f"dependency '{dep.namespace}/{dep.name}'"
        state = states.get(dep)
        if state is None:
            return dep, f"{name} not found"
        if state.ready is not True or state.observed_generation != state.generation:
            return dep, f"{name} is not ready"
        if state.source == source and state.last_applied_revision != revision:
            return dep, f"{name} revision is not up to date"
    return None
