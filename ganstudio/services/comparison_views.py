"""Read comparisons for pages: the recent list, column stats, live cells, rows and ZIP entries."""

import functools
import hashlib
import re
import statistics
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BindParameter,
    FromClause,
    Integer,
    Select,
    Subquery,
    and_,
    bindparam,
    case,
    func,
    select,
    true,
)
from sqlalchemy.orm import Session, joinedload

from ganstudio.db.tables import (
    Analysis,
    AnalysisItem,
    Comment,
    Comparison,
    ComparisonCell,
    ComparisonSample,
    ComparisonVersion,
    Filter,
    Job,
    JobItem,
    Pick,
    ReferenceMetric,
    Render,
    Sample,
    User,
    Version,
    VersionStatusChange,
)
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import reviews as reviews_service
from ganstudio.services.comparisons import Cell, comparison_versions
from ganstudio.services.errors import NotFoundError
from ganstudio.vocabulary import AnalysisState, RenderState

ROWS_PER_PAGE = 50  # of the grid; the viewer links back to the page that holds its row
MAX_NAME_CHARS = 80
_UNSAFE_NAME = re.compile(r"[^\w.+-]+")
_UNDERSCORES = re.compile(r"_{2,}")  # "__" is kept for joining sample and version


@dataclass
class ComparisonSummary:
    """One line of the recent comparisons list."""

    comparison: Comparison
    labels: list[str] = field(default_factory=list)
    sample_count: int = 0
    total: int = 0
    finished: int = 0
    failed: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.finished / self.total) if self.total else 100


@dataclass(frozen=True)
class RowView:
    """One sample of a comparison, its cells, and where it sits among the rows."""

    sample: Sample
    cells: list[Cell]
    position: int  # 0-based
    total: int
    previous_id: int | None
    next_id: int | None

    @property
    def grid_page(self) -> int:
        """Return the grid page that holds this row."""
        return self.position // ROWS_PER_PAGE + 1


@dataclass(frozen=True)
class ZipEntry:
    name: str
    sha256: str


def recent_comparisons(
    session: Session, *, page: int = 1, per_page: int = 20
) -> tuple[list[ComparisonSummary], int]:
    """Return one page of comparisons, newest first, with versions, size and progress."""
    total = session.scalar(select(func.count()).select_from(Comparison)) or 0
    comparisons = session.scalars(
        select(Comparison)
        .options(joinedload(Comparison.filter), joinedload(Comparison.created_by))
        .order_by(Comparison.created_at.desc(), Comparison.id.desc())
        .offset((max(1, page) - 1) * per_page)
        .limit(per_page)
    ).all()
    summaries = {c.id: ComparisonSummary(c) for c in comparisons}
    if not summaries:
        return [], total
    for comparison_id, label in session.execute(
        select(ComparisonVersion.comparison_id, Version.label)
        .join(Version, Version.id == ComparisonVersion.version_id)
        .where(ComparisonVersion.comparison_id.in_(summaries))
        .order_by(ComparisonVersion.comparison_id, ComparisonVersion.position)
    ):
        summaries[comparison_id].labels.append(label)
    for comparison_id, count in session.execute(
        select(ComparisonSample.comparison_id, func.count())
        .where(ComparisonSample.comparison_id.in_(summaries))
        .group_by(ComparisonSample.comparison_id)
    ):
        summaries[comparison_id].sample_count = count
    by_job = {c.job_id: summaries[c.id] for c in comparisons if c.job_id is not None}
    for job_id, state, count in session.execute(
        select(JobItem.job_id, Render.state, func.count())
        .join(Render, Render.id == JobItem.render_id)
        .where(JobItem.job_id.in_(by_job))
        .group_by(JobItem.job_id, Render.state)
    ):
        summary = by_job[job_id]
        summary.total += count
        if state in (RenderState.DONE, RenderState.FAILED):
            summary.finished += count
        if state == RenderState.FAILED:
            summary.failed += count
    return list(summaries.values()), total


