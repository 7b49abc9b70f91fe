"""Pipelines-as-Code's trigger rules (``gitferry/pipelines/triggers.py``), as table tests."""

from __future__ import annotations

import pytest

from gitferry.errors import InvalidObjectError
from gitferry.pipelines import triggers

ON = {triggers.ON_EVENT: "[push]"}


@pytest.mark.parametrize(
    ("annotations", "branch", "runs"),
    [
        ({**ON, triggers.ON_TARGET_BRANCH: "[main]"}, "main", True),
        ({**ON, triggers.ON_TARGET_BRANCH: "[main]"}, "dev", False),
        ({**ON, triggers.ON_TARGET_BRANCH: "[main, release-*]"}, "release-1.2", True),
        ({**ON, triggers.ON_TARGET_BRANCH: "refs/heads/main"}, "main", True),
        ({triggers.ON_EVENT: "[pull_request]", triggers.ON_TARGET_BRANCH: "[main]"}, "main", False),
        ({triggers.ON_EVENT: "[pull_request, push]", triggers.ON_TARGET_BRANCH: '["main"]'}, "main", True),
        (ON, "main", False),  # no target branch: runs for none
        ({}, "main", False),
    ],
)
def test_runs_on_push(annotations: dict[str, str], branch: str, runs: bool) -> None:
    assert triggers.runs_on_push(annotations, branch) is runs


@pytest.mark.parametrize(
    ("message", "skips"),
    [("Fix [skip ci]", True), ("[CI SKIP] bump", True), ("[skip tkn] x", True), ("skip ci", False), ("", False)],
)
def test_skip_markers(message: str, skips: bool) -> None:
    assert triggers.skips_ci(message) is skips


def test_placeholders_with_a_value_are_filled_and_others_left_as_written() -> None:
    text = "url: {{ repo_url }}, rev: {{revision}}, other: {{ body.unknown }}"
    filled = triggers.fill(text, {"repo_url": "file:///r.git", "revision": "abc"})
    assert filled == "url: file:///r.git, rev: abc, other: {{ body.unknown }}"


@pytest.mark.parametrize(("value", "keep"), [(None, None), ("5", 5), (" 1 ", 1)])
def test_max_keep_runs(value: str | None, keep: int | None) -> None:
    annotations = {} if value is None else {triggers.MAX_KEEP_RUNS: value}
    assert triggers.max_keep_runs(annotations, "PipelineRun ci-*") == keep


@pytest.mark.parametrize("value", ["0", "-1", "five", ""])
def test_max_keep_runs_rejects_what_is_not_a_count(value: str) -> None:
    with pytest.raises(InvalidObjectError) as raised:
        triggers.max_keep_runs({triggers.MAX_KEEP_RUNS: value}, "PipelineRun ci-* at main@abc")
    assert f"PipelineRun ci-* at main@abc: field metadata.annotations[{triggers.MAX_KEEP_RUNS}]" in str(raised.value)
