"""Lay out a chart of one training metric across a filter's version tree, for inline SVG.

x: the versions in tree order (pushed order: a parent is always pushed before its children),
or their training step when every charted version has one. y: the metric. Each version is joined
to its nearest charted ancestor, in its branch's colour (dashed where a branch forks off).

Nothing may hide anything else: points that would sit on each other (two versions at one step
with about the same value) are set side by side (`DODGE` pixels apart); a line that would run on
top of another one is drawn beside it (`LINE_GAP` pixels, across its direction); value labels
are placed where they overlap no other label and no point, stacked above or below their point,
with a thin leader line when they end up away from it.
"""

import math
from dataclasses import dataclass, replace
from typing import Literal

from ganstudio.db.tables import Version
from ganstudio.services import agreement
from ganstudio.services.training_metrics import STEP, format_value, is_progress

Axis = Literal["order", "step"]
WIDTH = 900
HEIGHT = 360
LEFT, RIGHT, TOP, BOTTOM = 72, 32, 36, 78  # room for y tick labels, x labels (slanted)
MAX_VALUE_LABELS = 16  # print each point's value when there are at most this many
POINT_R = 5  # a point's radius
DODGE = 9  # pixels between points that would otherwise sit on each other
LINE_GAP = 3.5  # pixels between lines that would otherwise run on top of each other
SAMPLES = 20  # places along a line where `_on_top` measures how close another one runs
LABEL_CHAR = 6.2  # estimated width of one character of a value label (10px sans-serif)
LABEL_HEIGHT = 12  # a value label's line height


@dataclass(frozen=True)
class Point:
    version: Version
    x: float
    y: float
    value: float
    lane: int
    text: str  # the value for people
    label_x: float = 0.0  # where its value label sits (text-anchor middle, baseline)
    label_y: float = 0.0
    leader: bool = False  # the label sits away from the point: draw a line to it


@dataclass(frozen=True)
class Box:
    """A rectangle in pixels (x1 < x2, y1 < y2)."""

    x1: float
    y1: float
    x2: float
    y2: float

    def overlaps(self, other: "Box") -> bool:
        return (
            self.x1 < other.x2 and other.x1 < self.x2 and self.y1 < other.y2 and other.y1 < self.y2
        )


def label_box(text: str, x: float, baseline: float) -> Box:
    """The (estimated) box of a value label centred on x with its baseline at `baseline`."""
    half = len(text) * LABEL_CHAR / 2
    return Box(x - half, baseline - LABEL_HEIGHT + 2, x + half, baseline + 2)


@dataclass(frozen=True)
class Segment:
    x1: float
    y1: float
    x2: float
    y2: float
    lane: int
    fork: bool  # child on another branch than its ancestor


@dataclass(frozen=True)
class Tick:
    at: float  # pixel
    text: str


@dataclass(frozen=True)
class MetricChart:
    metric: str
    names: list[str]  # every quality metric found on the filter's versions (not the step)
    axis: Axis
    step_axis_possible: bool
    direction: agreement.Direction
    points: list[Point]
    segments: list[Segment]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    branches: list[tuple[str, int]]  # branch name and its lane (colour), in order of first push
    left_out: int  # versions without this metric (or without a step on the step axis)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    show_values: bool = True


def metric_names(versions: list[Version]) -> list[str]:
    """Return every metric a chart can show, by name: not the step or other training progress
    (that is the x-axis option, not a quality with a better side)."""
    names = {name for v in versions for name in (v.training_metrics or {}) if not is_progress(name)}
    return sorted(names, key=str.lower)


def default_metric(names: list[str]) -> str | None:
    """The metric a chart starts with: FID when there is one, else the first by name."""
    for preferred in ("fid", "FID"):
        if preferred in names:
            return preferred
    return names[0] if names else None


