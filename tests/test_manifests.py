"""Manifests are read and written with Go's YAML typing, as kustomize, Flux and podman read them."""

from __future__ import annotations

import pytest

from gitferry.api.manifests import dump_documents, load_documents, parse_manifests
from gitferry.errors import InvalidObjectError


def test_strings_that_go_would_read_as_other_types_are_quoted() -> None:
    text = dump_documents([{"data": {"flag": "on", "answer": "yes", "mode": "0755", "port": 8080, "n": "x"}}])
    assert 'flag: "on"' in text and 'answer: "yes"' in text and 'mode: "0755"' in text
    assert "port: 8080" in text and '"n": x' in text
    assert load_documents(text, "x.yaml") == [
        {"data": {"flag": "on", "answer": "yes", "mode": "0755", "port": 8080, "n": "x"}}
    ]


def test_plain_scalars_are_typed_as_go_types_them() -> None:
    [doc] = load_documents("a: on\nb: 0755\nc: 1.0\nd: 2026-01-01\n", "x.yaml")
    assert doc == {"a": True, "b": 493, "c": 1, "d": "2026-01-01"}


def test_documents_are_separated_and_lists_unpacked() -> None:
    text = "kind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n---\n---\n" + dump_documents(
        [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}]
    )
    assert [m.key.name for m in parse_manifests(text, "x.yaml")] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [\n", r"malformed YAML in apps/x\.yaml line 2"),
        ("- 1\n", r"apps/x\.yaml document 1: expected a mapping, got list"),
        ("apiVersion: v1\nmetadata: {name: a}\n", r"object a in apps/x\.yaml: field kind is required"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", r"field metadata\.name is required"),
    ],
)
def test_bad_documents_name_the_file_and_the_field(text: str, message: str) -> None:
    with pytest.raises(InvalidObjectError, match=message):
        parse_manifests(text, "apps/x.yaml")
