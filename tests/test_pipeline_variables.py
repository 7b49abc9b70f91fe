"""Tekton ``$(...)`` substitution without I/O: every reference form, whole-array items, errors, shell text."""

from __future__ import annotations

from typing import Any

import pytest

from gitferry.errors import InvalidObjectError
from gitferry.pipelines.variables import (
    Reference,
    SubstitutionError,
    Value,
    key,
    missing_references,
    references,
    substitute,
    substitute_list,
    substitute_tree,
    substitute_value,
    tree_references,
)

VALUES: dict[str, Value] = {
    "params.name": "web",
    "params.image-tag": "1.2",
    "params.flags": ["--verbose", "--color=never"],
    "params.empty": [],
    "params.git": {"url": "https://example.com/a.git", "revision": "main"},
    'params["org.example.name"]': "dotted",
    "params.recurse": "$(params.name)",
    "context.pipelineRun.name": "build-x7k2p",
    "context.pipelineRun.uid": "5b7c",
    "context.taskRun.name": "build-x7k2p-compile",
    "context.task.name": "compile",
    "workspaces.source.path": "/workspace/source",
    "results.digest.path": "/tekton/results/digest",
    "tasks.build.results.digest": "sha256:abc",
    "tasks.build.results.tags": ["latest", "1.2"],
    "tasks.build.results.image": {"url": "registry/app", "digest": "sha256:abc"},
    "tasks.status": "Succeeded",
    "tasks.build.status": "Failed",
    "steps.step-compile.exitCode.path": "/tekton/steps/step-compile/exitCode",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(params.name)", "web"),
        ('$(params["name"])', "web"),
        ("$(params['name'])", "web"),
        ("$(params.image-tag)", "1.2"),
        ("app:$(params.image-tag)-$(params.name)", "app:1.2-web"),
        ("$(params.git.url)", "https://example.com/a.git"),
        ('$(params["git"].revision)', "main"),  # Tekton itself only substitutes the dotted form
        ("$(params.flags[0]) $(params.flags[1])", "--verbose --color=never"),
        ('$(params["flags"][1])', "--color=never"),
        ("$(params['flags'][0])", "--verbose"),
        ('$(params["org.example.name"])', "dotted"),
        ("$(params.org.example.name)", "dotted"),  # Tekton's params.%s pattern reaches dotted names too
        ("$(context.pipelineRun.name)/$(context.pipelineRun.uid)", "build-x7k2p/5b7c"),
        ("$(context.taskRun.name) $(context.task.name)", "build-x7k2p-compile compile"),
        ("cd $(workspaces.source.path)", "cd /workspace/source"),
        ("> $(results.digest.path)", "> /tekton/results/digest"),
        ('> $(results["digest"].path)', "> /tekton/results/digest"),
        ("$(tasks.build.results.digest)", "sha256:abc"),
        ('$(tasks.build.results["digest"])', "sha256:abc"),
        ("$(tasks.build.results.tags[1])", "1.2"),
        ("$(tasks.build.results.image.url)@$(tasks.build.results.image.digest)", "registry/app@sha256:abc"),
        ('$(tasks.build.results["image"][url])', "registry/app"),  # Tekton's bracketed object key form
        ("$(tasks.status) $(tasks.build.status)", "Succeeded Failed"),
        ("cat $(steps.step-compile.exitCode.path)", "cat /tekton/steps/step-compile/exitCode"),
        ("$(params.recurse)", "$(params.name)"),  # one pass: a value is not substituted again
        ("$$(params.name)", "$web"),  # no escape in Tekton: $(params.name) inside is still replaced
    ],
)
def test_substitute_forms(text: str, expected: str) -> None:
    assert substitute(text, VALUES) == expected


