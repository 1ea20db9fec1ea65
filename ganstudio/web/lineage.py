"""Lay out a version tree for drawing: one lane per branch, one row per version (oldest on top)."""

from dataclasses import dataclass

from ganstudio.db.tables import Version

LANE_WIDTH = 28
ROW_HEIGHT = 46
MARGIN = 18


@dataclass(frozen=True)
class Node:
    version: Version
    x: int
    y: int
    lane: int


@dataclass(frozen=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int
    off_page: bool  # the parent is not among the drawn versions


@dataclass(frozen=True)
class TreeLayout:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    text_x: int


def layout_tree(versions: list[Version]) -> TreeLayout:
    """Place `versions` (any order) on lanes by branch; edges run from parent to child."""
    ordered = sorted(versions, key=lambda v: (v.created_at, v.id))
    lanes: dict[str, int] = {}
    nodes: dict[int, Node] = {}
    for row, version in enumerate(ordered):
        lane = lanes.setdefault(version.branch, len(lanes))
        nodes[version.id] = Node(
            version, MARGIN + lane * LANE_WIDTH, MARGIN + row * ROW_HEIGHT, lane
        )
    edges = []
    for node in nodes.values():
        parent_id = node.version.parent_id
        if parent_id is None:
            continue
        parent = nodes.get(parent_id)
        if parent is None:  # parent on another page: a short stub from above
            edges.append(Edge(node.x, node.y - ROW_HEIGHT // 2, node.x, node.y, off_page=True))
        else:
            edges.append(Edge(parent.x, parent.y, node.x, node.y, off_page=False))
    text_x = MARGIN + max(len(lanes), 1) * LANE_WIDTH + 8
    height = MARGIN * 2 + max(len(ordered) - 1, 0) * ROW_HEIGHT
    return TreeLayout(list(nodes.values()), edges, text_x + 560, height, text_x)
