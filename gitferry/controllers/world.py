"""Everything a reconcile reads and acts on, gathered in one place and passed in."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitferry.api.catalog import SELF_MANAGED_KINDS
from gitferry.api.keys import ObjectKey
from gitferry.api.kustomizations import KubeConfigReference
from gitferry.api.manifests import Manifest, Resource
from gitferry.clock import Clock, SystemClock
from gitferry.controllers.pipelineruns import RunManager, Settings
from gitferry.controllers.statuses import same_apart_from_times
from gitferry.errors import DependencyNotReadyError, InvalidObjectError
from gitferry.registry.references import repository_of
from gitferry.store.runs import PipelineRuns
from gitferry.store.sqlite import Store
from gitferry.targets.base import Target

__all__ = ["SELF_MANAGED_KINDS", "RenderCacheEntry", "World", "decoded_data", "lookup_data"]


@dataclass
class RenderCacheEntry:
    key: str
    manifests: list[Manifest]


@dataclass
class World:
    store: Store
    target: Target
    data_dir: Path
    clock: Clock = field(default_factory=SystemClock)
    strict_substitute: bool = False
    health_poll_seconds: float = 0.5
    # Rendered sets by Kustomization, so a reconcile with nothing new does not run kustomize.
    render_cache: dict[ObjectKey, RenderCacheEntry] = field(default_factory=dict)
    # Pipeline runs: whether step images are pulled with TLS checks, how many tasks run at once.
    tls_verify: bool = True
    pipeline_concurrency: int = 4
    # Where 'gitferry up' serves webhooks (http://127.0.0.1:PORT), so statuses can say the full URL.
    http_address: str | None = None
    # Set by the reactor: reconcile an object soon, e.g. the ImageRepositories of an image a pipeline pushed.
    wake: Callable[[ObjectKey], bool] | None = None
    _pipelines: RunManager | None = field(default=None, init=False, repr=False)
    # Remote clusters named by Kustomizations' spec.kubeConfig.secretRef, by their kubeconfig's digest.
    _remote_targets: dict[str, Target] = field(default_factory=dict, init=False, repr=False)

    @property
    def pipelines(self) -> RunManager:
        """The pipeline runs of this process, made on first use."""
        if self._pipelines is None:
            settings = Settings(
                self.data_dir,
                tls_verify=self.tls_verify,
                concurrency=self.pipeline_concurrency,
                on_image_pushed=self.image_pushed,
            )
            self._pipelines = RunManager(PipelineRuns(self.store), settings)
        return self._pipelines

    def target_for(
        self, namespace: str, kube_config: KubeConfigReference | None, service_account: str | None = None
    ) -> Target:
        """Where a Kustomization's objects go, as in Flux: the cluster of ``spec.kubeConfig``'s Secret,
        else this gitferry's own target; acting as ``spec.serviceAccountName`` when it is set."""
        if kube_config is None and not service_account:
            return self.target  # the common case: no imports, no lookups
        from gitferry.targets.kube_client import KubeClient, load_config
        from gitferry.targets.kubernetes import KubernetesTarget

        impersonate = f"system:serviceaccount:{namespace}:{service_account}" if service_account else None
        if kube_config is not None:
            text = self._kubeconfig(namespace, kube_config)
            cluster = hashlib.sha256(text.encode()).hexdigest()[:16]
            config, state = load_config(text=text), self.data_dir / "kubernetes" / cluster
        elif isinstance(self.target, KubernetesTarget) and self.target.client.config is not None:
            cluster, config, state = "", self.target.client.config, self.target.state_dir
        else:
            raise InvalidObjectError(
                f"field spec.serviceAccountName: acting as a service account needs a Kubernetes target,"
                f" not {self.target.name}"
            )
        # A client belongs to the event loop it was made in: one per loop (the daemon has one).
        cache_key = f"{id(asyncio.get_running_loop())}/{cluster}/{impersonate or ''}"
        if cache_key not in self._remote_targets:
            client = KubeClient.connect(config, impersonate=impersonate)
            self._remote_targets[cache_key] = KubernetesTarget(client, state)
        return self._remote_targets[cache_key]

    def _kubeconfig(self, namespace: str, kube_config: KubeConfigReference) -> str:
        """The kubeconfig in ``spec.kubeConfig.secretRef``: key ``value`` or ``value.yaml``, or ``key``."""
        ref = kube_config.secret_ref or {}
        name, key = str(ref.get("name", "")), ref.get("key")
        where = f"spec.kubeConfig.secretRef: Secret {namespace}/{name}"
        data = self.lookup_data("Secret", namespace, name)
        if data is None:
            raise DependencyNotReadyError(f"{where} not found")
        text = data.get(str(key)) if key else data.get("value") or data.get("value.yaml")
        if not text:
            wanted = f"key {key!r}" if key else "key 'value' or 'value.yaml'"
            raise InvalidObjectError(f"{where} has no {wanted} with a kubeconfig")
        return text

    def image_pushed(self, reference: str) -> None:
        """A pipeline pushed ``reference``: the ImageRepositories scanning its repository look now,
        instead of at their next interval (a registry cannot call a webhook)."""
        pushed = repository_of(reference)
        if pushed is None or self.wake is None:
            return
        for stored in self.store.list_objects("ImageRepository"):
            image = (stored.manifest.get("spec") or {}).get("image")
            if isinstance(image, str) and repository_of(image) == pushed:
                self.wake(stored.key)

    @property
    def storage(self) -> Path:
        return self.data_dir / "sources"

    @property
    def scratch(self) -> Path:
        """Working copies for renders: beside the artifacts, so they can be hard links to them."""
        return self.data_dir / "tmp"

    def record_failure(self, key: ObjectKey, old: dict[str, Any], new: dict[str, Any], event: tuple[str, str]) -> bool:
        """Write a failed status and its event, once: a retry that fails the same way writes nothing.

        ``event`` is (type, reason); the message is the Ready condition's. True when written.
        """
        if same_apart_from_times(old, new):
            return False
        self.store.put_status(key, new)
        message = next((c["message"] for c in new.get("conditions", []) if c["type"] == "Ready"), "")
        self.store.add_event(key, event[0], event[1], message)
        return True

    def lookup_data(self, kind: str, namespace: str, name: str) -> dict[str, str] | None:
        return lookup_data(self.store, kind, namespace, name)


def lookup_data(store: Store, kind: str, namespace: str, name: str) -> dict[str, str] | None:
    """The data of a ConfigMap or Secret (decoded), from the store or any applied set."""
    key = ObjectKey(kind, namespace, name)
    stored = store.get_object(key)
    obj = stored.manifest if stored is not None else store.find_applied(key)
    if obj is None:
        return None
    return decoded_data(obj)


def decoded_data(obj: Resource) -> dict[str, str]:
    """``data`` (base64 for Secrets) merged with ``stringData``, as the API server would store it."""
    data = {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
    if obj.get("kind") == "Secret":
        data = {k: base64.b64decode(v).decode() for k, v in data.items()}
    data.update({str(k): str(v) for k, v in (obj.get("stringData") or {}).items()})
    return data
