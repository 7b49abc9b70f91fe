"""Rendering a Kustomization with the real ``kubectl kustomize`` on trees made in tmp_path,
and the pure kustomization.yaml generator."""

from __future__ import annotations

import asyncio
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gitferry.api import goyaml
from gitferry.api.kustomizations import Kustomization, parse_kustomization
from gitferry.api.manifests import Manifest
from gitferry.errors import InvalidObjectError, RenderError
from gitferry.render import build, generator


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def kustomization(**spec: Any) -> Kustomization:
    base = {"interval": "5m", "prune": True, "sourceRef": {"kind": "GitRepository", "name": "repo"}}
    return parse_kustomization({"metadata": {"name": "apps", "namespace": "flux-system"}, "spec": {**base, **spec}})


def render(
    root: Path, ks: Kustomization, variables: dict[str, str] | None = None, strict: bool = False
) -> list[Manifest]:
    return asyncio.run(build.build(root, ks, variables=variables or {}, strict_substitute=strict))


def by_key(rendered: list[Manifest]) -> dict[str, Manifest]:
    return {str(m.key): m for m in rendered}


def configmap(name: str, namespace: str | None = "default", **data: str) -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    body = "".join(f"\n  {k}: {v}" for k, v in data.items()) or " {}"
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}{ns}\ndata:{body}\n"