@pytest.mark.parametrize(
    "text",
    [
        "echo $(date) $(git rev-parse HEAD)",
        "echo $$ $$$ $((1 + 2)) ${HOME} $HOME $( params.name )",
        "$(params.unknown) $(tasks.other.results.x) $(context.pipeline.name) $(params.unknown[*])",
        "$(params.name",
        "$params.name",
        "",
    ],
)
def test_unknown_references_and_shell_text_are_left_as_written(text: str) -> None:
    assert substitute(text, VALUES) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("--flags=$(params.flags[*])", r"\$\(params.flags\[\*\]\): a whole array or object can only be a whole list"),
        ("$(params.flags[*]) and more", r"params.flags\[\*\]"),
        ("x $(tasks.build.results.tags[*])", r"tasks.build.results.tags\[\*\].*whole list item"),
        ("$(params.git[*])", r"params.git\[\*\].*whole list item"),  # an object is whole only as a param value
        ("$(params.flags[2])", r"\$\(params.flags\[2\]\): index 2 is out of range of an array of 2"),
        ("$(params.empty[0])", r"index 0 is out of range of an array of 0"),
        (
            "$(params.git.branch)",
            r"\$\(params.git.branch\): the object has no key 'branch' \(its keys: revision, url\)",
        ),
        ("$(tasks.build.results.image.size)", r"has no key 'size'"),
        ("$(params.flags)", r"\$\(params.flags\): is an array"),
        ("$(params.git)", r"\$\(params.git\): is an object; reference one of its keys"),
        ("$(params.name[0])", r"\$\(params.name\[0\]\): is a string"),
        ("$(params.name[*])", r"is a string"),
        ("$(params.git[0])", r"is an object; only arrays take an index"),
    ],
)
def test_substitute_errors_name_the_reference(text: str, message: str) -> None:
    with pytest.raises(SubstitutionError, match=message):
        substitute(text, VALUES)


def test_substitution_error_is_an_invalid_object() -> None:
    assert issubclass(SubstitutionError, InvalidObjectError)


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["--flag", "$(params.flags[*])"], ["--flag", "--verbose", "--color=never"]),
        (['$(params["flags"][*])', "x"], ["--verbose", "--color=never", "x"]),
        (["$(params.flags)"], ["--verbose", "--color=never"]),  # a bare whole array expands too, as in Tekton
        (["a", "$(params.empty[*])", "b"], ["a", "b"]),  # an empty array removes the item
        (["$(tasks.build.results.tags[*])"], ["latest", "1.2"]),
        (["$(params.flags[0])", "tag=$(params.image-tag)"], ["--verbose", "tag=1.2"]),
        (["$(params.unknown[*])", "$(date)"], ["$(params.unknown[*])", "$(date)"]),
        ([], []),
    ],
)
def test_substitute_list_expands_whole_items(items: list[str], expected: list[str]) -> None:
    assert substitute_list(items, VALUES) == expected


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["$(params.git[*])"], r"\$\(params.git\[\*\]\): an object cannot be expanded into list items"),
        (["--x=$(params.flags[*])"], r"whole list item"),
        (["$(params.flags[9])"], r"out of range"),
    ],
)
def test_substitute_list_errors(items: list[str], message: str) -> None:
    with pytest.raises(SubstitutionError, match=message):
        substitute_list(items, VALUES)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$(params.name)", "web"),
        ("$(params.flags[*])", ["--verbose", "--color=never"]),  # a string param value becomes an array
        ("$(params.flags)", ["--verbose", "--color=never"]),
        ("$(params.git[*])", {"url": "https://example.com/a.git", "revision": "main"}),  # ... or an object
        ("$(tasks.build.results.image[*])", {"url": "registry/app", "digest": "sha256:abc"}),
        ("$(params.flags[1])", "--color=never"),
        (["$(params.flags[*])", "$(params.name)"], ["--verbose", "--color=never", "web"]),
        (
            {"url": "$(params.git.url)", "rev": "$(params.git.revision)"},
            {"url": "https://example.com/a.git", "rev": "main"},
        ),
        ("$(params.unknown[*])", "$(params.unknown[*])"),
    ],
)
def test_substitute_value_takes_the_type_of_a_whole_reference(value: Value, expected: Value) -> None:
    assert substitute_value(value, VALUES) == expected


def test_substitute_value_copies_arrays_and_objects() -> None:
    result = substitute_value("$(params.flags[*])", VALUES)
    assert isinstance(result, list)
    result.append("changed")
    assert VALUES["params.flags"] == ["--verbose", "--color=never"]


def test_substitute_tree_walks_nested_dicts_and_lists() -> None:
    tree: dict[str, Any] = {
        "metadata": {"$(params.name)": "key stays", "labels": {"app": "$(params.name)"}},
        "items": ["$(params.flags[*])", {"deep": ["$(params.name)", 3, None, True]}],
        "count": 2,
        "tuple": ("$(params.image-tag)",),
    }
    assert substitute_tree(tree, VALUES) == {
        "metadata": {"$(params.name)": "key stays", "labels": {"app": "web"}},
        "items": ["--verbose", "--color=never", {"deep": ["web", 3, None, True]}],
        "count": 2,
        "tuple": ["1.2"],
    }
    assert tree["items"][0] == "$(params.flags[*])"  # the input is not changed


