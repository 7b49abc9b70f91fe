"""Flux's Setters strategy: markers as image-automation-controller reads them, byte-preserving rewrites.

Cases restate Flux's docs (docs/spec/v1/imageupdateautomations.md, "Marking images for update")
and the fixtures of internal/update/testdata (CronJob, kustomization ``images:``), plus what
gitferry promises beyond Flux: every other byte kept, unknown policies reported.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gitferry.cli.main import app
from gitferry.errors import InvalidObjectError
from gitferry.images import setters, update

runner = CliRunner()

APP = setters.LatestImage(name="ghcr.io/org/app", tag="1.0.1")
IMAGES = {
    "flux-system:app": APP,
    "flux-system:pinned": setters.LatestImage("ghcr.io/org/app", "1.0.1", "sha256:" + "a" * 64),
    "flux-system:local": setters.parse_image("127.0.0.1:5000/app:1.0.1"),
    "flux-system:numeric": setters.LatestImage("ghcr.io/org/app", "1.0"),
}
M = '# {"$imagepolicy": "flux-system:app"}'
MT = '# {"$imagepolicy": "flux-system:app:tag"}'

# (case, before, after): one-line files unless the case needs more.
REWRITES = [
    ("whole image, plain", f"image: ghcr.io/org/app:1.0.0 {M}\n", f"image: ghcr.io/org/app:1.0.1 {M}\n"),
    ("tag only", f"tag: 1.0.0 {MT}\n", f"tag: 1.0.1 {MT}\n"),
    (
        "name only",
        'repository: old/app # {"$imagepolicy": "flux-system:app:name"}\n',
        'repository: ghcr.io/org/app # {"$imagepolicy": "flux-system:app:name"}\n',
    ),
    (
        "digest only",
        'digest: sha256:0 # {"$imagepolicy": "flux-system:pinned:digest"}\n',
        f'digest: sha256:{"a" * 64} # {{"$imagepolicy": "flux-system:pinned:digest"}}\n',
    ),
    (
        "whole image with digest",
        'image: x:1 # {"$imagepolicy": "flux-system:pinned"}\n',
        f'image: ghcr.io/org/app:1.0.1@sha256:{"a" * 64} # {{"$imagepolicy": "flux-system:pinned"}}\n',
    ),
    ("double quotes kept", f'image: "x:1" {M}\n', f'image: "ghcr.io/org/app:1.0.1" {M}\n'),
    ("single quotes kept", f"image: 'x:1' {M}\n", f"image: 'ghcr.io/org/app:1.0.1' {M}\n"),
    ("no space in marker", 'image: x:1 # {"$imagepolicy":"flux-system:app"}\n', None),
    ("spaces in marker", 'image: x:1 #   {  "$imagepolicy" :  "flux-system:app"  }  \n', None),
    ("several #", 'image: x:1 ## {"$imagepolicy": "flux-system:app"}\n', None),
    (
        "CRLF line ends",
        f"image: x:1 {M}\r\nother: 1\r\n",
        f"image: ghcr.io/org/app:1.0.1 {M}\r\nother: 1\r\n",
    ),
    ("wide gap and trailing spaces", f"image: x:1      {M}   \n", f"image: ghcr.io/org/app:1.0.1      {M}   \n"),
    ("sequence item", f"images:\n  - x:1 {M}\n", f"images:\n  - ghcr.io/org/app:1.0.1 {M}\n"),
    ("anchor and tag kept", f"image: &img !!str x:1 {M}\n", f"image: &img !!str ghcr.io/org/app:1.0.1 {M}\n"),
    (
        "registry with a port",
        'image: 127.0.0.1:5000/app:1.0.0 # {"$imagepolicy": "flux-system:local"}\n'
        'name: x # {"$imagepolicy": "flux-system:local:name"}\n'
        'tag: "1.0.0" # {"$imagepolicy": "flux-system:local:tag"}\n',
        'image: 127.0.0.1:5000/app:1.0.1 # {"$imagepolicy": "flux-system:local"}\n'
        'name: 127.0.0.1:5000/app # {"$imagepolicy": "flux-system:local:name"}\n'
        'tag: "1.0.1" # {"$imagepolicy": "flux-system:local:tag"}\n',
    ),
    (
        "plain tag that would read as a number is quoted (as kyaml does)",
        'tag: v1 # {"$imagepolicy": "flux-system:numeric:tag"}\n',
        'tag: "1.0" # {"$imagepolicy": "flux-system:numeric:tag"}\n',
    ),
]


def _expected(before: str, after: str | None) -> str:
    return after if after is not None else before.replace("x:1", "ghcr.io/org/app:1.0.1", 1)


@pytest.mark.parametrize(("case", "before", "after"), REWRITES, ids=[r[0] for r in REWRITES])
def test_rewrites_only_the_value(tmp_path: Path, case: str, before: str, after: str | None) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_bytes(before.encode())
    result = update.update_with_setters(tmp_path, IMAGES)
    assert path.read_bytes() == _expected(before, after).encode()
    assert [f.path for f in result.files] == ["deploy.yaml"]
    assert result.warnings == ()


NOT_MARKERS = [
    ("no marker", "image: x:1 # pinned\n"),
    ("already latest", f"image: ghcr.io/org/app:1.0.1 {M}\n"),
    ("text after the JSON", f"image: x:1 {M} please\n"),
    ("not a JSON object of strings", 'image: x:1 # {"$imagepolicy": ["flux-system:app"]}\n'),
    ("no space before #", 'image: x:1#{"$imagepolicy": "flux-system:app"}\n'),
    ("marker on a key holding a mapping", f"image: {M}\n  repository: x\n"),
    ("marker after a block scalar header", f"image: | {M}\n  x:1\n"),
    ("comment on its own line", f"{M}\nimage: x:1\n"),
]


@pytest.mark.parametrize(("case", "text"), NOT_MARKERS, ids=[n[0] for n in NOT_MARKERS])
def test_no_change_leaves_the_file_untouched(tmp_path: Path, case: str, text: str) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(text)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    result = update.update_with_setters(tmp_path, IMAGES)
    assert result.files == ()
    assert path.read_text() == text
    assert path.stat().st_mtime_ns == 1_000_000_000


DEPLOYMENT = """\
# leading comment
apiVersion: apps/v1
kind: Deployment
metadata:
    name: web   # trailing
    namespace: prod
