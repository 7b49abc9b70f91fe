"""Pipeline run records: runs, their tasks and steps, and every log line, in the state store.

Written as the run goes (one short transaction per change, log lines in small batches), so a
crash loses at most the last batch of a log, and ``mark_interrupted`` can tell on restart which
runs were cut off.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gitferry.api.keys import precise_timestamp as timestamp
from gitferry.store.sqlite import Store

# Statuses, as tkn shows them.
PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED, SKIPPED = (
    "Pending",
    "Running",
    "Succeeded",
    "Failed",
    "Cancelled",
    "Skipped",
)
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED, SKIPPED})


@dataclass(frozen=True)
class RunRecord:
    name: str
    namespace: str
    pipeline: str
    repository: str
    revision: str
    trigger: str
    status: str
    reason: str
    message: str
    created: str
    started: str
    finished: str
    manifest: dict[str, Any] = field(repr=False)
    results: dict[str, Any]


@dataclass(frozen=True)
class TaskRecord:
    run: str
    task: str
    is_finally: bool
    attempt: int
    status: str
    reason: str
    message: str
    started: str
    finished: str
    results: dict[str, Any]


@dataclass(frozen=True)
class StepRecord:
    run: str
    task: str
    step: str
    position: int
    status: str
    exit_code: int | None
    reason: str
    started: str
    finished: str


@dataclass(frozen=True)
class LogLine:
    id: int
    task: str
    step: str
    line: str


_RUN_COLUMNS = (
    "name, namespace, pipeline, repository, revision, trigger, status, reason, message, created, started,"
    " finished, manifest, results"
)
_TASK_COLUMNS = "run, task, is_finally, attempt, status, reason, message, started, finished, results"
_STEP_COLUMNS = "run, task, step, position, status, exit_code, reason, started, finished"


def _run(row: tuple[Any, ...]) -> RunRecord:
    values = dict(zip(_RUN_COLUMNS.split(", "), row, strict=True))
    values["manifest"], values["results"] = json.loads(values["manifest"]), json.loads(values["results"])
    return RunRecord(**values)


def _task(row: tuple[Any, ...]) -> TaskRecord:
    values = dict(zip(_TASK_COLUMNS.split(", "), row, strict=True))
    values["is_finally"], values["results"] = bool(values["is_finally"]), json.loads(values["results"])
    return TaskRecord(**values)


class PipelineRuns:
    """The run records of one state store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # writing

    def create(
        self,
        name: str,
        namespace: str,
        pipeline: str,
        manifest: dict[str, Any],
        *,
        repository: str = "",
        revision: str = "",
        trigger: str = "manual",
    ) -> None:
        with self.store.transaction() as db:
            db.execute(
                f"INSERT INTO pipeline_runs ({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (name, namespace, pipeline, repository, revision, trigger, PENDING, "", "", timestamp(), "", "",
                 json.dumps(manifest, sort_keys=True), "{}"),
            )  # fmt: skip

    def update_run(self, name: str, status: str, *, reason: str = "", message: str = "", **times: str) -> None:
        """Set the run's status; ``started=``/``finished=`` timestamps and ``results=`` JSON when given."""
        self._update("pipeline_runs", "name=?", (name,), status=status, reason=reason, message=message, **times)

    def set_results(self, name: str, results: dict[str, Any]) -> None:
        with self.store.transaction() as db:
            db.execute("UPDATE pipeline_runs SET results=? WHERE name=?", (json.dumps(results), name))

    def update_task(
        self,
        run: str,
        task: str,
        status: str,
        *,
        is_finally: bool = False,
        attempt: int = 0,
        reason: str = "",
        message: str = "",
        results: dict[str, Any] | None = None,
        **times: str,
    ) -> None:
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO task_runs (run, task, is_finally, attempt, status) VALUES (?,?,?,?,?)"
                " ON CONFLICT (run, task) DO NOTHING",
                (run, task, int(is_finally), attempt, status),
            )
        fields: dict[str, Any] = {"status": status, "reason": reason, "message": message, "attempt": attempt, **times}
        if results is not None:
            fields["results"] = json.dumps(results, sort_keys=True)
        self._update("task_runs", "run=? AND task=?", (run, task), **fields)

    def update_step(
        self,
        run: str,
        task: str,
        step: str,
        position: int,
        status: str,
        *,
        exit_code: int | None = None,
        reason: str = "",
        **times: str,
    ) -> None:
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO step_runs (run, task, step, position, status) VALUES (?,?,?,?,?)"
                " ON CONFLICT (run, task, step) DO NOTHING",
                (run, task, step, position, status),
            )
        self._update(
            "step_runs", "run=? AND task=? AND step=?", (run, task, step),
            status=status, exit_code=exit_code, reason=reason, **times,
        )  # fmt: skip

    def add_log(self, run: str, task: str, step: str, lines: Sequence[str]) -> None:
        if not lines:
            return
        with self.store.transaction() as db:
            db.executemany(
                "INSERT INTO step_logs (run, task, step, line) VALUES (?,?,?,?)",
                [(run, task, step, line) for line in lines],
            )

    def prune(self, repository: str, pipeline: str, keep: int) -> list[str]:
        """Delete the finished runs of ``pipeline`` from ``repository`` but the ``keep`` newest, with
        their tasks, steps and logs (runs in progress are never touched); the names deleted."""
        finished = sorted(FINISHED)
        marks = ",".join("?" * len(finished))
        rows = self.store.read(
            f"SELECT name FROM pipeline_runs WHERE repository=? AND pipeline=? AND status IN ({marks})"
            " ORDER BY created DESC, rowid DESC",
            (repository, pipeline, *finished),
        )
        doomed = [row[0] for row in rows[keep:]]
        with self.store.transaction() as db:
            for name in doomed:
                for table in ("step_logs", "step_runs", "task_runs"):
                    db.execute(f"DELETE FROM {table} WHERE run=?", (name,))
                db.execute("DELETE FROM pipeline_runs WHERE name=?", (name,))
        return doomed

    def mark_interrupted(self) -> list[str]:
        """Runs left Pending or Running by a process that died: Failed, with their open tasks and steps."""
        open_runs = [
            r[0] for r in self.store.read("SELECT name FROM pipeline_runs WHERE status IN (?,?)", (PENDING, RUNNING))
        ]
        now = timestamp()
        message = "gitferry stopped while this run was in progress (the process was killed or the host restarted)"
        with self.store.transaction() as db:
            for name in open_runs:
                for table in ("task_runs", "step_runs"):
                    db.execute(
                        f"UPDATE {table} SET status=?, reason=?, finished=? WHERE run=? AND status IN (?,?)",
                        (FAILED, "Interrupted", now, name, PENDING, RUNNING),
                    )
                db.execute(
                    "UPDATE pipeline_runs SET status=?, reason=?, message=?, finished=? WHERE name=?",
                    (FAILED, "Interrupted", message, now, name),
                )
        return open_runs

    def _update(self, table: str, where: str, key: tuple[Any, ...], **fields: Any) -> None:
        assignments = ", ".join(f"{column}=?" for column in fields)
        with self.store.transaction() as db:
            db.execute(f"UPDATE {table} SET {assignments} WHERE {where}", (*fields.values(), *key))

    # reading

    def get(self, name: str) -> RunRecord | None:
        rows = self.store.read(f"SELECT {_RUN_COLUMNS} FROM pipeline_runs WHERE name=?", (name,))
        return _run(rows[0]) if rows else None

    def recent(
        self, *, namespace: str | None = None, repository: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        """Newest first."""
        clauses, args = [], []
        if namespace is not None:
            clauses.append("namespace=?")
            args.append(namespace)
        if repository is not None:
            clauses.append("repository=?")
            args.append(repository)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {_RUN_COLUMNS} FROM pipeline_runs{where} ORDER BY created DESC, rowid DESC LIMIT ?"
        return [_run(row) for row in self.store.read(sql, (*args, limit))]

    def tasks(self, run: str) -> list[TaskRecord]:
        rows = self.store.read(f"SELECT {_TASK_COLUMNS} FROM task_runs WHERE run=? ORDER BY rowid", (run,))
        return [_task(row) for row in rows]

    def steps(self, run: str) -> list[StepRecord]:
        rows = self.store.read(f"SELECT {_STEP_COLUMNS} FROM step_runs WHERE run=? ORDER BY rowid", (run,))
        return [StepRecord(*row) for row in rows]

    def logs(self, run: str, *, after: int = 0, limit: int = 10_000) -> list[LogLine]:
        rows = self.store.read(
            "SELECT id, task, step, line FROM step_logs WHERE run=? AND id>? ORDER BY id LIMIT ?", (run, after, limit)
        )
        return [LogLine(*row) for row in rows]

    def exists(self, name: str) -> bool:
        return bool(self.store.read("SELECT 1 FROM pipeline_runs WHERE name = ?", (name,)))
