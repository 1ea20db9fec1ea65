"""Lay out a chart of one training metric across a filter's version tree, for inline SVG.

x: the versions in tree order (pushed order: a parent is always pushed before its children),
or their training step when every charted version has one. y: the metric. Each version is joined
to its nearest charted ancestor, in its branch's colour (dashed where a branch forks off).
"""

import math
from dataclasses import dataclass
from typing import Literal

from ganstudio.db.tables import Version
from ganstudio.services import agreement
from ganstudio.services.training_metrics import STEP, format_value, is_progress

Axis = Literal["order", "step"]
WIDTH = 900
HEIGHT = 360
LEFT, RIGHT, TOP, BOTTOM = 72, 32, 36, 78  # room for y tick labels, x labels (slanted)
MAX_VALUE_LABELS = 16  # print each point's value when there are at most this many


@dataclass(frozen=True)
class Point:
    version: Version
    x: float
    y: float
    value: float
    lane: int
    text: str  # the value for people


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
    by_id = {v.id: v for v in ordered}
    segments = []
    for point in points.values():
        ancestor = _charted_ancestor(point.version, by_id, points)
        if ancestor is not None:
            segments.append(
                Segment(
                    ancestor.x,
                    ancestor.y,
                    point.x,
                    point.y,
                    lane=point.lane,
                    fork=ancestor.version.branch != point.version.branch,
                )
            )
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
        show_values=len(points) <= MAX_VALUE_LABELS,
    )


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
