"""Tables and trees printed by ``get``, ``events``, ``tree`` (flux's column layout) and ``pipelinerun``
(tkn's)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.table import Table
from rich.tree import Tree

from gitferry.api.keys import ObjectKey
from gitferry.controllers import statuses
from gitferry.store import runs as records
from gitferry.store.sqlite import Event, HistoryEntry, Store


def _ready_cells(status: statuses.Status) -> tuple[str, str]:
    condition = statuses.condition_of(status)
    if condition is None:
        return "Unknown", "waiting to be reconciled"
    return condition["status"], condition.get("message", "")


def objects_table(store: Store, kind: str, namespace: str | None) -> Table:
    table = Table(box=None, pad_edge=False)
    if namespace is None:
        table.add_column("NAMESPACE")
    detail, value_of = statuses.DETAIL_COLUMNS[kind]
    for column in ("NAME", detail, "SUSPENDED", "READY", "MESSAGE"):
        table.add_column(column, overflow="fold")
    for stored in store.list_objects(kind):
        if namespace is not None and stored.key.namespace != namespace:
            continue
        status = store.get_status(stored.key)
        suspended = stored.is_suspended
        ready, message = _ready_cells(status)
        cells = [stored.key.name, value_of(status), str(suspended), ready, message]
        table.add_row(*([stored.key.namespace, *cells] if namespace is None else cells))
    return table


def events_table(events: list[Event]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"):
        table.add_column(column, overflow="fold")
    for event in events:
        kind_style = "yellow" if event.type == "Warning" else ""
        table.add_row(
            event.time,
            f"[{kind_style}]{event.type}[/]" if kind_style else event.type,
            event.reason,
            f"{event.key.kind}/{event.key.name}",
            event.message,
        )
    return table


def history_table(entries: list[HistoryEntry]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("STARTED", "REVISION", "RESULT", "DURATION", "CHANGES"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        result = entry.result if entry.result == "Succeeded" else f"[yellow]{entry.result}[/]"
        changes = "\n".join(entry.changed) or (entry.message if entry.result != "Succeeded" else "no changes")
        table.add_row(entry.started, entry.revision, result, f"{entry.duration:.2f}s", changes)
    return table


def inventory_tree(store: Store, key: ObjectKey, seen: set[ObjectKey] | None = None) -> Tree:
    """The objects a Kustomization owns, with owned Kustomizations expanded (as ``flux tree``)."""
    seen = seen if seen is not None else set()
    seen.add(key)
    root = Tree(f"{key.kind}/{key.namespace}/{key.name}")
    for child in sorted(store.get_inventory(key.namespaced_name)):
        if child.kind == "Kustomization" and child not in seen:
            root.add(inventory_tree(store, child, seen))
        else:
            root.add(f"{child.kind}/{child.namespace}/{child.name}")
    return root


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def duration(started: str, finished: str) -> str:
    """How long a run, task or step took (so far, when it has not finished): tenths under 10 s."""
    if not started:
        return "---"
    elapsed = ((_moment(finished) if finished else datetime.now(UTC)) - _moment(started)).total_seconds()
    if elapsed < 10:
        return f"{elapsed:.1f}s"
    seconds = int(elapsed)
    return f"{seconds // 60}m{seconds % 60}s" if seconds >= 60 else f"{seconds}s"


def age(moment: str) -> str:
    """``12s ago``, ``5m ago``, ``3h ago``, then the date: as tkn shows when a run started."""
    seconds = int((datetime.now(UTC) - _moment(moment)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return moment[:10] if unit == "d" and seconds >= 7 * 86400 else f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"


def run_status(status: str) -> str:
    style = {records.SUCCEEDED: "green", records.FAILED: "red", records.CANCELLED: "yellow"}.get(status)
    return f"[{style}]{status}[/]" if style else status


def runs_table(runs: list[records.RunRecord]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "PIPELINE", "REVISION", "STARTED", "DURATION", "STATUS"):
        table.add_column(column, overflow="fold")
    for run in runs:
        started = run.started or run.created
        table.add_row(
            run.name, run.pipeline, run.revision[:12], age(started) if started else "---",
            duration(run.started, run.finished), run_status(run.status),
        )  # fmt: skip
    return table
