"""Flux's ``Receiver`` (``notification.toolkit.fluxcd.io/v1``): a webhook that makes the objects it
names reconcile at once, instead of at their next interval.

The webhook's path is Flux's, ``/hook/`` + sha256(token + name + namespace), so a URL set up for
Flux's notification-controller works unchanged. The kinds a Receiver may name are gitferry's own
that look at something outside (sources, image scans, Pipelines-as-Code repositories) and those
that act on them.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import Field, field_validator

from gitferry.api.meta import LocalRef, Model, ObjectKey, ObjectMeta, parse_duration, validate

KIND = "Receiver"
API_VERSIONS = ("notification.toolkit.fluxcd.io/v1", "notification.toolkit.fluxcd.io/v1beta2")
TOKEN_KEY = "token"
HOOK_PREFIX = "/hook/"

# The sender types whose checks gitferry makes; Flux's others (harbor, quay, acr, ...) are rejected
# by name, so a user sees which field to change.
ReceiverType = Literal["generic", "generic-hmac", "github", "gitlab"]
TRIGGERABLE_KINDS = frozenset(
    {"GitRepository", "ImageRepository", "Repository", "Kustomization", "ImagePolicy", "ImageUpdateAutomation"}
)


class ResourceRef(Model):
    """Flux's CrossNamespaceObjectReference: one object, or with name ``*`` those with matchLabels."""

    api_version: str | None = None
    kind: str
    name: str = Field(min_length=1)
    namespace: str | None = None
    match_labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in TRIGGERABLE_KINDS:
            raise ValueError(f"kind {value!r} cannot be triggered; one of {', '.join(sorted(TRIGGERABLE_KINDS))}")
        return value


class ReceiverSpec(Model):
    type: ReceiverType
    interval: str | None = None
    events: list[str] = Field(default_factory=list)
    resources: list[ResourceRef] = Field(min_length=1)
    secret_ref: LocalRef
    suspend: bool = False

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class Receiver(Model):
    api_version: str
    kind: Literal["Receiver"] = "Receiver"
    metadata: ObjectMeta
    spec: ReceiverSpec

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        if value not in API_VERSIONS:
            raise ValueError(f"apiVersion {value!r} is not one of {', '.join(API_VERSIONS)}")
        return value

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(KIND, self.metadata.namespace, self.metadata.name)

    def handles(self, event: str | None) -> bool:
        """Whether an event of this type triggers anything: all do when ``events`` is empty."""
        return not self.spec.events or (event is not None and event in self.spec.events)


def webhook_path(token: str, name: str, namespace: str) -> str:
    """Flux's path for a Receiver: the token is in it, so only those who know the token find it."""
    return HOOK_PREFIX + hashlib.sha256((token + name + namespace).encode()).hexdigest()


def targets(receiver: Receiver, objects: list[tuple[ObjectKey, dict[str, str]]]) -> list[ObjectKey]:
    """The objects a request to ``receiver`` reconciles, from (key, labels) of every stored object.

    A reference without a namespace means the Receiver's own, as in Flux.
    """
    out: list[ObjectKey] = []
    for ref in receiver.spec.resources:
        namespace = ref.namespace or receiver.metadata.namespace
        for key, labels in objects:
            if key.kind != ref.kind or key.namespace != namespace:
                continue
            if ref.name == "*":
                if all(labels.get(k) == v for k, v in ref.match_labels.items()):
                    out.append(key)
            elif key.name == ref.name:
                out.append(key)
    return sorted(set(out))


def missing(receiver: Receiver, found: list[ObjectKey]) -> list[str]:
    """The named (not wildcard) references that match no object: said in the response and events."""
    out = []
    for ref in receiver.spec.resources:
        namespace = ref.namespace or receiver.metadata.namespace
        if ref.name != "*" and ObjectKey(ref.kind, namespace, ref.name) not in found:
            out.append(f"{ref.kind}/{namespace}/{ref.name}")
    return out


def parse_receiver(obj: dict[str, Any], origin: str = "") -> Receiver:
    """Validate a Receiver; raise InvalidObjectError naming the object, file and field."""
    return validate(Receiver, KIND, obj, origin)
