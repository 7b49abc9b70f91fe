"""Table-driven tests of the pure decisions: durations, dependsOn, inventory, conditions."""

from __future__ import annotations

import pytest

from gitferry.api.meta import ObjectKey, format_duration, parse_duration
from gitferry.controllers import dependencies, statuses
from gitferry.controllers.inventory import entry_id, inventory_entries, to_prune


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1m30s", 90), ("500ms", 0.5), ("1h0m0s", 3600), ("0", 0), ("2.5s", 2.5)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "1x", "m5", "5m junk", "-1s"])
def test_parse_duration_rejects(text: str) -> None:
    if text == "":
        assert parse_duration(text) == 0
        return
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [(90, "1m30s"), (3600, "1h"), (0, "0s"), (61, "1m1s")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def k(name: str) -> ObjectKey:
    return ObjectKey("Kustomization", "flux-system", name)


@pytest.mark.parametrize(
    ("graph", "start", "cycle"),
    [
        ({k("a"): [k("b")], k("b"): []}, k("a"), None),
        ({k("a"): [k("b")], k("b"): [k("a")]}, k("a"), [k("a"), k("b"), k("a")]),
        ({k("a"): [k("a")]}, k("a"), [k("a"), k("a")]),
        ({k("a"): [k("b")], k("b"): [k("c")], k("c"): [k("b")]}, k("a"), [k("b"), k("c"), k("b")]),
        ({k("a"): [k("missing")]}, k("a"), None),
    ],
)
def test_find_cycle(graph: dict[ObjectKey, list[ObjectKey]], start: ObjectKey, cycle: list[ObjectKey] | None) -> None:
    assert dependencies.find_cycle(lambda key: graph.get(key, []), start) == cycle


def test_order_puts_dependencies_first_and_cycles_last() -> None:
    graph = {k("app"): [k("infra")], k("infra"): [k("crds")], k("crds"): [], k("x"): [k("y")], k("y"): [k("x")]}
    placed = dependencies.order(graph)
    assert placed.index(k("crds")) < placed.index(k("infra")) < placed.index(k("app"))
    assert placed[-2:] == [k("x"), k("y")]


SOURCE = ObjectKey("GitRepository", "flux-system", "flux-system")
OTHER = ObjectKey("GitRepository", "flux-system", "other")


def dep(ready: bool | None = True, generation: int = 1, observed: int = 1, source: ObjectKey = SOURCE, rev: str = "r2"):  # type: ignore[no-untyped-def]
    return dependencies.DependencyState(ready, generation, observed, source, rev)


@pytest.mark.parametrize(
    ("states", "blocked"),
    [
        ({k("a"): dep(), k("b"): dep()}, None),
        ({k("a"): dep()}, (k("b"), "dependency 'flux-system/b' not found")),
        ({k("a"): dep(ready=False), k("b"): dep()}, (k("a"), "dependency 'flux-system/a' is not ready")),
        ({k("a"): dep(ready=None), k("b"): dep()}, (k("a"), "dependency 'flux-system/a' is not ready")),
        ({k("a"): dep(generation=2), k("b"): dep()}, (k("a"), "dependency 'flux-system/a' is not ready")),
        ({k("a"): dep(rev="r1"), k("b"): dep()}, (k("a"), "dependency 'flux-system/a' revision is not up to date")),
        ({k("a"): dep(rev="x", source=OTHER), k("b"): dep()}, None),
    ],
)
def test_blocking_dependency(
    states: dict[ObjectKey, dependencies.DependencyState], blocked: tuple[ObjectKey, str] | None
) -> None:
    assert dependencies.blocking_dependency([k("a"), k("b")], states, SOURCE, "r2") == blocked


def obj(kind: str, name: str, annotations: dict[str, str] | None = None, api: str = "v1") -> dict[str, object]:
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": "dev", "annotations": annotations or {}},
    }


def test_inventory_ids_match_flux_format() -> None:
    deployment = obj("Deployment", "web", api="apps/v1")
    assert entry_id(deployment) == "dev_web_apps_Deployment"
    assert entry_id(obj("ConfigMap", "cfg")) == "dev_cfg__ConfigMap"
    assert inventory_entries([deployment]) == [{"id": "dev_web_apps_Deployment", "v": "v1"}]


def test_to_prune_keeps_desired_and_prune_disabled() -> None:
    old = {
        ObjectKey.of(o): o
        for o in [
            obj("ConfigMap", "kept"),
            obj("ConfigMap", "gone"),
            obj("Deployment", "gone"),
            obj("ConfigMap", "protected", {"kustomize.toolkit.fluxcd.io/prune": "disabled"}),
        ]
    }
    assert to_prune(old, [ObjectKey("ConfigMap", "dev", "kept")]) == [
        ObjectKey("Deployment", "dev", "gone"),
        ObjectKey("ConfigMap", "dev", "gone"),
    ]


def test_mark_keeps_transition_time_while_status_holds() -> None:
    first = statuses.mark({}, ready=True, reason="ReconciliationSucceeded", message="a", generation=1)
    first["conditions"][0]["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    second = statuses.mark(first, ready=True, reason="ReconciliationSucceeded", message="b", generation=2)
    assert second["conditions"][0]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    assert second["observedGeneration"] == 2
    failed = statuses.mark(second, ready=False, reason="BuildFailed", message="bad", generation=2, stalled=True)
    assert failed["conditions"][0]["lastTransitionTime"] != "2020-01-01T00:00:00Z"
    assert [c["type"] for c in failed["conditions"]] == ["Ready", "Stalled"]
    assert statuses.ready_of(failed) is False
    assert statuses.same_apart_from_times(
        second, statuses.mark(second, ready=True, reason="ReconciliationSucceeded", message="b", generation=2)
    )


def test_changes_say_why_a_live_object_was_touched() -> None:
    from gitferry.controllers.inventory import changes
    from gitferry.targets.base import Applied

    web = ObjectKey("Deployment", "dev", "web")
    applied = [
        Applied(web, "configured", cause="dev-web-1: pod missing"),
        Applied(ObjectKey("Deployment", "dev", "api"), "created", cause="dev-api-0: pod missing"),
        Applied(ObjectKey("ConfigMap", "dev", "cfg"), "unchanged"),
        Applied(ObjectKey("Service", "dev", "web"), "skipped", "podman has no Services"),
    ]
    assert changes(applied) == ["Deployment/dev/web configured (dev-web-1: pod missing)", "Deployment/dev/api created"]