DEPLOYMENT = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: default
      labels: {app: web}
    spec:
      replicas: 1
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: web
            image: busybox:1
    """


def test_generated_kustomization_lists_manifests_and_kustomization_dirs(tmp_path: Path) -> None:
    root = write(
        tmp_path / "src",
        {
            "apps/web.yaml": DEPLOYMENT,
            "apps/README.md": "not yaml",
            "apps/config/settings.yml": configmap("settings", mode="dev"),
            "apps/base/kustomization.yaml": "resources: [cm.yaml]\n",
            "apps/base/cm.yaml": configmap("from-base"),
            "apps/base/unlisted.yaml": configmap("unlisted"),
            "apps/cluster/role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
            "metadata: {name: reader}\nrules: []\n",
        },
    )
    before = sorted(str(p) for p in root.rglob("*"))
    rendered = by_key(render(root, kustomization(path="./apps")))
    assert set(rendered) == {
        "Deployment/default/web",
        "ConfigMap/default/settings",
        "ConfigMap/default/from-base",
        "ClusterRole/reader",
    }
    assert rendered["Deployment/default/web"].origin == "apps/web.yaml"
    assert rendered["ConfigMap/default/from-base"].origin == "apps/base/cm.yaml"
    assert rendered["ClusterRole/reader"].origin == "apps/cluster/role.yaml"
    for manifest in rendered.values():
        labels = manifest.obj["metadata"]["labels"]
        assert labels["kustomize.toolkit.fluxcd.io/name"] == "apps"
        assert labels["kustomize.toolkit.fluxcd.io/namespace"] == "flux-system"
        assert "annotations" not in manifest.obj["metadata"]  # the origin annotation is gone again
    assert sorted(str(p) for p in root.rglob("*")) == before  # the source was not touched


@pytest.mark.parametrize("file_name", generator.KUSTOMIZATION_FILE_NAMES)
def test_existing_kustomization_file_is_used(tmp_path: Path, file_name: str) -> None:
    root = write(
        tmp_path,
        {
            f"app/{file_name}": "resources: [a.yaml]\nnotAKustomizeField: dropped as Flux drops it\n",
            "app/a.yaml": configmap("a"),
            "app/b.yaml": configmap("b"),
        },
    )
    rendered = render(root, kustomization(path="app"))
    assert [(str(m.key), m.origin) for m in rendered] == [("ConfigMap/default/a", "app/a.yaml")]
    assert "notAKustomizeField" in (root / "app" / file_name).read_text()


def test_target_namespace_prefix_and_suffix(tmp_path: Path) -> None:
    role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: []\n"
    root = write(tmp_path, {"a.yaml": configmap("a", namespace="other"), "b.yaml": DEPLOYMENT, "role.yaml": role})
    ks = kustomization(targetNamespace="prod", namePrefix="pre-", nameSuffix="-suf")
    assert set(by_key(render(root, ks))) == {
        "ConfigMap/prod/pre-a-suf",
        "Deployment/prod/pre-web-suf",
        "ClusterRole/pre-reader-suf",
    }


def test_strategic_merge_patch_with_target(tmp_path: Path) -> None:
    other = DEPLOYMENT.replace("name: web", "name: other").replace("app: web", "app: other")
    root = write(tmp_path, {"web.yaml": DEPLOYMENT, "other.yaml": other})
    patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: any\nspec:\n  replicas: 5\n"
    ks = kustomization(patches=[{"patch": patch, "target": {"kind": "Deployment", "labelSelector": "app=web"}}])
    rendered = by_key(render(root, ks))
    assert rendered["Deployment/default/web"].obj["spec"]["replicas"] == 5
    assert rendered["Deployment/default/other"].obj["spec"]["replicas"] == 1


def test_json6902_patch(tmp_path: Path) -> None:
    root = write(tmp_path, {"web.yaml": DEPLOYMENT, "a.yaml": configmap("a")})
    patch = "- op: replace\n  path: /spec/template/spec/containers/0/image\n  value: busybox:9\n"
    ks = kustomization(patches=[{"patch": patch, "target": {"kind": "Deployment", "name": "web"}}])
    container = by_key(render(root, ks))["Deployment/default/web"].obj["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "busybox:9"


def test_images_merge_with_the_files_entry(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "kustomization.yaml": "resources: [web.yaml]\nimages:\n- name: busybox\n  newName: registry/busybox\n",
            "web.yaml": DEPLOYMENT,
        },
    )
    rendered = by_key(render(root, kustomization(images=[{"name": "busybox", "newTag": "1.36"}])))
    container = rendered["Deployment/default/web"].obj["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry/busybox:1.36"


COMPONENT = """
    apiVersion: kustomize.config.k8s.io/v1alpha1
    kind: Component
    labels:
    - pairs: {tier: frontend}
    """


def test_components(tmp_path: Path) -> None:
    root = write(tmp_path, {"app/a.yaml": configmap("a"), "components/tier/kustomization.yaml": COMPONENT})
    rendered = render(root, kustomization(path="app", components=["../components/tier"]))
    assert rendered[0].obj["metadata"]["labels"]["tier"] == "frontend"


def test_missing_component_fails_unless_ignored(tmp_path: Path) -> None:
    root = write(tmp_path, {"app/a.yaml": configmap("a")})
    with pytest.raises(RenderError, match="Kustomization flux-system/apps: kustomize build of path 'app' failed"):
        render(root, kustomization(path="app", components=["../missing"]))
    rendered = render(root, kustomization(path="app", components=["../missing"], ignoreMissingComponents=True))
    assert [str(m.key) for m in rendered] == ["ConfigMap/default/a"]


def test_remote_component_is_refused(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.yaml": configmap("a")})
    with pytest.raises(InvalidObjectError, match=r"spec\.components\[0\]: component path .* must be local"):
        render(root, kustomization(components=["https://github.com/org/repo//c"]))


def test_common_metadata_sets_object_metadata_only(tmp_path: Path) -> None:
    root = write(tmp_path, {"web.yaml": DEPLOYMENT})
    ks = kustomization(commonMetadata={"labels": {"team": "a", "app": "overridden"}, "annotations": {"owner": "x"}})
    obj = render(root, ks)[0].obj
    assert obj["metadata"]["labels"]["team"] == "a"
    assert obj["metadata"]["labels"]["app"] == "overridden"  # existing keys are overridden, as in Flux
    assert obj["metadata"]["annotations"] == {"owner": "x"}
    assert obj["spec"]["selector"]["matchLabels"] == {"app": "web"}  # unlike kustomize's commonLabels
    assert obj["spec"]["template"]["metadata"]["labels"] == {"app": "web"}


SUBSTITUTED = """
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ${name}
      namespace: ${ns:=apps}
    data:
      port: "${q}${port}${q}"
      script: |
        echo $${HOME} ${name}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: default
    spec:
      replicas: ${replicas}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: raw
      namespace: default
      annotations:
        kustomize.toolkit.fluxcd.io/substitute: disabled
    data:
      keep: ${name}
    """


def test_substitution_through_build(tmp_path: Path) -> None:
    root = write(tmp_path, {"all.yaml": SUBSTITUTED})
    variables = {"name": "settings", "port": "8080", "q": '"', "replicas": "3"}
    rendered = by_key(render(root, kustomization(postBuild={"substitute": variables}), variables))
    settings = rendered["ConfigMap/apps/settings"].obj
    assert settings["data"] == {"port": "8080", "script": "echo ${HOME} settings\n"}
    assert rendered["Deployment/default/web"].obj["spec"]["replicas"] == 3
    assert rendered["ConfigMap/default/raw"].obj["data"] == {"keep": "${name}"}


def test_no_substitution_without_post_build_or_variables(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.yaml": configmap("a", value="${x:=default}")})
    assert render(root, kustomization())[0].obj["data"] == {"value": "${x:=default}"}
    assert render(root, kustomization(postBuild={}))[0].obj["data"] == {"value": "${x:=default}"}


def test_strict_substitution_names_variable_object_and_file(tmp_path: Path) -> None:
    root = write(tmp_path, {"apps/web.yaml": DEPLOYMENT.replace("replicas: 1", "replicas: ${replicas}")})
    ks = kustomization(path="apps", postBuild={"substitute": {"other": "1"}})
    with pytest.raises(RenderError, match=r"Deployment/default/web in apps/web\.yaml: variable 'replicas' is not set"):
        render(root, ks, {"other": "1"}, strict=True)


def test_malformed_yaml_names_the_file(tmp_path: Path) -> None:
    root = write(tmp_path, {"apps/ok.yaml": configmap("ok"), "apps/sub/bad.yaml": "kind: ConfigMap\nmetadata: [\n"})
    with pytest.raises(InvalidObjectError, match=r"apps/sub/bad\.yaml"):
        render(root, kustomization(path="apps"))


def test_yaml_file_that_is_not_an_object_names_the_file(tmp_path: Path) -> None:
    root = write(tmp_path, {"values.yaml": "replicas: 3\n"})
    with pytest.raises(InvalidObjectError, match=r"failed to decode Kubernetes YAML from values\.yaml"):
        render(root, kustomization())


def test_malformed_kustomization_file_names_the_file(tmp_path: Path) -> None:
    root = write(tmp_path, {"app/kustomization.yaml": "resources: [a.yaml\n"})
    with pytest.raises(InvalidObjectError, match=r"malformed YAML in app/kustomization\.yaml"):
        render(root, kustomization(path="app"))


def test_failing_kustomize_build_carries_kustomize_reason(tmp_path: Path) -> None:
    root = write(tmp_path, {"app/kustomization.yaml": "resources: [missing.yaml]\n"})
    with pytest.raises(RenderError) as caught:
        render(root, kustomization(path="./app"))
    message = str(caught.value)
    assert message.startswith("Kustomization flux-system/apps: kustomize build of path 'app' failed: ")
    assert "missing.yaml" in message and "no such file or directory" in message
    assert str(tmp_path) not in message and "gitferry-render-" not in message  # paths relative to the source


def test_missing_path_names_kustomization_and_field(tmp_path: Path) -> None:
    with pytest.raises(InvalidObjectError, match=r"Kustomization flux-system/apps: field spec\.path: .*'\./nowhere'"):
        render(tmp_path, kustomization(path="./nowhere"))


def test_object_without_api_version_is_refused(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {"app/kustomization.yaml": "resources: [a.yaml]\n", "app/a.yaml": "kind: ConfigMap\nmetadata: {name: a}\n"},
    )
    with pytest.raises(InvalidObjectError, match=r"ConfigMap a in app/a\.yaml: field apiVersion is required"):
        render(root, kustomization(path="app"))


def test_exact_duplicates_are_refused_by_kustomize(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.yaml": configmap("same"), "b.yaml": configmap("same", namespace="default")})
    with pytest.raises(RenderError, match="may not add resource with an already registered id"):
        render(root, kustomization())


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # distinct to kustomize, the same object once variables are substituted
        (configmap("${first}"), configmap("${second}")),
        # distinct to kustomize (the version is part of its id), the same object to the API server
        (DEPLOYMENT, DEPLOYMENT.replace("apps/v1", "apps/v1beta2")),
    ],
)
def test_duplicate_object_names_both_files(tmp_path: Path, a: str, b: str) -> None:
    root = write(tmp_path, {"apps/a.yaml": a, "apps/b.yaml": b})
    variables = {"first": "same", "second": "same"}
    ks = kustomization(path="apps", postBuild={"substitute": variables})
    with pytest.raises(InvalidObjectError, match=r"/default/.* is defined twice: in apps/a\.yaml and in apps/b\.yaml"):
        render(root, ks, variables)


def test_cluster_scoped_kinds_from_crds_in_the_set(tmp_path: Path) -> None:
    crd = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.example.com}
        spec:
          group: example.com
          scope: Cluster
          names: {kind: Widget, plural: widgets}
          versions: [{name: v1, served: true, storage: true}]
        """
    root = write(
        tmp_path, {"crd.yaml": crd, "w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"}
    )
    assert set(by_key(render(root, kustomization(targetNamespace="prod")))) == {
        "CustomResourceDefinition/widgets.example.com",
        "Widget/w",  # kustomize gave it namespace prod; a cluster-scoped object has none
    }