def layout_chart(versions: list[Version], *, metric: str, axis: Axis | None = None) -> MetricChart:
    """Place each version that has `metric` on the chart; `axis` None: step when possible."""
    ordered = sorted(versions, key=lambda v: (v.created_at, v.id))
    having = [v for v in ordered if metric in (v.training_metrics or {})]
    with_step = [v for v in having if STEP in v.training_metrics]
    step_possible = bool(with_step) and not is_progress(metric)
    if axis is None:
        axis = "step" if step_possible and len(with_step) == len(having) else "order"
    if axis == "step" and not step_possible:
        axis = "order"
    charted = with_step if axis == "step" else having
    lanes: dict[str, int] = {}
    for v in ordered:
        lanes.setdefault(v.branch, len(lanes))
    chart_left, chart_right = LEFT, WIDTH - RIGHT
    chart_top, chart_bottom = TOP, HEIGHT - BOTTOM

    if axis == "step":
        steps = [float(v.training_metrics[STEP]) for v in charted]
        x_low, x_high, x_values = _padded(min(steps, default=0.0), max(steps, default=1.0))
        x_low, x_high = _margin(x_low, x_high, min(steps, default=0.0), max(steps, default=1.0))
        x_of = {v.id: float(v.training_metrics[STEP]) for v in charted}
    else:
        x_low, x_high = -0.5, max(len(charted) - 0.5, 0.5)
        x_of = {v.id: float(i) for i, v in enumerate(charted)}
        x_values = []

    def px(value: float) -> float:
        span = x_high - x_low or 1.0
        return round(chart_left + (value - x_low) / span * (chart_right - chart_left), 1)

    values = [float(v.training_metrics[metric]) for v in charted]
    y_low, y_high, y_values = _padded(min(values, default=0.0), max(values, default=1.0))
    y_low, y_high = _margin(y_low, y_high, min(values, default=0.0), max(values, default=1.0))

    def py(value: float) -> float:
        span = y_high - y_low or 1.0
        return round(chart_bottom - (value - y_low) / span * (chart_bottom - chart_top), 1)

    points = {
        v.id: Point(
            version=v,
            x=px(x_of[v.id]),
            y=py(float(v.training_metrics[metric])),
            value=float(v.training_metrics[metric]),
            lane=lanes[v.branch],
            text=format_value(v.training_metrics[metric])
            if axis == "order"
            else f"{v.label}: {format_value(v.training_metrics[metric])}",
        )
        for v in charted
    }
    points = _dodged(points)
    by_id = {v.id: v for v in ordered}
    segments: list[Segment] = []
    for point in points.values():
        ancestor = _charted_ancestor(point.version, by_id, points)
        if ancestor is not None:
            segments.append(
                _beside(
                    Segment(
                        ancestor.x,
                        ancestor.y,
                        point.x,
                        point.y,
                        lane=point.lane,
                        fork=ancestor.version.branch != point.version.branch,
                    ),
                    segments,
                )
            )
    show_values = len(points) <= MAX_VALUE_LABELS
    if show_values:
        points = _labelled(points, top=TOP - 4, bottom=HEIGHT - BOTTOM - 2, width=WIDTH)
    if axis == "step":
        x_ticks = [Tick(px(t), format_value(t)) for t in x_values]
    else:
        x_ticks = [Tick(px(i), v.label) for i, v in enumerate(charted)]
    return MetricChart(
        metric=metric,
        names=metric_names(versions),
        axis=axis,
        step_axis_possible=step_possible,
        direction=agreement.direction(metric),
        points=list(points.values()),
        segments=segments,
        x_ticks=x_ticks,
        y_ticks=[Tick(py(t), format_value(t)) for t in y_values],
        branches=[
            (name, lane)
            for name, lane in lanes.items()
            if any(p.version.branch == name for p in points.values())
        ],
        left_out=len(ordered) - len(charted),
        show_values=show_values,
    )


def _dodged(points: dict[int, Point]) -> dict[int, Point]:
    """Set points that would sit on each other side by side, in push order."""
    placed: dict[int, Point] = {}
    for key, point in points.items():
        x = point.x
        while any(
            abs(other.x - x) < DODGE and abs(other.y - point.y) < 2 * POINT_R
            for other in placed.values()
        ):
            x = round(x + DODGE, 1)
        placed[key] = replace(point, x=x)
    return placed


