"""Tekton steps in real podman containers: scripts, command and args, env, workingDir, mounts, logs,
failures, timeouts, cancellation and cleanup.

Every container made here carries a label unique to the test; the ``labels`` fixture removes
whatever is left of them afterwards. The last tests cover ``process.stream`` with plain processes.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitferry import process
from gitferry.errors import CommandError, PodmanError
from gitferry.pipelines import containers
from gitferry.pipelines.containers import Mount, StepOutcome, StepSpec

LABEL = "gitferry.test"


@pytest.fixture
def labels(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    mine = {LABEL: "s" + format(abs(hash(request.node.nodeid)) % 10**8, "08d")}
    yield mine
    asyncio.run(containers.remove_containers(mine))


def container_names(labels: dict[str, str]) -> list[str]:
    filters = [f"--filter=label={k}={v}" for k, v in labels.items()]
    out = subprocess.run(["podman", "ps", "-a", *filters, "--format", "{{.Names}}"], capture_output=True, text=True)
    return out.stdout.split()


def run(
    spec: StepSpec, tmp_path: Path, labels: dict[str, str], name: str | None = None, **kwargs: Any
) -> tuple[StepOutcome, list[str]]:
    lines: list[str] = []
    outcome = asyncio.run(
        containers.run_step(
            spec,
            container_name=name or f"gf-{labels[LABEL]}-{spec.name}",
            on_line=lines.append,
            scratch=tmp_path / "scratch",
            labels=labels,
            **kwargs,
        )
    )
    return outcome, lines


# Pure: what Tekton writes for a script, and the podman command line.


@pytest.mark.parametrize(
    ("script", "written"),
    [
        ("echo hi\n", "#!/bin/sh\nset -e\necho hi\n"),
        ("#!/bin/sh\necho hi\n", "#!/bin/sh\necho hi\n"),
        ("\n  #!/usr/bin/env python3\nprint(1)\n", "#!/usr/bin/env python3\nprint(1)\n"),
        ("# a comment, no shebang\necho hi", "#!/bin/sh\nset -e\n# a comment, no shebang\necho hi"),
    ],
)
def test_script_text_adds_tektons_preamble_only_without_a_shebang(script: str, written: str) -> None:
    assert containers.script_text(script) == written


def test_run_argv_maps_every_field() -> None:
    spec = StepSpec(
        name="build",
        image="img:1",
        command=("/bin/make", "-j2"),
        args=("all",),
        env={"A": "1 2"},
        working_dir="/ws/src",
        mounts=(Mount(Path("/h/ws"), "/ws"), Mount(Path("/h/res"), "/tekton/results", read_only=True)),
    )
    argv = containers.run_argv(
        spec, container_name="gf-r-t-build", labels={"k": "v"}, script_file=None, tls_verify=False
    )
    assert argv == [
        "podman", "run", "--rm", "--name", "gf-r-t-build", "--network=host", "--tls-verify=false",
        "--label", "k=v", "--env", "A=1 2", "--volume", "/h/ws:/ws", "--volume", "/h/res:/tekton/results:ro",
        "--workdir", "/ws/src", "--entrypoint", '["/bin/make", "-j2"]', "img:1", "all",
    ]  # fmt: skip


def test_run_argv_runs_a_script_as_entrypoint_with_args_as_its_arguments() -> None:
    spec = StepSpec(name="s", image="img:1", script="echo", args=("x",))
    argv = containers.run_argv(spec, container_name="c", labels={}, script_file=Path("/scratch/c"), tls_verify=True)
    script = ["--volume", "/scratch/c:/tekton/scripts/s:ro", "--entrypoint", '["/tekton/scripts/s"]']
    assert argv[-6:] == [*script, "img:1", "x"]


# Real podman.


@pytest.mark.podman
def test_script_without_shebang_stops_at_the_first_failing_command(
    busybox_image: str, tmp_path: Path, labels: dict[str, str]
) -> None:
    spec = StepSpec(name="sete", image=busybox_image, script="echo one\nfalse\necho two\n")
    outcome, lines = run(spec, tmp_path, labels)
    assert (outcome.reason, outcome.exit_code, lines) == ("Failed", 1, ["one"])
    assert outcome.message == "step sete exited with code 1"


@pytest.mark.podman
def test_script_with_shebang_runs_as_written_and_gets_the_args(
    busybox_image: str, tmp_path: Path, labels: dict[str, str]
) -> None:
    script = "#!/bin/sh\necho one\nfalse\necho two $1 $2\n"
    outcome, lines = run(StepSpec(name="bang", image=busybox_image, script=script, args=("a", "b c")), tmp_path, labels)
    assert (outcome.reason, outcome.exit_code, lines) == ("Completed", 0, ["one", "two a b c"])
    assert outcome.succeeded and outcome.started <= outcome.finished


@pytest.mark.podman
def test_command_replaces_entrypoint_and_args_the_cmd(
    busybox_image: str, tmp_path: Path, labels: dict[str, str]
) -> None:
    spec = StepSpec(name="cmd", image=busybox_image, command=("/bin/echo", "from-command"), args=("from-args",))
    assert run(spec, tmp_path, labels)[1] == ["from-command from-args"]
    only_args = StepSpec(name="args", image=busybox_image, args=("echo", "args", "alone"))
    assert run(only_args, tmp_path, labels)[1] == ["args alone"]


@pytest.mark.podman
def test_env_reaches_the_step(busybox_image: str, tmp_path: Path, labels: dict[str, str]) -> None:
    spec = StepSpec(
        name="env", image=busybox_image, script='echo "$GREETING|$EMPTY|"', env={"GREETING": "hi there", "EMPTY": ""}
    )
    assert run(spec, tmp_path, labels)[1] == ["hi there||"]


@pytest.mark.podman
@pytest.mark.parametrize("working_dir", ["/etc", "/not/in/image", "/ws/made/by/runtime"])
def test_working_dir_is_used_and_made_when_missing(
    busybox_image: str, tmp_path: Path, labels: dict[str, str], working_dir: str
) -> None:
    (tmp_path / "ws").mkdir()
    spec = StepSpec(
        name="wd",
        image=busybox_image,
        script="pwd\ntouch here",
        working_dir=working_dir,
        mounts=(Mount(tmp_path / "ws", "/ws"),),
    )
    outcome, lines = run(spec, tmp_path, labels)
    assert (outcome.reason, lines) == ("Completed", [working_dir])
    if working_dir.startswith("/ws/"):
        assert (tmp_path / "ws/made/by/runtime/here").exists()


@pytest.mark.podman
def test_a_workspace_written_by_one_step_is_read_by_the_next_and_results_land_on_the_host(
    busybox_image: str, tmp_path: Path, labels: dict[str, str]
) -> None:
    workspace, results = tmp_path / "source", tmp_path / "results"
    workspace.mkdir()
    results.mkdir()
    mounts = (Mount(workspace, "/workspace/source"), Mount(results, "/tekton/results"))
    write = StepSpec(name="write", image=busybox_image, script="echo v1 > /workspace/source/version", mounts=mounts)
    read = StepSpec(
        name="read",
        image=busybox_image,
        script="cat version\nprintf sha256:abc > /tekton/results/digest",
        working_dir="/workspace/source",
        mounts=mounts,
    )
    assert run(write, tmp_path, labels)[0].succeeded
    assert run(read, tmp_path, labels)[1] == ["v1"]
    assert (results / "digest").read_text() == "sha256:abc"


@pytest.mark.podman
def test_a_read_only_mount_cannot_be_written(busybox_image: str, tmp_path: Path, labels: dict[str, str]) -> None:
    spec = StepSpec(
        name="ro", image=busybox_image, script="touch /in/x", mounts=(Mount(tmp_path, "/in", read_only=True),)
    )
    assert run(spec, tmp_path, labels)[0].reason == "Failed"
    assert not (tmp_path / "x").exists()


@pytest.mark.podman
def test_lines_stream_in_order_while_the_step_runs(busybox_image: str, tmp_path: Path, labels: dict[str, str]) -> None:
    arrived: list[tuple[float, str]] = []
    spec = StepSpec(
        name="log",
        image=busybox_image,
        script="echo first\necho to-stderr >&2\nsleep 1\nfor i in $(seq 1 300); do echo line-$i; done",
    )
    outcome = asyncio.run(
        containers.run_step(
            spec,
            container_name=f"gf-{labels[LABEL]}-log",
            on_line=lambda line: arrived.append((time.time(), line)),
            scratch=tmp_path,
            labels=labels,
        )
    )
    assert outcome.succeeded
    lines = [line for _, line in arrived]
    assert lines == ["first", "to-stderr", *[f"line-{i}" for i in range(1, 301)]]
    assert arrived[0][0] < outcome.finished - 0.8, "the first line came only at the end"


@pytest.mark.podman
def test_non_zero_exit_is_failed_with_its_code(busybox_image: str, tmp_path: Path, labels: dict[str, str]) -> None:
    outcome, _ = run(StepSpec(name="three", image=busybox_image, command=("sh", "-c", "exit 3")), tmp_path, labels)
    assert (outcome.reason, outcome.exit_code, outcome.message) == ("Failed", 3, "step three exited with code 3")


@pytest.mark.podman
def test_a_command_that_is_not_there_fails_to_start(busybox_image: str, tmp_path: Path, labels: dict[str, str]) -> None:
    outcome, _ = run(StepSpec(name="nocmd", image=busybox_image, command=("/no/such/tool",)), tmp_path, labels)
    assert (outcome.reason, outcome.exit_code) == ("StartFailed", None)
    assert outcome.message.startswith("step nocmd: podman could not start it: ")
    assert "/no/such/tool" in outcome.message


@pytest.mark.podman
def test_timeout_kills_the_container_and_leaves_none(
    busybox_image: str, tmp_path: Path, labels: dict[str, str]
) -> None:
    started = time.monotonic()
    spec = StepSpec(name="slow", image=busybox_image, script="echo started\nsleep 60", timeout=1.0)
    outcome, lines = run(spec, tmp_path, labels)
    assert (outcome.reason, outcome.exit_code, outcome.message) == ("TimedOut", None, "step slow timed out after 1s")
    assert lines == ["started"]
    assert time.monotonic() - started < 10
    assert container_names(labels) == []


@pytest.mark.podman
def test_cancel_ends_the_step(busybox_image: str, tmp_path: Path, labels: dict[str, str]) -> None:
    async def scenario() -> StepOutcome:
        cancel = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, cancel.set)
        spec = StepSpec(name="long", image=busybox_image, command=("sleep", "60"))
        return await containers.run_step(
            spec, container_name=f"gf-{labels[LABEL]}-c", on_line=print, scratch=tmp_path, labels=labels, cancel=cancel
        )

    started = time.monotonic()
    outcome = asyncio.run(scenario())
    assert (outcome.reason, outcome.exit_code) == ("Cancelled", None)
    assert outcome.message.startswith("step long was cancelled after 0.")
    assert time.monotonic() - started < 10
    assert container_names(labels) == []


@pytest.mark.podman
def test_cancelling_the_calling_task_removes_the_container(
    busybox_image: str, tmp_path: Path, labels: dict[str, str]
) -> None:
    async def scenario() -> None:
        spec = StepSpec(name="abandoned", image=busybox_image, command=("sleep", "60"))
        task = asyncio.create_task(
            containers.run_step(
                spec, container_name=f"gf-{labels[LABEL]}-a", on_line=print, scratch=tmp_path, labels=labels
            )
        )
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert container_names(labels) == []


@pytest.mark.podman
def test_a_failing_line_handler_propagates_and_leaves_no_container(
    busybox_image: str, tmp_path: Path, labels: dict[str, str]
) -> None:
    def broken(line: str) -> None:
        raise RuntimeError(f"cannot store {line}")

    spec = StepSpec(name="logfail", image=busybox_image, script="echo hello\nsleep 60")
    with pytest.raises(RuntimeError, match="cannot store hello"):
        asyncio.run(
            containers.run_step(
                spec, container_name=f"gf-{labels[LABEL]}-l", on_line=broken, scratch=tmp_path, labels=labels
            )
        )
    assert container_names(labels) == []


@pytest.mark.podman
def test_missing_image_is_image_not_found_naming_step_and_image(tmp_path: Path, labels: dict[str, str]) -> None:
    spec = StepSpec(name="fetch", image="localhost/gitferry-test/no-such-image:0", command=("true",))
    outcome, lines = run(spec, tmp_path, labels)
    assert (outcome.reason, outcome.exit_code, lines) == ("ImageNotFound", None, [])
    assert outcome.message.startswith(
        "step fetch: image localhost/gitferry-test/no-such-image:0 is not in local storage"
    )
    assert "\n" not in outcome.message


@pytest.mark.podman
def test_ensure_image_asks_podman_once_per_image(busybox_image: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real_run = process.run

    async def counting_run(argv: Any, **kwargs: Any) -> process.Completed:
        calls.append(list(argv))
        return await real_run(argv, **kwargs)

    monkeypatch.setattr(containers, "_present_images", set())
    monkeypatch.setattr(process, "run", counting_run)

    async def twice() -> None:
        await containers.ensure_image(busybox_image, tls_verify=True)
        await containers.ensure_image(busybox_image, tls_verify=True)

    asyncio.run(twice())
    assert calls == [["podman", "image", "exists", busybox_image]]
    with pytest.raises(PodmanError, match="image localhost/gitferry-test/absent:1 is not in local storage"):
        asyncio.run(containers.ensure_image("localhost/gitferry-test/absent:1", tls_verify=False))


@pytest.mark.podman
def test_remove_containers_ends_a_running_steps_container_by_label(
    busybox_image: str, tmp_path: Path, labels: dict[str, str]
) -> None:
    async def scenario() -> tuple[int, StepOutcome]:
        spec = StepSpec(name="orphan", image=busybox_image, command=("sleep", "60"))
        step = asyncio.create_task(
            containers.run_step(
                spec, container_name=f"gf-{labels[LABEL]}-o", on_line=print, scratch=tmp_path, labels=labels
            )
        )
        for _ in range(100):
            if container_names(labels):
                break
            await asyncio.sleep(0.1)
        removed = await containers.remove_containers(labels)
        return removed, await step

    removed, outcome = asyncio.run(scenario())
    assert removed == 1
    assert (outcome.reason, outcome.exit_code) == ("Failed", 137)
    assert container_names(labels) == []
    with pytest.raises(ValueError, match="at least one label"):
        asyncio.run(containers.remove_containers({}))


# process.stream with plain processes.


def test_stream_hands_over_lines_as_they_come_and_returns_the_exit_code() -> None:
    arrived: list[tuple[float, str]] = []
    script = "echo one; echo two >&2; sleep 0.5; printf 'no newline'; exit 4"
    code = asyncio.run(process.stream(["sh", "-c", script], lambda line: arrived.append((time.monotonic(), line))))
    assert (code, [line for _, line in arrived]) == (4, ["one", "two", "no newline"])
    assert arrived[2][0] - arrived[0][0] > 0.4


def test_stream_splits_a_very_long_line() -> None:
    lines: list[str] = []
    asyncio.run(process.stream(["sh", "-c", "head -c 150000 /dev/zero | tr '\\0' x; echo; echo end"], lines.append))
    assert [len(line) for line in lines] == [65536, 65536, 150000 - 2 * 65536, 3]


@pytest.mark.parametrize("chunk", [1000, 65536, 70000, 150001 + 65536, 300000])
def test_stream_cuts_long_lines_the_same_whatever_the_chunks(chunk: int) -> None:
    data = b"x" * 150000 + b"\n" + b"y" * 65536 + b"\nend"  # the y line is exactly one piece

    async def pump() -> list[str]:
        reader = asyncio.StreamReader()
        for at in range(0, len(data), chunk):
            reader.feed_data(data[at : at + chunk])
        reader.feed_eof()
        lines: list[str] = []
        await process._pump(reader, lines.append)
        return lines

    assert [len(line) for line in asyncio.run(pump())] == [65536, 65536, 150000 - 2 * 65536, 65536, 3]


def test_stream_timeout_kills_the_process_group() -> None:
    started = time.monotonic()
    with pytest.raises(CommandError, match=r"timed out after 0\.5s"):
        asyncio.run(process.stream(["sh", "-c", "sleep 30 & sleep 30"], print, timeout=0.5))
    assert time.monotonic() - started < 5


def test_stream_of_a_missing_program_says_so() -> None:
    with pytest.raises(CommandError, match="no-such-program-xyz is not installed"):
        asyncio.run(process.stream(["no-such-program-xyz"], print))
