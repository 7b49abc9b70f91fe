"""The SQLite state store: generations, inventories, events, history, and surviving a reopen."""

from __future__ import annotations

from pathlib import Path

from gitferry.api.meta import ObjectKey
from gitferry.store.sqlite import Store


def ks(name: str, interval: str = "1m") -> dict[str, object]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": interval},
    }


def test_generation_moves_only_with_the_spec(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    key = ObjectKey("Kustomization", "flux-system", "apps")
    assert store.put_object(ks("apps"), owner="bootstrap") is True
    assert store.put_object(ks("apps"), owner="bootstrap") is False
    labelled = ks("apps")
    labelled["metadata"] = {"name": "apps", "namespace": "flux-system", "labels": {"a": "b"}}
    assert store.put_object(labelled, owner="bootstrap") is True
    assert store.get_object(key).generation == 1  # type: ignore[union-attr]
    store.put_object(ks("apps", "5m"), owner="bootstrap")
    assert store.get_object(key).generation == 2  # type: ignore[union-attr]


def test_everything_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = Store(path)
    key = ObjectKey("Kustomization", "flux-system", "apps")
    store.put_object(ks("apps"), owner="bootstrap", origin="clusters/local/apps.yaml")
    store.put_status(key, {"lastAppliedRevision": "main@sha1:abc"})
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vars", "namespace": "dev"}, "data": {"a": "1"}}
    store.set_inventory("flux-system/apps", [cm])
    store.add_event(key, "Normal", "ReconciliationSucceeded", "ConfigMap/dev/vars created")
    store.add_history(
        key, revision="main@sha1:abc", started="t", duration=0.5, result="Succeeded", message="m", changed=["x"]
    )
    store.set_suspended(key, True)
    store.close()

    again = Store(path)
    stored = again.get_object(key)
    assert stored is not None and stored.suspended and stored.origin == "clusters/local/apps.yaml"
    assert again.get_status(key) == {"lastAppliedRevision": "main@sha1:abc"}
    assert again.get_inventory("flux-system/apps") == {ObjectKey("ConfigMap", "dev", "vars"): cm}
    assert again.find_applied(ObjectKey("ConfigMap", "dev", "vars")) == cm
    assert again.owner_of(ObjectKey("ConfigMap", "dev", "vars")) == "flux-system/apps"
    assert [e.message for e in again.events(key)] == ["ConfigMap/dev/vars created"]
    assert [h.changed for h in again.history(key)] == [["x"]]


def test_deleted_objects_are_hidden_until_removed(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    key = ObjectKey("Kustomization", "flux-system", "apps")
    store.put_object(ks("apps"), owner="flux-system/flux-system")
    store.mark_deleted(key)
    assert store.list_objects() == []
    assert [s.key for s in store.list_objects(include_deleted=True)] == [key]
    store.put_object(ks("apps"), owner="flux-system/flux-system")  # back in Git before the finalizer ran
    assert [s.key for s in store.list_objects()] == [key]
    store.remove_object(key)
    assert store.get_object(key) is None