def test_origin_annotations_requested_by_the_repository_stay(tmp_path: Path) -> None:
    root = write(tmp_path, {"kustomization.yaml": "resources: [a.yaml]\nbuildMetadata: [originAnnotations]\n"})
    write(root, {"a.yaml": configmap("a")})
    obj = render(root, kustomization())[0].obj
    assert obj["metadata"]["annotations"]["config.kubernetes.io/origin"] == "path: a.yaml\n"


def test_generated_objects_take_the_generating_kustomization_as_origin(tmp_path: Path) -> None:
    kfile = "resources: [a.yaml]\nconfigMapGenerator:\n- name: gen\n  literals: [k=v]\n"
    root = write(tmp_path, {"app/kustomization.yaml": kfile, "app/a.yaml": configmap("a")})
    ks = kustomization(path="app", targetNamespace="apps")
    origins = {m.obj["metadata"]["name"].split("-")[0]: m.origin for m in render(root, ks)}
    assert origins == {"a": "app/a.yaml", "gen": "app/kustomization.yaml"}


@pytest.mark.parametrize(
    "kfile",
    [
        "resources: [/etc/hostname]\n",
        "resources: [../../../../../../etc/hostname]\n",
        "configMapGenerator:\n- name: leak\n  files: [key=/etc/hostname]\n",
    ],
)
def test_paths_outside_the_source_are_refused(tmp_path: Path, kfile: str) -> None:
    root = write(tmp_path / "src", {"app/kustomization.yaml": kfile})
    with pytest.raises(InvalidObjectError, match=r"app/kustomization\.yaml refers to .* outside the source"):
        render(root, kustomization(path="app"))


