"""The training-metrics chart's layout: axes, edge cases, which versions it leaves out."""

from datetime import datetime, timedelta
from types import SimpleNamespace

from ganstudio.web.metric_chart import layout_chart

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