spec:
    template:
        spec:
            containers:
                -   name: web
                    image: "ghcr.io/org/app:1.0.0" # {"$imagepolicy": "flux-system:app"}
                    ports: [{containerPort: 80}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: prod}
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: c
            image: ghcr.io/org/app:0.9 # {"$imagepolicy": "flux-system:app"}
          - name: sidecar
            image: busybox:1 # {"$imagepolicy": "flux-system:gone"}
"""


def test_multi_document_keeps_every_other_byte_and_names_objects(tmp_path: Path) -> None:
    path = tmp_path / "apps" / "web.yaml"
    path.parent.mkdir()
    path.write_text(DEPLOYMENT)
    result = update.update_with_setters(tmp_path, IMAGES)
    expected = DEPLOYMENT.replace("ghcr.io/org/app:1.0.0", "ghcr.io/org/app:1.0.1").replace(
        "ghcr.io/org/app:0.9", "ghcr.io/org/app:1.0.1"
    )
    assert path.read_text() == expected
    [file] = result.files
    assert file.path == "apps/web.yaml"
    assert [(c.line, c.old_value, c.new_value, str(c.object)) for c in file.changes] == [
        (12, "ghcr.io/org/app:1.0.0", "ghcr.io/org/app:1.0.1", "Deployment/prod/web"),
        (26, "ghcr.io/org/app:0.9", "ghcr.io/org/app:1.0.1", "CronJob/prod/nightly"),
    ]
    assert [str(w) for w in result.warnings] == ["apps/web.yaml:28: no image for policy 'flux-system:gone'"]
    assert sorted(str(o) for o in result.objects) == ["CronJob/prod/nightly", "Deployment/prod/web"]


KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deploy.yaml
images:
- name: app
  newName: replaced # {"$imagepolicy": "flux-system:app:name"}
  newTag: v1 # {"$imagepolicy": "flux-system:app:tag"}
"""

HELMRELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: app
  namespace: default
spec:
  values:
    image:
      repository: ghcr.io/org/app # {"$imagepolicy": "flux-system:app:name"}
      tag: '1.0.0' # {"$imagepolicy": "flux-system:app:tag"}
