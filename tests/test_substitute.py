"""Flux post-build substitution without I/O: expressions, typing through YAML, variable precedence."""

from __future__ import annotations

from typing import Any

import pytest

from gitferry.api import goyaml
from gitferry.api.kustomizations import SUBSTITUTE_ANNOTATION, Kustomization, parse_kustomization
from gitferry.errors import DependencyNotReadyError, RenderError
from gitferry.render.substitute import merge_variables, substitute, substitute_object

VARS = {"name": "web", "empty": "", "sha": "0123456789abcdef", "image": "ghcr.io/org/app:1.2", "file": "a.b.c"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${name}", "web"),
        ("prefix-${name}-suffix", "prefix-web-suffix"),
        ("${missing}", ""),  # not strict: unset is empty, as in Flux
        ("$${name}", "${name}"),  # escape leaves the expression literally
        ("$$name", "$name"),
        ("$$$${name}", "$${name}"),
        ("$$${name}", "$web"),
        ("$name and $", "$name and $"),  # only ${ starts an expression
        ("${missing:=fallback}", "fallback"),
        ("${empty:=fallback}", "fallback"),  # := also replaces an empty value
        ("${name:=fallback}", "web"),
        ("${missing:-fallback}", "fallback"),
        ("${missing=fallback}", "fallback"),
        ("${missing:=a b: c}", "a b: c"),
        ("${missing:=${name}-2}", "web-2"),  # nested expression in the default
        ("${missing:=}", ""),
        ("${#name}", "3"),
        ("${sha:0:7}", "0123456"),
        ("${sha:10}", "abcdef"),
        ("${sha:-4}", "0123456789abcdef"),  # :- is a default, not a negative offset
        ("${sha:x}", "0123456789abcdef"),  # an offset that is not a number leaves the value
        ("${name^}", "Web"),
        ("${name^^}", "WEB"),
        ("${image,,}", "ghcr.io/org/app:1.2"),
        ("${file/./-}", "a-b.c"),
        ("${file//./-}", "a-b-c"),
        ("${file//./}", "abc"),  # empty replacement removes; Flux needs the closing slash
        ("${file/#a./}", "a.b.c"),  # /# and /% leave the value alone without a replacement
        ("${file/#a./x.}", "x.b.c"),
        ("${file/%.c/.d}", "a.b.d"),
        ("${image/\\/org\\//\\/team\\/}", "ghcr.io/team/app:1.2"),  # \/ escapes a slash
        ("${image%:*}", "ghcr.io/org/app"),
        ("${image##*/}", "org/app:1.2"),  # Go's path.Match: * does not cross a slash
        ("${file#*.}", "b.c"),
        ("${file##*.}", "c"),  # longest prefix matching *. is "a.b."
        ("${file%.*}", "a.b"),
        ("${file%%.*}", "a"),
        ("line1: ${name}\nline2: |\n  ${name:=x} ${missing}\n", "line1: web\nline2: |\n  web \n"),
    ],
)
def test_substitute_expressions(text: str, expected: str) -> None:
    assert substitute(text, VARS, strict=False, origin="test") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("${missing:=d}", "d"), ("${missing:-d}", "d"), ("${name}", "web"), ("$${missing}", "${missing}")],
)
def test_strict_allows_defaults_and_escapes(text: str, expected: str) -> None:
    assert substitute(text, VARS, strict=True, origin="test") == expected


@pytest.mark.parametrize("text", ["${missing}", "a ${#missing}", "${missing^^}", "${missing:0:1}"])
def test_strict_unset_variable_is_an_error_naming_it(text: str) -> None:
    with pytest.raises(RenderError, match=r"Deployment web in apps/a.yaml: variable 'missing' is not set"):
        substitute(text, VARS, strict=True, origin="Deployment web in apps/a.yaml")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("${foo bar}", "missing closing brace"),
        ("${foo-bar}", "missing closing brace"),  # Flux's envsubst has no ${var-default}
        ("${}", "unable to parse variable name"),
        ("x ${", "unable to parse variable name"),
        ("${name", "missing closing brace"),
        ("${name:=abc", "missing closing brace"),
        ("${name:}", "unable to parse substitution within function"),
        ("${name/x}", "bad substitution"),
    ],
)
def test_syntax_errors_name_the_expression(text: str, reason: str) -> None:
    with pytest.raises(RenderError, match=reason) as caught:
        substitute(text, VARS, strict=False, origin="ConfigMap c in a.yaml")
    assert "ConfigMap c in a.yaml" in str(caught.value)


@pytest.mark.parametrize("name", ["my-var", "1abc", "a.b", ""])
def test_invalid_variable_names_are_rejected(name: str) -> None:
    with pytest.raises(RenderError, match="is invalid"):
        substitute("${x}", {name: "v"}, strict=False, origin="o")


def _deployment(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec}