def test_symlinks_out_of_the_source_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text(configmap("host-secret"))
    root = write(tmp_path / "src", {"a.yaml": configmap("a")})
    os.symlink(tmp_path / "secret.yaml", root / "link.yaml")
    assert [str(m.key) for m in render(root, kustomization())] == ["ConfigMap/default/a"]


def test_flux_kustomization_is_pure_and_follows_flux_rules() -> None:
    ks = kustomization(
        targetNamespace="prod",
        images=[{"name": "a", "digest": "sha256:1"}, {"name": "b", "newName": "c"}],
        patches=[{"patch": "- op: remove\n  path: /x\n", "target": {"kind": "Pod", "labelSelector": "a=b"}}],
        components=["../c", "../gone"],
        ignoreMissingComponents=True,
    )
    content = {
        "resources": ["x.yaml"],
        "images": [{"name": "a", "newTag": "1", "newName": "n"}],
        "components": ["../k"],
    }
    out = generator.flux_kustomization(ks, content, created=False, missing_components=["../gone"])
    assert out["namespace"] == "prod"
    assert out["images"] == [{"name": "a", "newName": "n", "digest": "sha256:1"}, {"name": "b", "newName": "c"}]
    assert out["patches"] == [
        {"patch": "- op: remove\n  path: /x\n", "target": {"kind": "Pod", "labelSelector": "a=b"}}
    ]
    assert out["components"] == ["../k", "../c"]
    assert content["images"] == [{"name": "a", "newTag": "1", "newName": "n"}]  # input left alone
    # A file without resources gets origin annotations from Flux, so kustomize does not call it empty.
    assert generator.flux_kustomization(ks, {"components": []}, created=False)["buildMetadata"] == ["originAnnotations"]
    assert generator.generated([]) == {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "_placeholder",
    }


def test_local_references_skip_urls_and_inline_documents() -> None:
    content = goyaml.load(
        textwrap.dedent(
            """
            resources: [a.yaml, ../base, https://github.com/org/repo//x]
            patches: [{path: p.yaml}, {patch: "x: y"}]
            patchesStrategicMerge: ["apiVersion: v1\\nkind: X\\n", s.yaml]
            configMapGenerator: [{name: c, files: [k=f.txt, g.txt], envs: [e.env]}]
            """
        )
    )[0]
    assert sorted(generator.local_references(content)) == [
        "../base", "a.yaml", "e.env", "f.txt", "g.txt", "p.yaml", "s.yaml",
    ]  # fmt: skip


def test_namespaced_object_without_namespace_is_refused_as_flux_does(tmp_path: Path) -> None:
    root = write(tmp_path, {"cm.yaml": configmap("orphan", namespace=None)})
    with pytest.raises(InvalidObjectError, match=r"ConfigMap/orphan in cm.yaml: field metadata.namespace"):
        render(root, kustomization())
    assert "ConfigMap/prod/orphan" in by_key(render(root, kustomization(targetNamespace="prod")))


def test_the_source_is_never_changed_even_when_the_copy_is_hard_links(tmp_path: Path) -> None:
    """The working copy is hard-linked when it can be; the rewritten kustomization.yaml must be a
    new file, or the artifact (and every later render from it) would carry Flux's changes."""
    source = write(
        tmp_path / "src", {"app/kustomization.yaml": "resources: [cm.yaml]\n", "app/cm.yaml": configmap("a")}
    )
    before = (source / "app" / "kustomization.yaml").read_text()
    ks = kustomization(path="app", namePrefix="p-")
    rendered = asyncio.run(build.build(source, ks, variables={}, scratch_dir=tmp_path / "scratch"))
    assert [m.obj["metadata"]["name"] for m in rendered] == ["p-a"]
    assert (source / "app" / "kustomization.yaml").read_text() == before
    assert list((tmp_path / "scratch").iterdir()) == []  # the working copy is removed