def _beside(segment: Segment, drawn: list[Segment]) -> Segment:
    """Shift `segment` across its direction while it would run on top of a drawn one."""
    length = math.hypot(segment.x2 - segment.x1, segment.y2 - segment.y1)
    if length == 0:
        return segment
    nx, ny = -(segment.y2 - segment.y1) / length, (segment.x2 - segment.x1) / length
    shifted, tries = segment, 0
    while tries < 6 and any(_on_top(shifted, other) for other in drawn):
        tries += 1
        offset = LINE_GAP * ((tries + 1) // 2) * (1 if tries % 2 else -1)
        shifted = replace(
            segment,
            x1=round(segment.x1 + nx * offset, 1),
            y1=round(segment.y1 + ny * offset, 1),
            x2=round(segment.x2 + nx * offset, 1),
            y2=round(segment.y2 + ny * offset, 1),
        )
    return shifted


def _on_top(a: Segment, b: Segment) -> bool:
    """Whether lines `a` and `b` would run together: over more than a quarter of the shorter
    one's length, it lies within `LINE_GAP` pixels of the other."""
    short, long_ = sorted((a, b), key=lambda s: math.hypot(s.x2 - s.x1, s.y2 - s.y1))
    length = math.hypot(long_.x2 - long_.x1, long_.y2 - long_.y1)
    if length == 0:
        return False
    ux, uy = (long_.x2 - long_.x1) / length, (long_.y2 - long_.y1) / length
    near = 0
    for i in range(SAMPLES + 1):
        x = short.x1 + (short.x2 - short.x1) * i / SAMPLES
        y = short.y1 + (short.y2 - short.y1) * i / SAMPLES
        along = (x - long_.x1) * ux + (y - long_.y1) * uy
        across = abs((x - long_.x1) * uy - (y - long_.y1) * ux)
        near += 0 <= along <= length and across < LINE_GAP - 0.5
    return near > (SAMPLES + 1) / 4


def _labelled(
    points: dict[int, Point], *, top: float, bottom: float, width: float
) -> dict[int, Point]:
    """Give each point a value-label place that overlaps no placed label and no other point:
    just above it, else just below, else stacked further up or down (with a leader line)."""
    circles = [
        Box(p.x - POINT_R - 1, p.y - POINT_R - 1, p.x + POINT_R + 1, p.y + POINT_R + 1)
        for p in points.values()
    ]
    taken: list[Box] = []
    placed: dict[int, Point] = {}
    # Highest points first: their labels have the room above them.
    for key, point in sorted(points.items(), key=lambda item: (item[1].y, item[1].x)):
        half = len(point.text) * LABEL_CHAR / 2
        x = min(max(point.x, half + 2), width - half - 2)
        above, below = point.y - POINT_R - 4, point.y + POINT_R + LABEL_HEIGHT
        candidates = [(above, False), (below, False)]
        for k in range(1, 12):
            candidates += [(above - k * LABEL_HEIGHT, True), (below + k * LABEL_HEIGHT, True)]
        fitting = [
            (y, leader) for y, leader in candidates if top <= y - LABEL_HEIGHT and y <= bottom
        ]
        choice = next(
            (
                (y, leader)
                for y, leader in fitting
                if not any(label_box(point.text, x, y).overlaps(b) for b in taken + circles)
            ),
            fitting[0] if fitting else (above, False),
        )
        taken.append(label_box(point.text, x, choice[0]))
        placed[key] = replace(
            point, label_x=round(x, 1), label_y=round(choice[0], 1), leader=choice[1]
        )
    return {key: placed[key] for key in points}


def _charted_ancestor(
    version: Version, by_id: dict[int, Version], points: dict[int, Point]
) -> Point | None:
    """The nearest ancestor of `version` that is on the chart."""
    seen: set[int] = set()
    parent_id = version.parent_id
    while parent_id is not None and parent_id not in seen:
        seen.add(parent_id)
        if parent_id in points:
            return points[parent_id]
        parent = by_id.get(parent_id)
        parent_id = parent.parent_id if parent is not None else None
    return None


def _margin(low: float, high: float, first: float, last: float) -> tuple[float, float]:
    """Widen [low, high] so no point sits on the chart's edge (its axis or its title)."""
    room = (high - low) * 0.06
    return min(low, first - room), max(high, last + room)


def _padded(low: float, high: float) -> tuple[float, float, list[float]]:
    """Return an axis range around [low, high] with 3–7 round ticks inside it."""
    if math.isclose(low, high):
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    span = high - low
    raw = span / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    low_edge = math.floor(low / step) * step
    high_edge = math.ceil(high / step) * step
    count = round((high_edge - low_edge) / step)
    ticks = [round(low_edge + i * step, 12) for i in range(count + 1)]
    return low_edge, high_edge, ticks
