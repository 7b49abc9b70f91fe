"""Kustomization, as Flux's kustomize-controller reads it (``kustomize.toolkit.fluxcd.io/v1``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from gitferry.api.meta import LocalRef, Model, ObjectKey, ObjectMeta, parse_duration, set_fields, validate

API_VERSION = "kustomize.toolkit.fluxcd.io/v1"
KIND = "Kustomization"

# Per-object annotation that turns substitution off, as in Flux.
SUBSTITUTE_ANNOTATION = "kustomize.toolkit.fluxcd.io/substitute"


class CrossNamespaceRef(Model):
    name: str
    namespace: str | None = None


class SourceRef(Model):
    api_version: str | None = None
    kind: Literal["GitRepository", "OCIRepository", "Bucket"]
    name: str
    namespace: str | None = None


class SubstituteReference(Model):
    kind: Literal["ConfigMap", "Secret"]
    name: str
    optional: bool = False


class PostBuild(Model):
    substitute: dict[str, str] = Field(default_factory=dict)
    substitute_from: list[SubstituteReference] = Field(default_factory=list)


class PatchSelector(Model):
    group: str | None = None
    version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    label_selector: str | None = None
    annotation_selector: str | None = None


class Patch(Model):
    patch: str
    target: PatchSelector | None = None


class Image(Model):
    name: str
    new_name: str | None = None
    new_tag: str | None = None
    digest: str | None = None


class CommonMetadata(Model):
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class HealthCheckRef(Model):
    api_version: str | None = None
    kind: str
    name: str
    namespace: str | None = None


class Decryption(Model):
    provider: str
    secret_ref: LocalRef | None = None


class KubeConfigReference(Model):
    secret_ref: dict[str, Any] | None = None
    config_map_ref: dict[str, Any] | None = None


class KustomizationSpec(Model):
    source_ref: SourceRef
    interval: str
    prune: bool
    path: str = ""
    retry_interval: str | None = None
    timeout: str | None = None
    depends_on: list[CrossNamespaceRef] = Field(default_factory=list)
    suspend: bool = False
    force: bool = False
    wait: bool = False
    target_namespace: str | None = None
    name_prefix: str | None = None
    name_suffix: str | None = None
    patches: list[Patch] = Field(default_factory=list)
    images: list[Image] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list)
    common_metadata: CommonMetadata | None = None
    post_build: PostBuild | None = None
    health_checks: list[HealthCheckRef] = Field(default_factory=list)
    deletion_policy: Literal["MirrorPrune", "Delete", "WaitForTermination", "Orphan"] = "MirrorPrune"
    decryption: Decryption | None = None
    kube_config: KubeConfigReference | None = None
    service_account_name: str | None = None
    health_check_exprs: list[dict[str, Any]] = Field(default_factory=list)
    ignore_missing_components: bool = False

    @field_validator("interval", "retry_interval", "timeout")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError(f"path {value!r} must be relative to the source root and stay inside it")
        return value

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval)

    @property
    def retry_interval_seconds(self) -> float:
        return parse_duration(self.retry_interval) if self.retry_interval else self.interval_seconds

    @property
    def timeout_seconds(self) -> float:
        # Flux: timeout defaults to the interval.
        return parse_duration(self.timeout) if self.timeout else self.interval_seconds


UNSUPPORTED_FIELDS = {
    "decryption": "SOPS decryption",
    "kubeConfig.configMapRef": "remote clusters by workload identity (kubeConfig.secretRef works)",
    "healthCheckExprs": "CEL health checks",
}


class Kustomization(Model):
    api_version: Literal["kustomize.toolkit.fluxcd.io/v1"] = "kustomize.toolkit.fluxcd.io/v1"
    kind: Literal["Kustomization"] = "Kustomization"
    metadata: ObjectMeta
    spec: KustomizationSpec

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(KIND, self.metadata.namespace, self.metadata.name)

    def source_key(self) -> ObjectKey:
        ref = self.spec.source_ref
        return ObjectKey(ref.kind, ref.namespace or self.metadata.namespace, ref.name)

    def dependency_keys(self) -> list[ObjectKey]:
        return [ObjectKey(KIND, d.namespace or self.metadata.namespace, d.name) for d in self.spec.depends_on]

    def unsupported_fields(self) -> list[str]:
        out = set_fields(self.spec, UNSUPPORTED_FIELDS)
        if self.spec.source_ref.kind != "GitRepository":
            out.append(f"spec.sourceRef.kind={self.spec.source_ref.kind}")
        return out


def parse_kustomization(obj: dict[str, Any], origin: str = "") -> Kustomization:
    """Validate a Kustomization; raise InvalidObjectError naming the object, file and field."""
    return validate(Kustomization, KIND, obj, origin)
