"""A pipeline's task graph as inline SVG, for the web UI's pipeline-run page.

Rendered on the server so the page needs no JavaScript. Pure: task nodes in, an ``<svg>`` string out.
Colours come from the page's CSS (``g.task.status-failed rect`` and so on); only a neutral default is set here.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

BOX_W, BOX_H = 150, 44
COL_GAP, ROW_GAP = 50, 16
PAD, TOP = 16, 28  # TOP leaves room for the "finally" label above the boxes
MAX_CHARS = 18  # what fits in BOX_W at the name's font size
NEUTRAL = "#888"
SVG_OPEN = '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="task graph"'


@dataclass(frozen=True)
class GraphNode:
    name: str
    parents: tuple[str, ...]  # runAfter and result producers; names not in the graph are ignored
    status: str  # Pending, Running, Succeeded, Failed, Skipped, Cancelled, or anything (shown as is)
    is_finally: bool = False  # drawn in one last column, after every DAG task, without edges


def _unique(nodes: Sequence[GraphNode]) -> list[GraphNode]:
    """The nodes, a repeated name keeping its first node."""
    seen: dict[str, GraphNode] = {}
    for node in nodes:
        seen.setdefault(node.name, node)
    return list(seen.values())


def layout(nodes: Sequence[GraphNode]) -> dict[str, tuple[int, int]]:
    """Column and row of each node: column = length of the longest parent chain (0 for roots), finally tasks
    in the column after the last; rows in input order within a column."""
    unique = _unique(nodes)
    dag = {node.name: node for node in unique if not node.is_finally}
    columns: dict[str, int] = {}

    def column(name: str, chain: frozenset[str]) -> int:
        if name not in columns:
            # A parent already on the chain closes a cycle: treated as absent, so the walk ends.
            parents = [p for p in dag[name].parents if p in dag and p not in chain]
            columns[name] = max((column(p, chain | {name}) + 1 for p in parents), default=0)
        return columns[name]

    for name in dag:
        column(name, frozenset())
    finally_column = max(columns.values(), default=-1) + 1
    rows: dict[int, int] = {}
    placed: dict[str, tuple[int, int]] = {}
    for node in unique:
        col = finally_column if node.is_finally else columns[node.name]
        rows[col] = rows.get(col, -1) + 1
        placed[node.name] = (col, rows[col])
    return placed


def _origin(col: int, row: int) -> tuple[int, int]:
    return PAD + col * (BOX_W + COL_GAP), TOP + row * (BOX_H + ROW_GAP)


def _shorten(name: str) -> str:
    return name if len(name) <= MAX_CHARS else name[: MAX_CHARS - 1] + "\u2026"


def _status_class(status: str) -> str:
    # One class token whatever the status says: a space would split it into two classes.
    return "status-" + "".join(c if c.isalnum() else "-" for c in status.lower())


def _edges(unique: Sequence[GraphNode], places: dict[str, tuple[int, int]]) -> list[str]:
    dag = {node.name for node in unique if not node.is_finally}
    paths: list[str] = []
    for node in unique:
        if node.is_finally:
            continue
        child_col, child_row = places[node.name]
        for parent in dict.fromkeys(node.parents):
            # Only forward edges: a parent dropped to break a cycle sits in the same column or later.
            if parent not in dag or places[parent][0] >= child_col:
                continue
            px, py = _origin(*places[parent])
            cx, cy = _origin(child_col, child_row)
            x1, y1, x2, y2 = px + BOX_W, py + BOX_H // 2, cx, cy + BOX_H // 2
            bend = (x2 - x1) // 2
            paths.append(
                f'<path class="edge" d="M {x1} {y1} C {x1 + bend} {y1}, {x2 - bend} {y2}, {x2} {y2}"'
                f' fill="none" stroke="{NEUTRAL}" marker-end="url(#gf-arrow)"/>'
            )
    return paths


def _node_svg(node: GraphNode, col: int, row: int) -> str:
    x, y = _origin(col, row)
    name, status = html.escape(node.name), html.escape(node.status)
    classes = "task finally" if node.is_finally else "task"
    return (
        f'<a href="#task-{name}"><g class="{classes} {_status_class(node.status)}" data-task="{name}">'
        f"<title>{name}: {status}</title>"
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" ry="6"'
        f' fill="none" stroke="{NEUTRAL}" pointer-events="visible"/>'
        f'<text class="task-name" x="{x + BOX_W // 2}" y="{y + 19}" text-anchor="middle" font-size="13">'
        f"{html.escape(_shorten(node.name))}</text>"
        f'<text class="task-status" x="{x + BOX_W // 2}" y="{y + 35}" text-anchor="middle" font-size="11">'
        f"{status}</text></g></a>"
    )


def task_graph_svg(nodes: Sequence[GraphNode]) -> str:
    """An ``<svg>`` element (string): one linked box per task, coloured by CSS per status class, with curved
    arrows from each task to the tasks that run after it, and the finally tasks in a last column of their own."""
    if not nodes:
        return (
            f'{SVG_OPEN} width="120" height="40" viewBox="0 0 120 40">'
            '<text x="60" y="24" text-anchor="middle">no tasks</text></svg>'
        )
    unique = _unique(nodes)
    places = layout(unique)
    columns = max(col for col, _ in places.values()) + 1
    rows = max(row for _, row in places.values()) + 1
    width = 2 * PAD + columns * BOX_W + (columns - 1) * COL_GAP
    height = TOP + rows * BOX_H + (rows - 1) * ROW_GAP + PAD
    parts = [
        f'{SVG_OPEN} width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        '<defs><marker id="gf-arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="8" markerHeight="8"'
        f' orient="auto"><path d="M 0 0 L 8 4 L 0 8 z" fill="{NEUTRAL}"/></marker></defs>',
    ]
    finals = [node for node in unique if node.is_finally]
    if finals:
        x = PAD + (columns - 1) * (BOX_W + COL_GAP)
        line_x = max(PAD // 2, x - COL_GAP // 2)  # inside the picture even when every task is a finally task
        parts.append(
            f'<line class="finally-separator" x1="{line_x}" y1="{PAD // 2}" x2="{line_x}" y2="{height - PAD // 2}"'
            f' stroke="{NEUTRAL}" stroke-dasharray="4 4"/>'
            f'<text class="finally-label" x="{x}" y="{TOP - 8}" font-size="11">finally</text>'
        )
    parts.extend(_edges(unique, places))
    parts.extend(_node_svg(node, *places[node.name]) for node in unique)
    parts.append("</svg>")
    return "".join(parts)
