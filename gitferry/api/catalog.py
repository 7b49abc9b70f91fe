"""gitferry's own kinds: the objects it stores and reconciles itself instead of handing to a target.

Applying one of these (from a Kustomization's rendered set) stores it, as applying a custom
resource to an API server would; its parser is the schema check the CRD would make.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitferry.api.images import parse_image_policy, parse_image_repository, parse_image_update_automation
from gitferry.api.kustomizations import parse_kustomization
from gitferry.api.meta import Model
from gitferry.api.receivers import parse_receiver
from gitferry.api.repositories import parse_repository
from gitferry.api.sources import parse_git_repository

PARSERS: dict[str, Callable[[dict[str, Any], str], Model]] = {
    "GitRepository": parse_git_repository,
    "Kustomization": parse_kustomization,
    "ImageRepository": parse_image_repository,
    "ImagePolicy": parse_image_policy,
    "ImageUpdateAutomation": parse_image_update_automation,
    "Repository": parse_repository,
    "Receiver": parse_receiver,
}
SELF_MANAGED_KINDS = frozenset(PARSERS)
# The API group of each: a kind of the same name from another group (kustomize's own
# Kustomization, another project's Repository) is not ours and goes to the target like any other.
API_GROUPS = {
    "GitRepository": "source.toolkit.fluxcd.io",
    "Kustomization": "kustomize.toolkit.fluxcd.io",
    "ImageRepository": "image.toolkit.fluxcd.io",
    "ImagePolicy": "image.toolkit.fluxcd.io",
    "ImageUpdateAutomation": "image.toolkit.fluxcd.io",
    "Repository": "pipelinesascode.tekton.dev",
    "Receiver": "notification.toolkit.fluxcd.io",
}
assert set(API_GROUPS) == SELF_MANAGED_KINDS


def is_self_managed(obj: dict[str, Any]) -> bool:
    """Whether gitferry stores and reconciles ``obj`` itself: its kind and its API group are ours."""
    kind = str(obj.get("kind", ""))
    return kind in API_GROUPS and str(obj.get("apiVersion", "")).partition("/")[0] == API_GROUPS[kind]


def parse_object(obj: dict[str, Any], origin: str = "") -> Model:
    """Check one of gitferry's own objects; InvalidObjectError names the object, file and field."""
    return PARSERS[str(obj.get("kind"))](obj, origin)