@dataclass(frozen=True)
class GridRevision:
    """What a comparison's grid shows, fingerprinted by one query (see grid_revision)."""

    tag: str  # changes whenever anything the grid page or the comparison API shows does
    rows: int  # the comparison's samples (for the pager)


def _cell_counts(comparison_id: BindParameter[int]) -> Subquery:
    """Each render state's count over the cells, claims and finish times, the cells' metrics
    and their samples' references and edits."""
    measured = and_(
        ReferenceMetric.output_sha256 == Render.output_sha256,
        ReferenceMetric.reference_sha256 == Sample.reference_sha256,
    )
    by_state = [
        func.count(case((Render.state == state, 1))).label(f"cells_{state.value}")
        for state in RenderState
    ]
    return (
        select(
            *by_state,
            func.sum(Render.attempts).label("claims"),  # a claim after a crash's requeue
            func.max(Render.finished_at).label("finished"),
            func.count(ReferenceMetric.id).label("metrics"),
            func.sum(ReferenceMetric.id).label("metric_ids"),  # a re-measured reference
            func.count(Sample.reference_sha256).label("references"),
            func.max(Sample.updated_at).label("samples_at"),
        )
        .select_from(ComparisonCell)
        .join(Render, Render.id == ComparisonCell.render_id)
        .join(Sample, Sample.id == ComparisonCell.sample_id)
        .outerjoin(ReferenceMetric, measured)
        .where(ComparisonCell.comparison_id == comparison_id)
        .subquery("cells")
    )


def _analysis_counts(comparison_id: BindParameter[int]) -> Subquery:
    """The grid's analyses (their count) and their items by state, as their listing shows."""
    listed = and_(Analysis.comparison_id == comparison_id, Analysis.priority == 0)
    by_state = [
        func.count(case((AnalysisItem.state == state, 1))).label(f"items_{state.value}")
        for state in AnalysisState
    ]
    return (
        select(
            func.count(func.distinct(Analysis.id)).label("analyses"),
            func.max(Analysis.id).label("newest_analysis"),
            *by_state,
            func.sum(AnalysisItem.attempts).label("item_claims"),
        )
        .select_from(Analysis)
        .outerjoin(AnalysisItem, AnalysisItem.analysis_id == Analysis.id)
        .where(listed)
        .subquery("analyses")
    )


@functools.cache
def _revision_query() -> Select[Any]:
    """The revision's one statement, built once (building it costs ten times running it)."""
    comparison_id = bindparam("comparison_id", type_=Integer)
    versions = select(ComparisonVersion.version_id).where(
        ComparisonVersion.comparison_id == comparison_id
    )
    rows = (
        select(func.count().label("rows"))
        .select_from(ComparisonSample)
        .where(ComparisonSample.comparison_id == comparison_id)
        .subquery("rows")
    )
    picks = (
        select(
            func.count().label("picks"),
            func.max(Pick.created_at).label("picked_at"),
            func.sum(Pick.version_id).label("picked_versions"),
            func.sum(Pick.sample_id).label("picked_samples"),
            func.sum(Pick.reviewer_id).label("pickers"),
        )
        .where(Pick.comparison_id == comparison_id)
        .subquery("picks")
    )
    comments = (
        select(
            func.count().label("comments"),
            func.max(Comment.updated_at).label("commented_at"),
            func.sum(Comment.id).label("comment_ids"),
        )
        .where(Comment.comparison_id == comparison_id)
        .subquery("comments")
    )
    columns = (
        select(
            func.count().label("status_changes"),
            func.max(VersionStatusChange.id).label("status_change"),
        )
        .where(VersionStatusChange.version_id.in_(versions))
        .subquery("columns")
    )
    others = select(
        select(Job.cancelled_at)
        .where(Job.id == bindparam("job_id", type_=Integer))
        .scalar_subquery()
        .label("cancelled_at"),
        select(Filter.updated_at)
        .where(Filter.id == bindparam("filter_id", type_=Integer))
        .scalar_subquery()
        .label("filter_at"),
        select(func.max(User.updated_at)).scalar_subquery().label("users_at"),
    ).subquery("others")
    parts = [
        rows,
        _cell_counts(comparison_id),
        picks,
        comments,
        columns,
        _analysis_counts(comparison_id),
        others,
    ]
    joined: FromClause = parts[0]
    for part in parts[1:]:
        joined = joined.join(part, true())  # each is one row: one row in all
    return select(*(c for part in parts for c in part.c)).select_from(joined)


