"""The CLI as a user runs it: every verb has --help, offline build, errors with clear messages."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from gitferry.api.meta import ObjectKey
from gitferry.api.sources import parse_git_repository
from gitferry.cli.main import app
from gitferry.controllers.gitrepository import credentials_for
from gitferry.controllers.world import World
from gitferry.store.sqlite import Store
from gitferry.targets.memory import RecordingTarget

runner = CliRunner()


def _verbs(command: Any, path: list[str]) -> list[list[str]]:
    """Every command path of the CLI, read from the app itself so a new verb cannot be missed."""
    found = [path]
    for name, sub in (getattr(command, "commands", None) or {}).items():
        found += _verbs(sub, [*path, name])
    return found


VERBS = _verbs(typer.main.get_command(app), [])


def test_the_verbs_a_flux_user_expects_exist() -> None:
    expected = [
        ["get", "images", "repository"],
        ["get", "images", "policy"],
        ["get", "images", "update"],
        ["reconcile", "image", "repository"],
        ["reconcile", "image", "update"],
        ["image", "policy", "test"],
        ["image", "update"],
        ["reconcile", "source", "git"],
        ["suspend", "kustomization"],
    ]
    assert [v for v in expected if v not in VERBS] == []


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v) or "gitferry")
def test_every_verb_has_help(verb: list[str]) -> None:
    result = runner.invoke(app, [*verb, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--data-dir", str(tmp_path / "data"), *args], env={"COLUMNS": "300"})
    return result.exit_code, result.output


def test_build_renders_offline_exactly_what_would_be_applied(tmp_path: Path) -> None:
    folder = tmp_path / "apps"
    folder.mkdir()
    (folder / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  env: ${ENV}\n")
    ks_file = tmp_path / "ks.yaml"
    ks_file.write_text(
        textwrap.dedent(
            """
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata:
              name: apps
              namespace: flux-system
            spec:
              interval: 1m
              prune: true
              path: ./apps
              targetNamespace: dev
              namePrefix: my-
              sourceRef: {kind: GitRepository, name: flux-system}
              postBuild:
                substitute: {ENV: staging}
            """
        )
    )
    code, out = run(
        tmp_path, "build", "kustomization", "apps", "--path", str(folder), "--kustomization-file", str(ks_file)
    )
    assert code == 0, out
    assert "name: my-app" in out and "namespace: dev" in out and "env: staging" in out
    assert "kustomize.toolkit.fluxcd.io/name: apps" in out


def test_build_reports_a_bad_manifest_with_its_file(tmp_path: Path) -> None:
    folder = tmp_path / "apps"
    folder.mkdir()
    (folder / "bad.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: [\n")
    ks_file = tmp_path / "ks.yaml"
    ks_file.write_text(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: apps, namespace: flux-system}\n"
        "spec: {interval: 1m, prune: true, targetNamespace: dev, sourceRef: {kind: GitRepository, name: x}}\n"
    )
    code, out = run(
        tmp_path, "build", "kustomization", "apps", "--path", str(folder), "--kustomization-file", str(ks_file)
    )
    assert code == 1 and "bad.yaml" in out


def test_unknown_objects_are_named(tmp_path: Path) -> None:
    code, out = run(tmp_path, "reconcile", "kustomization", "nope")
    assert code == 1 and "Kustomization 'flux-system/nope' not found" in out
    code, out = run(tmp_path, "diff", "kustomization", "nope")
    assert code == 2 and "not found" in out
    code, out = run(tmp_path, "events", "--for", "Kustomization")
    assert code == 1 and "expected Kind/name" in out


def test_up_without_bootstrap_says_what_to_do(tmp_path: Path) -> None:
    code, out = run(tmp_path, "up", "--no-live")
    assert code == 1 and "gitferry bootstrap" in out


def test_create_secret_git_feeds_the_git_repository_credentials(tmp_path: Path) -> None:
    code, out = run(
        tmp_path, "create", "secret", "git", "repo-auth", "--username", "git", "--password-env", "NO_SUCH_VAR_X"
    )
    assert code == 1 and "NO_SUCH_VAR_X is not set" in out
    result = runner.invoke(
        app,
        [
            "--data-dir",
            str(tmp_path / "data"),
            "create",
            "secret",
            "git",
            "repo-auth",
            "--username",
            "git",
            "--password-env",
            "GIT_PASSWORD_FOR_TEST",
        ],
        env={"GIT_PASSWORD_FOR_TEST": "s3cret"},
    )
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    store = Store(tmp_path / "data" / "state.db")
    world = World(store=store, target=RecordingTarget(), data_dir=tmp_path / "data")
    repo = parse_git_repository(
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "app", "namespace": "flux-system"},
            "spec": {"url": "https://example.invalid/app.git", "interval": "1m", "secretRef": {"name": "repo-auth"}},
        }
    )
    credentials = credentials_for(repo, world)
    assert credentials is not None and (credentials.username, credentials.password) == ("git", "s3cret")
    assert store.get_object(ObjectKey("Secret", "flux-system", "repo-auth")) is not None


def test_control_socket_path_fits_a_unix_socket_for_any_data_dir(tmp_path: Path) -> None:
    from gitferry.reactor.control import socket_path

    assert socket_path(tmp_path) == tmp_path / "control.sock"
    deep = tmp_path / ("d" * 120)
    long_path = socket_path(deep)
    assert len(str(long_path)) < 108 and long_path == socket_path(deep) and long_path != socket_path(tmp_path / "e")


def test_pipelinerun_list_describe_logs_and_cancel_read_the_records(tmp_path: Path) -> None:
    from gitferry.store import runs as records

    store = records.PipelineRuns(Store(tmp_path / "data" / "state.db"))
    store.create("app-push-x1", "flux-system", "app", {}, repository="flux-system/app", revision="a" * 40)
    store.update_run("app-push-x1", records.FAILED, reason="Failed", message="task test: step unit exited with code 3",
                     started="2026-11-22T10:00:00Z", finished="2026-11-22T10:01:05Z")  # fmt: skip
    store.update_task("app-push-x1", "test", records.FAILED, message="step unit exited with code 3")
    store.update_step("app-push-x1", "test", "unit", 0, records.FAILED, exit_code=3, reason="Failed")
    store.add_log("app-push-x1", "test", "unit", ["running tests", "FAIL: test_version"])
    code, out = run(tmp_path, "pipelinerun", "list")
    assert code == 0 and "app-push-x1" in out and "aaaaaaaaaaaa" in out and "1m5s" in out and "Failed" in out
    code, out = run(tmp_path, "pipelinerun", "logs", "--last")
    assert code == 0 and "[test : unit] running tests" in out and "[test : unit] FAIL: test_version" in out
    code, out = run(tmp_path, "pipelinerun", "describe", "app-push-x1")
    assert code == 0 and "step unit exited with code 3" in out and "exit 3" in out
    code, out = run(tmp_path, "pipelinerun", "cancel", "app-push-x1")
    assert code == 1 and "has already ended: Failed" in out
    code, out = run(tmp_path, "pipelinerun", "logs", "nope")
    assert code == 1 and "PipelineRun 'nope' not found" in out