"""


@pytest.mark.parametrize(
    ("name", "before", "after", "changes"),
    [
        (
            "kustomization.yaml",
            KUSTOMIZATION,
            KUSTOMIZATION.replace("replaced", "ghcr.io/org/app").replace("v1 #", "1.0.1 #"),
            [("replaced", "ghcr.io/org/app", "name"), ("v1", "1.0.1", "tag")],
        ),
        ("Kustomization", KUSTOMIZATION, None, None),
        ("release.yml", HELMRELEASE, HELMRELEASE.replace("'1.0.0'", "'1.0.1'"), [("1.0.0", "1.0.1", "tag")]),
        ("notes.txt", HELMRELEASE, HELMRELEASE, []),
    ],
)
def test_kustomization_images_and_helm_values(
    tmp_path: Path, name: str, before: str, after: str | None, changes: list[tuple[str, str, str]] | None
) -> None:
    path = tmp_path / name
    path.write_text(before)
    result = update.update_with_setters(tmp_path, IMAGES)
    if after is None:  # Flux reads a file named 'Kustomization' too
        assert path.read_text() != before
        return
    assert path.read_text() == after
    assert [(c.old_value, c.new_value, c.part) for c in result.changes] == changes


def test_unknown_policy_is_reported_and_others_still_update() -> None:
    text = 'a: x:1 # {"$imagepolicy": "other:policy"}\nb: x:1 # {"$imagepolicy": "flux-system:app"}\n'
    rewrite = setters.apply_setters(text, IMAGES)
    assert rewrite.text.splitlines()[1].startswith("b: ghcr.io/org/app:1.0.1 ")
    assert [(w.line, w.setter) for w in rewrite.warnings] == [(1, "other:policy")]


def test_digest_marker_without_a_digest_is_reported_not_emptied() -> None:
    text = 'digest: sha256:0 # {"$imagepolicy": "flux-system:app:digest"}\n'
    rewrite = setters.apply_setters(text, IMAGES)
    assert rewrite.text == text
    assert [w.message for w in rewrite.warnings] == ["policy 'flux-system:app' has no digest"]


def test_invalid_yaml_is_skipped_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(f"a: [x:1 {M}\n")
    result = update.update_with_setters(tmp_path, IMAGES)
    assert result.files == ()
    assert "bad.yaml: skipped: not valid YAML" in str(result.warnings[0])
    with pytest.raises(InvalidObjectError):
        setters.apply_setters("a: [", IMAGES)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("app:1.0", ("app", "1.0", "")),
        ("127.0.0.1:5000/app:1.0.1", ("127.0.0.1:5000/app", "1.0.1", "")),
        ("localhost:5000/a/b:v2@sha256:abc", ("localhost:5000/a/b", "v2", "sha256:abc")),
        ("127.0.0.1:5000/app", None),
        ("app", None),
        ("app:", None),
        ("app:1@", None),
    ],
)
def test_parse_image(ref: str, expected: tuple[str, str, str] | None) -> None:
    if expected is None:
        with pytest.raises(InvalidObjectError):
            setters.parse_image(ref)
    else:
        assert setters.parse_image(ref) == setters.LatestImage(*expected)


def test_cli_updates_in_place_and_prints_changes(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.yaml"
    deploy.write_text(
        'image: 127.0.0.1:5000/app:1.0.0 # {"$imagepolicy": "apps:app"}\n'
        'sidecar: x:1 # {"$imagepolicy": "apps:missing"}\n'
    )
    result = runner.invoke(app, ["image", "update", str(tmp_path), "--set", "apps:app=127.0.0.1:5000/app:1.0.1"])
    assert result.exit_code == 0, result.output
    assert "deploy.yaml" in result.stdout
    assert "1: 127.0.0.1:5000/app:1.0.0 -> 127.0.0.1:5000/app:1.0.1" in result.stdout
    assert "apps:missing" in result.output
    assert deploy.read_text().startswith("image: 127.0.0.1:5000/app:1.0.1 #")
    again = runner.invoke(app, ["image", "update", str(tmp_path), "--set", "apps:app=127.0.0.1:5000/app:1.0.1"])
    assert again.exit_code == 0
    assert "no changes" in again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "apps/app=x:1"], "expected NS:NAME=IMAGE:TAG"),
        (["--set", "apps:app"], "expected NS:NAME=IMAGE:TAG"),
        (["--set", "apps:app=127.0.0.1:5000/app"], "has no tag"),
    ],
)
def test_cli_rejects_malformed_set(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["image", "update", str(tmp_path), *args])
    assert result.exit_code == 1
    assert message in result.output


def test_cli_missing_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["image", "update", str(tmp_path / "nope"), "--set", "a:b=x:1"])
    assert result.exit_code == 1
    assert "does not exist" in result.output