def grid_revision(session: Session, *, comparison: Comparison) -> GridRevision:
    """Fingerprint everything a comparison's grid page and API show, in ONE query.

    It changes when any cell's render moves on (state counts, claims, finish times), a metric
    or a reference lands, a pick, a comment or an analysis changes, a version's status, a
    sample, the filter or a user (names are shown) is edited, or the job is cancelled (the
    job's status follows from its renders and that). Pages cache their body by it and answer
    If-None-Match with 304 while it holds, so it must never stay put while a shown thing moves.
    """
    # On the connection, past the ORM: plain values, and half the cost on a hot page.
    values = (
        session.connection()
        .execute(
            _revision_query(),
            {
                "comparison_id": comparison.id,
                "job_id": comparison.job_id,
                "filter_id": comparison.filter_id,
            },
        )
        .one()
    )
    digest = hashlib.sha256(repr((comparison.id, comparison.job_id, tuple(values))).encode())
    return GridRevision(tag=digest.hexdigest()[:32], rows=values.rows)


def median_render_ms(session: Session, *, comparison: Comparison) -> dict[int, float]:
    """Return each column's median render time (ms) over its done cells."""
    durations: dict[int, list[float]] = {}
    for version_id, duration in session.execute(
        select(ComparisonCell.version_id, Render.duration_ms)
        .join(Render, Render.id == ComparisonCell.render_id)
        .where(
            ComparisonCell.comparison_id == comparison.id,
            Render.state == RenderState.DONE,
            Render.duration_ms.is_not(None),
        )
    ):
        if duration is not None:  # the query excludes them; this tells the type checker
            durations.setdefault(version_id, []).append(duration)
    return {version_id: statistics.median(values) for version_id, values in durations.items()}


def grid_context(
    session: Session,
    *,
    comparison: Comparison,
    page: int,
    reader: User | None,
    sample_order: list[int] | None = None,
) -> dict[str, object]:
    """Return the grid body's context, but its pager: rows, column stats, progress, review."""
    grid = comparisons_service.read_grid(
        session, comparison=comparison, page=page, per_page=ROWS_PER_PAGE, sample_order=sample_order
    )
    return {
        "comparison": comparison,
        "grid": grid,
        "labels": {v.id: v.label for v in grid.versions},
        "medians": median_render_ms(session, comparison=comparison),
        "progress": comparisons_service.comparison_progress(session, comparison=comparison),
        "page": page,
        **reviews_service.review_context(session, comparison=comparison, reader=reader),
    }


def live_context(
    session: Session, *, comparison: Comparison, render_ids: list[int], reader: User | None
) -> dict[str, object]:
    """Return what a poll of the grid brings: the progress, and the cells that moved on."""
    # Progress first, cells second: renders only move forward, so a job read as finished has
    # every cell finished in the later read. The other order let a render finish between the
    # reads; the answer said "finished" (polling stopped) over a cell still "queued".
    progress = comparisons_service.comparison_progress(session, comparison=comparison)
    cells = cells_of_renders(session, comparison=comparison, render_ids=render_ids)
    moved = [c for c in cells if c.render.state != RenderState.QUEUED]
    context: dict[str, object] = {
        "comparison": comparison,
        "progress": progress,
        "cells": moved,
        "page": 1,
        "medians": {},
    }
    if moved:  # only cells that moved are re-rendered; a poll where none did needs no more
        context |= {
            "labels": {v.id: v.label for v in comparison_versions(session, comparison=comparison)},
            "medians": median_render_ms(session, comparison=comparison),
            **reviews_service.review_context(session, comparison=comparison, reader=reader),
        }
    return context


