"""The training-metrics chart's layout: axes, edge cases, which versions it leaves out."""

import itertools
import math
from datetime import datetime, timedelta
from types import SimpleNamespace

from ganstudio.web.metric_chart import POINT_R, Box, Segment, label_box, layout_chart

START = datetime(2026, 1, 1)


def version(n: int, metrics: dict, parent: int | None = None, branch: str = "main"):
    return SimpleNamespace(
        id=n, label=f"v{n}", parent_id=parent, branch=branch, training_metrics=metrics,
        created_at=START + timedelta(minutes=n),
    )  # fmt: skip


def test_one_version_or_equal_values_still_give_a_readable_axis() -> None:
    chart = layout_chart([version(1, {"fid": 30.0})], metric="fid")  # type: ignore[list-item]
    assert len(chart.points) == 1 and chart.segments == []
    assert len(chart.y_ticks) >= 2  # an axis with values around the single one
    point = chart.points[0]
    assert chart.left < point.x < chart.right and chart.top < point.y < chart.bottom
    flat = layout_chart(
        [version(1, {"fid": 30.0}), version(2, {"fid": 30.0}, parent=1)],  # type: ignore[list-item]
        metric="fid",
    )
    assert {p.y for p in flat.points} == {flat.points[0].y} and len(flat.y_ticks) >= 2


def test_step_axis_only_when_every_charted_version_has_a_step() -> None:
    versions = [version(1, {"fid": 50.0, "step": 100}), version(2, {"fid": 40.0}, parent=1)]
    auto = layout_chart(versions, metric="fid")  # type: ignore[arg-type]
    assert auto.axis == "order" and auto.step_axis_possible
    by_step = layout_chart(versions, metric="fid", axis="step")  # type: ignore[arg-type]
    assert by_step.axis == "step" and [p.version.label for p in by_step.points] == ["v1"]
    assert by_step.left_out == 1


def test_a_version_joins_its_nearest_charted_ancestor() -> None:
    versions = [
        version(1, {"fid": 50.0}),
        version(2, {}, parent=1),  # no fid: skipped, its child joins v1
        version(3, {"fid": 40.0}, parent=2, branch="eyes"),
    ]
    chart = layout_chart(versions, metric="fid")  # type: ignore[arg-type]
    (segment,) = chart.segments
    first, third = chart.points
    assert (segment.x1, segment.y1, segment.x2, segment.y2) == (first.x, first.y, third.x, third.y)
    assert segment.fork  # v3 is on another branch than v1
    assert third.y > first.y  # lower values sit lower: 40 below 50


def sibling_branches_at_one_step() -> list:
    """The toon demo's case: v2 (main) and v2-se (se) both at step 750 with about one value."""
    return [
        version(1, {"step": 150, "val_l1": 0.1721}),
        version(2, {"step": 750, "val_l1": 0.1305}, parent=1),
        version(3, {"step": 750, "val_l1": 0.1309}, parent=1, branch="se"),
    ]


def test_labels_of_points_at_one_step_never_overlap() -> None:
    chart = layout_chart(sibling_branches_at_one_step(), metric="val_l1", axis="step")  # type: ignore[arg-type]
    assert chart.axis == "step" and chart.show_values
    boxes = [label_box(p.text, p.label_x, p.label_y) for p in chart.points]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    for p in chart.points:  # no label covers a point (its own or another's)
        for q in chart.points:
            assert not label_box(p.text, p.label_x, p.label_y).overlaps(
                Box(q.x - POINT_R, q.y - POINT_R, q.x + POINT_R, q.y + POINT_R)
            )
        assert chart.top - 14 <= p.label_y <= chart.bottom  # inside the plot, over no tick label
    v2, v2_se = (p for p in chart.points if p.version.id > 1)
    assert abs(v2.x - v2_se.x) >= 2 * POINT_R - 1  # set side by side, both visible


def test_lines_that_would_run_together_are_drawn_beside_each_other() -> None:
    chart = layout_chart(sibling_branches_at_one_step(), metric="val_l1", axis="step")  # type: ignore[arg-type]
    main, fork = sorted(chart.segments, key=lambda s: s.fork)
    assert not main.fork and fork.fork and main.lane != fork.lane

    def mid(s: Segment) -> tuple[float, float]:
        return (s.x1 + s.x2) / 2, (s.y1 + s.y2) / 2

    (mx, my), (fx, fy) = mid(main), mid(fork)
    dx, dy = main.x2 - main.x1, main.y2 - main.y1
    apart = abs((fx - mx) * dy - (fy - my) * dx) / math.hypot(dx, dy)
    assert apart >= 3  # at least a line's width and a gap between them, along their length
