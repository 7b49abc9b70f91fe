"""``gitferry pipelinerun list|describe|logs|cancel``: the runs in the state store, as tkn shows them."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from gitferry.cli import views
from gitferry.cli.context import console, fail, open_store, settings
from gitferry.reactor import control
from gitferry.store import runs as records

pipelinerun_app = typer.Typer(
    help="Pipeline runs: list, describe, logs, cancel (as tkn pipelinerun).", no_args_is_help=True
)

Name = Annotated[str | None, typer.Argument(help="PipelineRun name (default with --last: the newest).")]
FOLLOW_POLL_SECONDS = 0.2


def _store() -> records.PipelineRuns:
    return records.PipelineRuns(open_store())


@pipelinerun_app.command(
    "list", help="Pipeline runs, newest first: name, pipeline, revision, started, duration, status."
)
def list_runs(
    repository: Annotated[str | None, typer.Option(help="Only runs of this Repository (namespace/name).")] = None,
    limit: Annotated[int, typer.Option(help="How many of the newest runs.")] = 20,
) -> None:
    console.print(views.runs_table(_store().recent(repository=repository, limit=limit)))


def _pick(store: records.PipelineRuns, name: str | None, last: bool) -> records.RunRecord:
    if name is None and not last:
        raise fail("name a PipelineRun, or use --last for the newest")
    if name is None:
        newest = store.recent(limit=1)
        if not newest:
            raise fail("no pipeline runs yet")
        return newest[0]
    record = store.get(name)
    if record is None:
        raise fail(f"PipelineRun {name!r} not found (see 'gitferry pipelinerun list')")
    return record


@pipelinerun_app.command("describe", help="A run's tasks and steps: status, reason, duration, results.")
def describe(name: Name = None, last: Annotated[bool, typer.Option("--last", help="The newest run.")] = False) -> None:
    store = _store()
    run = _pick(store, name, last)
    console.print(f"Name: {run.name}   Pipeline: {run.pipeline}   Revision: {run.revision or '-'}")
    console.print(
        f"Status: {views.run_status(run.status)} ({run.reason})   Duration: {views.duration(run.started, run.finished)}"
    )
    if run.message:
        console.print(f"Message: {escape(run.message)}")
    table = Table(box=None, pad_edge=False)
    for column in ("TASK", "STEP", "STATUS", "REASON", "DURATION", "DETAIL"):
        table.add_column(column, overflow="fold")
    steps = store.steps(run.name)
    for task in store.tasks(run.name):
        results = ", ".join(f"{k}={v}" for k, v in task.results.items())  # whole: the column folds
        detail = task.message or results
        name_shown = f"{task.task} (finally)" if task.is_finally else task.task
        took = views.duration(task.started, task.finished)
        table.add_row(name_shown, "", views.run_status(task.status), task.reason, took, escape(detail))
        for step in (s for s in steps if s.task == task.task):
            code = "" if step.exit_code is None else f"exit {step.exit_code}"
            table.add_row(
                "",
                step.step,
                views.run_status(step.status),
                step.reason,
                views.duration(step.started, step.finished),
                code,
            )
    console.print(table)
    if run.results:
        console.print("Results: " + ", ".join(f"{k}={v}" for k, v in run.results.items()))


@pipelinerun_app.command("logs", help="A run's log, each line prefixed [task : step] as tkn does; -f follows.")
def logs(
    name: Name = None,
    last: Annotated[bool, typer.Option("--last", help="The newest run.")] = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the run ends.")] = False,
) -> None:
    store = _store()
    run = _pick(store, name, last)
    after = 0
    while True:
        for line in store.logs(run.name, after=after):
            console.print(f"[cyan]\\[{line.task} : {line.step}][/] {escape(line.line)}", soft_wrap=True)
            after = line.id
        current = store.get(run.name)
        if not follow or current is None or current.status in records.FINISHED:
            break
        time.sleep(FOLLOW_POLL_SECONDS)
    final = store.get(run.name)
    if follow and final is not None:
        console.print(f"PipelineRun {final.name}: {views.run_status(final.status)} {escape(final.message)}")


@pipelinerun_app.command("cancel", help="Cancel a running PipelineRun: its steps are stopped, no finally task runs.")
def cancel(name: Annotated[str, typer.Argument(help="PipelineRun name.")]) -> None:
    record = _store().get(name)
    if record is None:
        raise fail(f"PipelineRun {name!r} not found (see 'gitferry pipelinerun list')")
    if record.status in records.FINISHED:
        raise fail(f"PipelineRun {name} has already ended: {record.status}")
    reply = asyncio.run(control.call(control.socket_path(settings.data_dir), {"op": "cancel-run", "name": name}))
    if reply is None:
        raise fail(f"no 'gitferry up' is running on {settings.data_dir}: PipelineRun {name} cannot be running")
    if not reply.get("ok"):
        raise fail(str(reply.get("message")))
    console.print(f"[green]✔[/green] {reply.get('message')}")