def cells_of_renders(
    session: Session, *, comparison: Comparison, render_ids: list[int]
) -> list[Cell]:
    """Return this comparison's cells filled by `render_ids` (ids from elsewhere are ignored)."""
    if not render_ids:
        return []
    found = session.scalars(
        select(ComparisonCell)
        .options(joinedload(ComparisonCell.render))
        .where(
            ComparisonCell.comparison_id == comparison.id,
            ComparisonCell.render_id.in_(render_ids),
        )
    ).all()
    return [Cell(c.version_id, c.sample_id, c.render) for c in found]


def read_row(session: Session, *, comparison: Comparison, sample_id: int) -> RowView:
    """Return one row of a comparison with its neighbours, for the viewer."""
    order = list(
        session.scalars(
            select(ComparisonSample.sample_id)
            .where(ComparisonSample.comparison_id == comparison.id)
            .order_by(ComparisonSample.position)
        )
    )
    if sample_id not in order:
        raise NotFoundError(
            f"Sample {sample_id} is not a row of this comparison; open a row from its grid."
        )
    position = order.index(sample_id)
    sample = session.get(Sample, sample_id)
    assert sample is not None
    versions = comparison_versions(session, comparison=comparison)
    by_version = {
        c.version_id: c
        for c in session.scalars(
            select(ComparisonCell)
            .options(joinedload(ComparisonCell.render))
            .where(
                ComparisonCell.comparison_id == comparison.id,
                ComparisonCell.sample_id == sample_id,
            )
        )
    }
    cells = [Cell(v.id, sample_id, by_version[v.id].render) for v in versions]
    return RowView(
        sample=sample,
        cells=cells,
        position=position,
        total=len(order),
        previous_id=order[position - 1] if position > 0 else None,
        next_id=order[position + 1] if position + 1 < len(order) else None,
    )


def safe_name(text: str, *, fallback: str) -> str:
    """Return `text` as a portable file-name part: letters, digits, '.', '_', '+', '-'."""
    cleaned = (
        _UNDERSCORES.sub("_", _UNSAFE_NAME.sub("_", text))
        .strip("._ ")[:MAX_NAME_CHARS]
        .rstrip("._ ")
    )
    return cleaned or fallback


def _stem_and_ext(filename: str) -> tuple[str, str]:
    stem, dot, ext = filename.rpartition(".")
    return (stem, ext.lower()) if dot and stem and len(ext) <= 5 else (filename, "")


def zip_entries(session: Session, *, comparison: Comparison) -> list[ZipEntry]:
    """List the files of a comparison's ZIP: inputs under inputs/, then each done render."""
    versions = comparison_versions(session, comparison=comparison)
    samples = list(
        session.scalars(
            select(Sample)
            .join(ComparisonSample, ComparisonSample.sample_id == Sample.id)
            .where(ComparisonSample.comparison_id == comparison.id)
            .order_by(ComparisonSample.position)
        )
    )
    done = {
        (version_id, sample_id): sha256
        for version_id, sample_id, sha256 in session.execute(
            select(ComparisonCell.version_id, ComparisonCell.sample_id, Render.output_sha256)
            .join(Render, Render.id == ComparisonCell.render_id)
            .where(
                ComparisonCell.comparison_id == comparison.id,
                Render.state == RenderState.DONE,
                Render.output_sha256.is_not(None),
            )
        )
    }
    labels = {v.id: safe_name(v.label, fallback=f"version-{v.id}") for v in versions}
    used: set[str] = set()
    inputs: list[ZipEntry] = []
    outputs: list[ZipEntry] = []
    for sample in samples:
        raw_stem, ext = _stem_and_ext(sample.filename)
        stem = safe_name(raw_stem, fallback=f"sample-{sample.id}")
        if stem.lower() in used:  # two samples named alike: the id tells them apart
            stem = f"{stem}-{sample.id}"
        used.add(stem.lower())
        ext = safe_name(ext, fallback="") or sample.format.lower()
        inputs.append(ZipEntry(f"inputs/{stem}.{ext}", sample.sha256))
        for version in versions:
            sha256 = done.get((version.id, sample.id))
            if sha256:
                outputs.append(ZipEntry(f"{stem}__{labels[version.id]}.png", sha256))
    return [*inputs, *outputs]
