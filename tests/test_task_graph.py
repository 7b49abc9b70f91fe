"""The pipeline-run page's task graph: layout of columns and rows, and the SVG drawn from it. Pure."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from gitferry.server.graphs import GraphNode, layout, task_graph_svg

SVG = "{http://www.w3.org/2000/svg}"


def node(name: str, *parents: str, status: str = "Pending", is_finally: bool = False) -> GraphNode:
    return GraphNode(name, tuple(parents), status, is_finally)


DIAMOND = [node("a"), node("b", "a"), node("c", "a"), node("d", "b", "c")]
CHAIN = [node("clone"), node("build", "clone"), node("push", "build")]
ROOTS = [node("lint"), node("test"), node("scan")]
WITH_FINALLY = [*CHAIN, node("notify", is_finally=True), node("cleanup", "push", is_finally=True)]


def columns(nodes: list[GraphNode]) -> dict[str, int]:
    return {name: col for name, (col, _) in layout(nodes).items()}


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        (DIAMOND, {"a": 0, "b": 1, "c": 1, "d": 2}),
        (CHAIN, {"clone": 0, "build": 1, "push": 2}),
        (ROOTS, {"lint": 0, "test": 0, "scan": 0}),
        (WITH_FINALLY, {"clone": 0, "build": 1, "push": 2, "notify": 3, "cleanup": 3}),
        ([node("x", is_finally=True)], {"x": 0}),
        ([node("a", "ghost"), node("b", "a", "ghost")], {"a": 0, "b": 1}),
        # The longest chain wins: d is after c (column 2) even though it is also directly after a.
        ([node("a"), node("b", "a"), node("c", "b"), node("d", "a", "c")], {"a": 0, "b": 1, "c": 2, "d": 3}),
        # A DAG task naming a finally task as parent: not part of the DAG, ignored.
        ([node("f", is_finally=True), node("a", "f")], {"f": 1, "a": 0}),
    ],
    ids=["diamond", "chain", "roots", "finally", "only-finally", "unknown-parent", "longest-chain", "finally-parent"],
)
def test_layout_columns(nodes: list[GraphNode], expected: dict[str, int]) -> None:
    assert columns(nodes) == expected


def test_rows_follow_input_order_within_a_column() -> None:
    places = layout(DIAMOND)
    assert places["b"] == (1, 0)
    assert places["c"] == (1, 1)
    assert layout(ROOTS) == {"lint": (0, 0), "test": (0, 1), "scan": (0, 2)}
    assert layout(WITH_FINALLY)["notify"] == (3, 0)
    assert layout(WITH_FINALLY)["cleanup"] == (3, 1)


@pytest.mark.parametrize(
    "nodes",
    [
        [node("a", "b"), node("b", "a")],
        [node("a", "a")],
        [node("a", "c"), node("b", "a"), node("c", "b"), node("d", "c")],
    ],
    ids=["two", "self", "three-with-tail"],
)
def test_a_cycle_terminates(nodes: list[GraphNode]) -> None:
    places = layout(nodes)
    assert set(places) == {n.name for n in nodes}
    assert len(set(places.values())) == len(nodes)
    svg = ET.fromstring(task_graph_svg(nodes))
    # Every drawn edge goes forward; the edge that closes the cycle is left out.
    assert len(svg.findall(f".//{SVG}path[@class='edge']")) < sum(len(n.parents) for n in nodes)


def tasks(svg: ET.Element) -> dict[str, str]:
    """data-task -> class of each task group."""
    return {g.attrib["data-task"]: g.attrib["class"] for g in svg.iter(f"{SVG}g") if "task" in g.attrib["class"]}


def edges(svg: ET.Element) -> list[str]:
    return [p.attrib["d"] for p in svg.iter(f"{SVG}path") if p.attrib.get("class") == "edge"]


@pytest.mark.parametrize(
    ("nodes", "edge_count"),
    [
        (DIAMOND, 4),
        (CHAIN, 2),
        (ROOTS, 0),
        (WITH_FINALLY, 2),  # finally tasks get no edges
        ([node("a"), node("b", "a", "a", "ghost")], 1),  # a repeated parent is one edge, an unknown one none
    ],
    ids=["diamond", "chain", "roots", "finally", "duplicates"],
)
def test_svg_has_one_group_per_task_and_one_edge_per_pair(nodes: list[GraphNode], edge_count: int) -> None:
    svg = ET.fromstring(task_graph_svg(nodes))
    assert svg.tag == f"{SVG}svg"
    assert svg.attrib["role"] == "img"
    assert svg.attrib["aria-label"] == "task graph"
    assert list(tasks(svg)) == [n.name for n in nodes]
    assert len(edges(svg)) == edge_count
    assert all(d.startswith("M ") and " C " in d for d in edges(svg))
    assert svg.find(f"{SVG}defs/{SVG}marker[@id='gf-arrow']") is not None


@pytest.mark.parametrize(
    ("status", "css_class"),
    [
        ("Pending", "status-pending"),
        ("Running", "status-running"),
        ("Succeeded", "status-succeeded"),
        ("Failed", "status-failed"),
        ("Skipped", "status-skipped"),
        ("Cancelled", "status-cancelled"),
        ("Timed Out", "status-timed-out"),
    ],
)
def test_status_class_and_text(status: str, css_class: str) -> None:
    svg = ET.fromstring(task_graph_svg([node("build", status=status)]))
    group = next(g for g in svg.iter(f"{SVG}g") if g.attrib.get("data-task") == "build")
    assert group.attrib["class"].split() == ["task", css_class]
    texts = [t.text for t in group.iter(f"{SVG}text")]
    assert texts == ["build", status]
    assert group.findtext(f"{SVG}title") == f"build: {status}"


def test_edge_runs_from_parent_right_middle_to_child_left_middle() -> None:
    svg = ET.fromstring(task_graph_svg(CHAIN[:2]))
    rects = {g.attrib["data-task"]: g.find(f"{SVG}rect") for g in svg.iter(f"{SVG}g") if "data-task" in g.attrib}
    parent, child = rects["clone"], rects["build"]
    assert parent is not None and child is not None
    start = (int(parent.attrib["x"]) + int(parent.attrib["width"]), int(parent.attrib["y"]) + 22)
    end = (int(child.attrib["x"]), int(child.attrib["y"]) + 22)
    (d,) = edges(svg)
    assert d.startswith(f"M {start[0]} {start[1]} C ")
    assert d.endswith(f", {end[0]} {end[1]}")


def test_names_are_escaped_and_linked() -> None:
    name = 'a<b>&"c'
    text = task_graph_svg([node(name, status="<Odd>")])
    assert name not in text
    assert "<b>" not in text
    svg = ET.fromstring(text)
    (link,) = svg.iter(f"{SVG}a")
    assert link.attrib["href"] == f"#task-{name}"
    assert tasks(svg) == {name: "task status--odd-"}
    assert link.findtext(f".//{SVG}title") == f"{name}: <Odd>"


def test_long_names_are_shortened_but_titled_in_full() -> None:
    name = "build-and-push-the-container-image"
    svg = ET.fromstring(task_graph_svg([node(name)]))
    shown = svg.findtext(f".//{SVG}text[@class='task-name']")
    assert shown is not None and shown.endswith("\u2026") and len(shown) < len(name)
    assert name.startswith(shown[:-1])
    assert svg.findtext(f".//{SVG}title") == f"{name}: Pending"


@pytest.mark.parametrize(
    ("nodes", "has_finally"),
    [(CHAIN, False), (WITH_FINALLY, True), ([node("x", is_finally=True)], True)],
    ids=["dag-only", "dag-and-finally", "finally-only"],
)
def test_finally_separator_only_with_finally_tasks(nodes: list[GraphNode], has_finally: bool) -> None:
    svg = ET.fromstring(task_graph_svg(nodes))
    separators = [e for e in svg.iter(f"{SVG}line") if e.attrib.get("class") == "finally-separator"]
    labels = [e.text for e in svg.iter(f"{SVG}text") if e.attrib.get("class") == "finally-label"]
    assert len(separators) == int(has_finally)
    assert labels == (["finally"] if has_finally else [])
    if has_finally:
        (line,) = separators
        assert line.attrib["stroke-dasharray"]
        assert 0 < int(line.attrib["x1"]) < int(svg.attrib["width"])
        finally_xs = [
            int(g.find(f"{SVG}rect").attrib["x"])  # type: ignore[union-attr]
            for g in svg.iter(f"{SVG}g")
            if "finally" in g.attrib.get("class", "").split()
        ]
        assert finally_xs and all(x > int(line.attrib["x1"]) for x in finally_xs)


def test_size_follows_layout() -> None:
    small = ET.fromstring(task_graph_svg(CHAIN[:1]))
    wide = ET.fromstring(task_graph_svg(CHAIN))
    tall = ET.fromstring(task_graph_svg(ROOTS))
    assert int(wide.attrib["width"]) > int(small.attrib["width"])
    assert wide.attrib["height"] == small.attrib["height"]
    assert int(tall.attrib["height"]) > int(small.attrib["height"])
    assert tall.attrib["width"] == small.attrib["width"]
    for svg in (small, wide, tall):
        assert svg.attrib["viewBox"] == f"0 0 {svg.attrib['width']} {svg.attrib['height']}"


def test_empty_says_no_tasks() -> None:
    svg = ET.fromstring(task_graph_svg([]))
    assert svg.tag == f"{SVG}svg"
    assert [t.text for t in svg.iter(f"{SVG}text")] == ["no tasks"]
    assert layout([]) == {}


def test_output_is_deterministic() -> None:
    assert task_graph_svg(WITH_FINALLY + DIAMOND) == task_graph_svg(list(WITH_FINALLY + DIAMOND))
    assert task_graph_svg(DIAMOND) == task_graph_svg(DIAMOND)
