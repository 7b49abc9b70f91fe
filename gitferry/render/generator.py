"""The kustomization.yaml that Flux writes before it runs kustomize, decided without I/O.

fluxcd/pkg ``kustomize`` (kustomize_generator.go): when ``spec.path`` holds no kustomization
file, one is generated listing every ``.yaml``/``.yml`` file under it (each must decode as
Kubernetes objects) and every sub-directory with its own kustomization file (not descended
into). Then ``targetNamespace``, ``namePrefix``, ``nameSuffix``, ``patches``, ``components``
and ``images`` of the Flux Kustomization are written into that file. ``commonMetadata`` is not:
Flux sets it on each built object (see ``build``). The caller walks the directory and reads the
files; this module only decides.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from gitferry.api import manifests
from gitferry.api.kustomizations import Kustomization
from gitferry.errors import InvalidObjectError

KUSTOMIZATION_FILE_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MANIFEST_SUFFIXES = (".yaml", ".yml")
ORIGIN_ANNOTATIONS = "originAnnotations"

# The fields of kustomize's Kustomization type. Flux reads an existing file into that type and
# writes it back, so any other top-level field is dropped instead of failing the build.
KUSTOMIZE_FIELDS = frozenset(
    {
        "apiVersion", "kind", "metadata", "openapi", "namePrefix", "nameSuffix", "namespace",
        "commonLabels", "labels", "commonAnnotations", "patchesStrategicMerge", "patchesJson6902",
        "patches", "images", "imageTags", "replacements", "replicas", "vars", "sortOptions",
        "resources", "components", "crds", "bases", "configMapGenerator", "secretGenerator",
        "helmGlobals", "helmCharts", "helmChartInflationGenerator", "generatorOptions",
        "configurations", "generators", "transformers", "validators", "buildMetadata", "inventory",
    }
)  # fmt: skip

# kustomize's markers of a remote resource (repospec.go), as Flux's IsLocalRelativePath uses them.
_REMOTE_PREFIXES = ("git::", "gh:", "ssh://", "https://", "http://", "git@", "github.com:", "github.com/")


def is_remote(path: str) -> bool:
    return any(len(prefix) < len(path) and path[: len(prefix)].lower() == prefix for prefix in _REMOTE_PREFIXES)


def is_local_relative(path: str) -> bool:
    absolute = path.startswith("/") or path.lower().removeprefix("file://").startswith("/")
    return not is_remote(path) and not absolute


def check_manifest_file(text: str, origin: str) -> None:
    """What Flux demands of each file it lists in a generated kustomization: every document a
    Kubernetes object with a kind and, unless it is a list, a ``metadata.name``."""
    for doc in manifests.load_documents(text, origin):
        kind, meta = doc.get("kind"), doc.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        if not kind:
            raise InvalidObjectError(f"failed to decode Kubernetes YAML from {origin}: a document has no kind")
        if not name and not str(kind).endswith("List"):
            raise InvalidObjectError(f"failed to decode Kubernetes YAML from {origin}: {kind} has no metadata.name")


def generated(resources: Sequence[str]) -> dict[str, Any]:
    """The file Flux writes where there is none: ``resources`` are ``./``-relative paths in walk order."""
    content: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if resources:
        content["resources"] = list(resources)
    else:
        content["namespace"] = "_placeholder"  # Flux's way around kustomize's "kustomization.yaml is empty"
    return content


def flux_kustomization(
    kustomization: Kustomization,
    content: Mapping[str, Any],
    *,
    created: bool,
    missing_components: Collection[str] = (),
) -> dict[str, Any]:
    """``content`` (the file found, or ``generated``) with the Kustomization's spec written in.

    ``missing_components`` are the ``spec.components`` entries that do not exist under the path:
    with ``ignoreMissingComponents`` they are left out, otherwise kustomize reports them.
    """
    spec = kustomization.spec
    out = {key: copy.deepcopy(value) for key, value in content.items() if key in KUSTOMIZE_FIELDS}
    out.setdefault("apiVersion", "kustomize.config.k8s.io/v1beta1")
    out.setdefault("kind", "Kustomization")
    if not created and not out.get("resources"):
        # Flux does this so that a file without resources is not "empty" to kustomize; the origin
        # annotations it switches on then stay on the objects it applies.
        out["buildMetadata"] = [ORIGIN_ANNOTATIONS]
    for field, value in (
        ("namespace", spec.target_namespace),
        ("namePrefix", spec.name_prefix),
        ("nameSuffix", spec.name_suffix),
    ):
        if value:
            out[field] = value
    for patch in spec.patches:
        entry: dict[str, Any] = {"patch": patch.patch}
        if patch.target is not None:
            entry["target"] = patch.target.model_dump(by_alias=True, exclude_none=True)
        out["patches"] = [*(out.get("patches") or []), entry]
    for index, component in enumerate(spec.components):
        if not is_local_relative(component):
            raise InvalidObjectError(
                f"Kustomization {kustomization.metadata.namespace}/{kustomization.metadata.name}: field "
                f"spec.components[{index}]: component path {component!r} must be local and relative"
            )
        if not (component in missing_components and spec.ignore_missing_components):
            out["components"] = [*(out.get("components") or []), component]
    for image in spec.images:
        _set_image(out, image.model_dump(by_alias=True, exclude_none=True))
    return out


def _set_image(out: dict[str, Any], image: dict[str, str]) -> None:
    images = out.setdefault("images", [])
    existing = next((entry for entry in images if isinstance(entry, dict) and entry.get("name") == image["name"]), None)
    if existing is None:
        images.append({key: value for key, value in image.items() if value})
        return
    # Merge into the file's entry, as an overlay would. newTag and digest both pick the version,
    # so Flux replaces them together: a stale digest next to a new tag would win at pull time.
    if image.get("newName"):
        existing["newName"] = image["newName"]
    if image.get("newTag") or image.get("digest"):
        existing.pop("newTag", None)
        existing.pop("digest", None)
        existing.update({key: image[key] for key in ("newTag", "digest") if image.get(key)})


def local_references(content: Mapping[str, Any]) -> list[str]:
    """Every local path a kustomization file makes kustomize read (not URLs, not inline documents)."""
    found: list[Any] = []
    for field in ("resources", "components", "bases", "crds", "configurations", "generators", "transformers",
                  "validators", "patchesStrategicMerge"):  # fmt: skip
        found += _list(content.get(field))
    for field in ("patches", "patchesJson6902", "replacements"):
        found += [item.get("path") for item in _list(content.get(field)) if isinstance(item, dict)]
    for field in ("configMapGenerator", "secretGenerator"):
        for generator in (item for item in _list(content.get(field)) if isinstance(item, dict)):
            found += [f.split("=", 1)[-1] for f in _list(generator.get("files")) if isinstance(f, str)]
            found += [*_list(generator.get("envs")), generator.get("env")]
    openapi = content.get("openapi")
    if isinstance(openapi, dict):
        found.append(openapi.get("path"))
    return [path for path in found if isinstance(path, str) and path and "\n" not in path and not is_remote(path)]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
