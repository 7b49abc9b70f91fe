"""The in-memory Target twin behaves, where callers can see it, like the podman target."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gitferry.api.meta import ObjectKey
from gitferry.errors import CommandError, InvalidObjectError
from gitferry.targets.base import ApplyOptions, Owner
from gitferry.targets.memory import RecordingTarget

MINE, THEIRS = Owner("flux-system", "mine"), Owner("flux-system", "theirs")


def obj(kind: str = "Deployment", name: str = "web", replicas: int = 1) -> dict[str, Any]:
    version = {"Deployment": "apps/v1", "Widget": "example.com/v1"}.get(kind, "v1")
    return {
        "apiVersion": version,
        "kind": kind,
        "metadata": {"name": name, "namespace": "dev"},
        "spec": {"replicas": replicas},
    }


def actions(target: RecordingTarget, owner: Owner, *objects: dict[str, Any], force: bool = False) -> list[str]:
    return [a.action for a in asyncio.run(target.apply(owner, list(objects), ApplyOptions(force=force)))]


def test_apply_reports_created_unchanged_configured_skipped_and_counts_calls() -> None:
    target = RecordingTarget()
    web, service = obj(), obj("Service")
    assert actions(target, MINE, web, service) == ["created", "skipped"]
    assert actions(target, MINE, web, service) == ["unchanged", "skipped"]
    web["spec"]["replicas"] = 2  # mutating what was passed does not change what was recorded
    assert actions(target, MINE, web) == ["configured"]
    assert actions(target, MINE, web, force=True) == ["configured"]
    assert target.calls["apply"] == 4 and target.calls["apply.write"] == 3
    with pytest.raises(InvalidObjectError, match="Widget"):
        actions(target, MINE, obj("Widget"))


def test_drift_injected_failures_prune_and_health() -> None:
    target = RecordingTarget(fail_on={ObjectKey("Deployment", "dev", "b")})
    a, b = obj(name="a"), obj(name="b")
    with pytest.raises(CommandError, match="injected failure"):
        actions(target, MINE, a, b)
    assert target.get(ObjectKey("Deployment", "dev", "a")) == a  # applied before the failure: stays
    target.fail_on.clear()
    assert actions(target, MINE, a, b) == ["unchanged", "created"]
    target.delete(ObjectKey("Deployment", "dev", "a"))
    assert actions(target, MINE, a) == ["created"]
    keys = [ObjectKey("Deployment", "dev", n) for n in ("a", "b", "c")]
    target.set_health(keys[1], "Failed", "exit code 1")
    statuses = [h.status for h in asyncio.run(target.health(MINE, keys))]
    assert statuses == ["Current", "Failed", "NotFound"]
    assert asyncio.run(target.prune(THEIRS, keys)) == []
    assert asyncio.run(target.live(THEIRS, keys[:1])) == {keys[0]: None}
    assert asyncio.run(target.prune(MINE, keys)) == keys[:2]
    assert asyncio.run(target.live(MINE, keys[:1])) == {keys[0]: None}