@pytest.mark.parametrize(
    ("spec", "variables", "expected"),
    [
        # Flux substitutes after a JSON round trip: numbers and booleans take their YAML type...
        ({"replicas": "${R}"}, {"R": "3"}, {"replicas": 3}),
        ({"port": "${P}"}, {"P": "8080"}, {"port": 8080}),
        ({"on": "${E}"}, {"E": "true"}, {"on": True}),
        ({"on": "${E}"}, {"E": "yes"}, {"on": True}),  # YAML 1.1, as Go reads it
        ({"mode": "${M}"}, {"M": "0644"}, {"mode": 420}),  # octal, as Go reads it
        ({"ratio": "${F}"}, {"F": "1.5"}, {"ratio": 1.5}),
        # ...unless wrapped in a quote variable, the workaround Flux documents
        ({"id": "${q}${id}${q}"}, {"q": '"', "id": "123"}, {"id": "123"}),
        ({"id": "v${id}"}, {"id": "123"}, {"id": "v123"}),
        ({"s": "${S}"}, {"S": "1:20"}, {"s": "1:20"}),
        # values that are not substituted keep their type
        (
            {"flag": "yes", "mode": "0755", "n": 2, "none": None, "r": "${R}"},
            {"R": "1"},
            {"flag": "yes", "mode": "0755", "n": 2, "none": None, "r": 1},
        ),
        ({"script": "echo ${NAME}\necho $${HOME}\n"}, {"NAME": "x"}, {"script": "echo x\necho ${HOME}\n"}),
        ({"list": ["${A}", {"k": "${A:=z}-${B:=d}"}]}, {"A": "a"}, {"list": ["a", {"k": "a-d"}]}),
    ],
)
def test_substitute_object_types(spec: dict[str, Any], variables: dict[str, str], expected: dict[str, Any]) -> None:
    result = substitute_object(_deployment(**spec), variables, strict=False, origin="apps/web.yaml")
    assert result["spec"] == expected


@pytest.mark.parametrize("field", ["annotations", "labels"])
def test_substitute_disabled_by_annotation_or_label(field: str) -> None:
    obj = _deployment(replicas="${R}")
    obj["metadata"][field] = {SUBSTITUTE_ANNOTATION: "disabled"}
    assert substitute_object(obj, {"R": "3"}, strict=True, origin="apps/web.yaml") is obj


def test_substitute_object_strict_error_names_variable_object_and_file() -> None:
    with pytest.raises(RenderError, match=r"Deployment/web in apps/web.yaml: variable 'R' is not set"):
        substitute_object(_deployment(replicas="${R}"), {"X": "1"}, strict=True, origin="apps/web.yaml")


def test_substitution_that_breaks_yaml_is_an_error() -> None:
    with pytest.raises(
        RenderError, match=r"Deployment/web in apps/web\.yaml: the substituted object is not valid YAML"
    ):
        substitute_object(_deployment(name="${V}"), {"V": "a: b: c"}, strict=False, origin="apps/web.yaml")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1), ("-1", -1), ("+1", 1), ("0755", 493), ("0o17", 15), ("0x1F", 31), ("0b101", 5), ("1_000", 1000),
        ("08", 8), ("1e3", 1000), ("1.5", 1.5), (".5", 0.5), ("1.0", 1), ("yes", True), ("Off", False),
        ("y", True), ("N", False), ("~", None), ("null", None), ("", None), ("1:20", "1:20"),
        ("2001-12-14", "2001-12-14"), ("v1", "v1"), ("-", "-"), ("${x}", "${x}"),
    ],
)  # fmt: skip
def test_plain_scalars_are_typed_as_go_yaml_v2(text: str, value: Any) -> None:
    assert goyaml.go_scalar(text) == value
    assert type(goyaml.go_scalar(text)) is type(value)


@pytest.mark.parametrize("value", ["yes", "0755", "1_000", "y", "", "1.0", "null", "a: b", "multi\nline\n", "${x}"])
def test_strings_survive_a_dump_and_load(value: str) -> None:
    assert goyaml.load(goyaml.dump({"k": value})) == [{"k": value}]


def _kustomization(post_build: dict[str, Any] | None) -> Kustomization:
    spec: dict[str, Any] = {"interval": "1m", "prune": True, "sourceRef": {"kind": "GitRepository", "name": "s"}}
    if post_build is not None:
        spec["postBuild"] = post_build
    return parse_kustomization({"metadata": {"name": "apps", "namespace": "flux-system"}, "spec": spec})


def test_merge_variables_precedence() -> None:
    ks = _kustomization(
        {
            "substitute": {"a": "inline", "multi": "x\ny"},
            "substituteFrom": [
                {"kind": "ConfigMap", "name": "first"},
                {"kind": "Secret", "name": "second"},
                {"kind": "ConfigMap", "name": "absent", "optional": True},
            ],
        }
    )
    lookups = {
        ("ConfigMap", "first"): {"a": "cm", "b": "cm", "c": "cm"},
        ("Secret", "second"): {"b": "secret", "d": "line1\nline2\n"},
        ("ConfigMap", "absent"): None,
    }
    # substituteFrom in order (later wins), then the inline substitute map overrides; newlines go
    assert merge_variables(ks, lookups) == {"a": "inline", "b": "secret", "c": "cm", "d": "line1line2", "multi": "xy"}


@pytest.mark.parametrize("lookups", [{}, {("Secret", "creds"): None}, {("ConfigMap", "creds"): {"a": "b"}}])
def test_merge_variables_missing_reference_is_an_error(lookups: dict[tuple[str, str], dict[str, str] | None]) -> None:
    ks = _kustomization(
        {
            "substituteFrom": [
                {"kind": "ConfigMap", "name": "vars", "optional": True},
                {"kind": "Secret", "name": "creds"},
            ]
        }
    )
    expected = r"spec\.postBuild\.substituteFrom\[1\]: Secret flux-system/creds"
    with pytest.raises(DependencyNotReadyError, match=expected):
        merge_variables(ks, lookups)


def test_merge_variables_without_post_build() -> None:
    assert merge_variables(_kustomization(None), {}) == {}
