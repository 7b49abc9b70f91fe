"""What podman cannot hold for us: one small JSON file per owner under the target's state dir.

podman keeps no ConfigMaps (kube play only reads them while creating a pod), shows no content of
its secrets, and knows nothing of a Deployment's replica count once pods are gone. So the podman
target records, per owning Kustomization: each ConfigMap as applied, each Secret's content hash
and key names (never a value), and each workload's pod and container names. The file is rewritten
only when something changed, atomically, so an unchanged reconcile writes nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gitferry.api.keys import ObjectKey
from gitferry.api.manifests import Resource
from gitferry.errors import StoreError
from gitferry.targets.base import Action

_SECTIONS = ("configmaps", "secrets", "workloads")


def _read(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        data = {}
    except (OSError, json.JSONDecodeError) as e:
        raise StoreError(f"podman target state {path} is unreadable ({e}); delete it to start afresh") from e
    return {section: dict(data.get(section) or {}) for section in _SECTIONS}


class OwnerState:
    """The state of one owner (``<namespace>.<name>`` of its Kustomization)."""

    def __init__(self, path: Path, data: dict[str, dict[str, Any]]) -> None:
        self.path = path
        self._data = data
        self._saved = json.dumps(data, sort_keys=True)

    @classmethod
    def load(cls, state_dir: Path, owner_label: str) -> OwnerState:
        path = state_dir / f"{owner_label}.json"
        return cls(path, _read(path))

    @staticmethod
    def everyone(state_dir: Path) -> list[OwnerState]:
        """Every owner's state: ConfigMaps and Secrets may be used across Kustomizations."""
        return [OwnerState(path, _read(path)) for path in sorted(state_dir.glob("*.json"))]

    def save(self) -> None:
        text = json.dumps(self._data, sort_keys=True)
        if text == self._saved:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            scratch = self.path.with_suffix(".tmp")
            scratch.write_text(text)
            os.replace(scratch, self.path)
        except OSError as e:
            raise StoreError(f"cannot write podman target state {self.path}: {e}") from e
        self._saved = text

    def put_configmap(self, key: ObjectKey, obj: Resource) -> Action:
        kept = {field: obj[field] for field in ("apiVersion", "kind", "metadata", "data", "binaryData") if field in obj}
        old = self._data["configmaps"].get(str(key))
        self._data["configmaps"][str(key)] = kept
        return "created" if old is None else "unchanged" if old == kept else "configured"

    def configmaps(self) -> dict[ObjectKey, Resource]:
        return {ObjectKey.parse(k): v for k, v in self._data["configmaps"].items()}

    def put_secret(self, key: ObjectKey, digest: str, keys: list[str], type_: str) -> None:
        self._data["secrets"][str(key)] = {"hash": digest, "keys": keys, "type": type_}

    def secret(self, key: ObjectKey) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._data["secrets"].get(str(key))
        return found

    def secret_hashes(self) -> dict[ObjectKey, str]:
        return {ObjectKey.parse(k): str(v["hash"]) for k, v in self._data["secrets"].items()}

    def put_workload(self, key: ObjectKey, pods: list[str], containers: list[str], grace: int | None) -> None:
        self._data["workloads"][str(key)] = {"pods": pods, "containers": containers, "grace": grace}

    def workload(self, key: ObjectKey) -> dict[str, Any] | None:
        """``pods`` (names), ``containers`` (names) and ``grace`` (seconds or None) of a workload."""
        found: dict[str, Any] | None = self._data["workloads"].get(str(key))
        return found

    def forget(self, key: ObjectKey) -> bool:
        """Drop ``key`` from every section; True if it was recorded."""
        return any([self._data[section].pop(str(key), None) is not None for section in _SECTIONS])