def test_substitute_tree_raises_for_an_array_in_a_plain_field() -> None:
    with pytest.raises(SubstitutionError, match=r"\$\(params.flags\[\*\]\)"):
        substitute_tree({"image": "$(params.flags[*])"}, VALUES)


def test_realistic_task_step() -> None:
    step: dict[str, Any] = {
        "name": "build",
        "image": "golang:$(params.image-tag)",
        "workingDir": "$(workspaces.source.path)",
        "env": [{"name": "RUN", "value": "$(context.taskRun.name)"}],
        "args": ["-o", "/out/$(params.name)", "$(params.flags[*])"],
        "script": (
            "#!/bin/sh\n"
            "set -e\n"
            'echo "built at $(date +%s) in $PWD by ${USER:-me}"\n'
            "go build $@\n"
            'printf "%s" "$(sha256sum /out/$(params.name) | cut -d" " -f1)" > $(results.digest.path)\n'
        ),
    }
    assert substitute_tree(step, VALUES) == {
        "name": "build",
        "image": "golang:1.2",
        "workingDir": "/workspace/source",
        "env": [{"name": "RUN", "value": "build-x7k2p-compile"}],
        "args": ["-o", "/out/web", "--verbose", "--color=never"],
        "script": (
            "#!/bin/sh\n"
            "set -e\n"
            'echo "built at $(date +%s) in $PWD by ${USER:-me}"\n'
            "go build $@\n"
            'printf "%s" "$(sha256sum /out/web | cut -d" " -f1)" > /tekton/results/digest\n'
        ),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(params.name)", [Reference("$(params.name)", ("params", "name"))]),
        ('$(params["a.b"])', [Reference('$(params["a.b"])', ("params", "a.b"))]),
        ("$(params.arr[3])", [Reference("$(params.arr[3])", ("params", "arr"), index=3)]),
        ("$(params.arr[*])", [Reference("$(params.arr[*])", ("params", "arr"), star=True)]),
        (
            "$(tasks.build.results.image.url) $(tasks.x.results.tags[*])",
            [
                Reference("$(tasks.build.results.image.url)", ("tasks", "build", "results", "image", "url")),
                Reference("$(tasks.x.results.tags[*])", ("tasks", "x", "results", "tags"), star=True),
            ],
        ),
        ("$(date)", [Reference("$(date)", ("date",))]),
        ("$(cat $(params.f))", [Reference("$(params.f)", ("params", "f"))]),
        ("$((1+2)) $(echo hi) $(params.)", []),
    ],
)
def test_references(text: str, expected: list[Reference]) -> None:
    assert references(text) == expected


def test_reference_parts() -> None:
    [ref] = references('$(tasks.build.results["org.digest"])')
    assert (ref.prefix, ref.name, ref.key) == ("tasks", "build", 'tasks.build.results["org.digest"]')
    assert references("$(tasks.status)")[0].name == "status"
    assert references("$(date)")[0].name == ""


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("params", "name"), "params.name"),
        (("params", "org.example.name"), 'params["org.example.name"]'),
        (("tasks", "build", "results", "digest"), "tasks.build.results.digest"),
    ],
)
def test_key(names: tuple[str, ...], expected: str) -> None:
    assert key(*names) == expected
    assert substitute(f"$({expected})", {expected: "v"}) == "v"


def test_values_keys_may_be_written_in_any_accepted_form() -> None:
    assert substitute("$(params.name) $(params.b)", {"params['name']": "n", 'params["b"]': "b"}) == "n b"


def test_a_values_key_that_is_not_a_name_is_refused() -> None:
    with pytest.raises(ValueError, match="not a variable name"):
        substitute("x", {"params.a[0]": "v"})


def test_missing_references_only_under_declared_prefixes() -> None:
    spec = {
        "steps": [
            {
                "image": "$(params.image)",
                "args": ["$(params.name)", "$(params.flags[5])", "$(params.git.branch)", "$(params.image)"],
                "script": "echo $(date) $(context.taskRun.name) $(context.taskRun.namespace) $(workspaces.cache.path)",
            }
        ]
    }
    missing = missing_references(spec, VALUES, {"params", "context", "workspaces"})
    assert [r.text for r in missing] == [
        "$(params.image)",
        "$(params.flags[5])",
        "$(params.git.branch)",
        "$(context.taskRun.namespace)",
        "$(workspaces.cache.path)",
    ]
    assert missing_references(spec, VALUES, {"results"}) == []


def test_tree_references_reads_values_not_keys() -> None:
    refs = tree_references({"$(params.key)": ["$(params.a)", {"b": "$(params.b) $(params.c)"}], "n": 1})
    assert [r.name for r in refs] == ["a", "b", "c"]
