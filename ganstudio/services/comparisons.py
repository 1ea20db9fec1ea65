"""Comparisons: pick versions × samples, freeze them, queue the missing renders, read the grid."""

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, joinedload

from ganstudio.db.base import parse_id
from ganstudio.db.session import new_slug
from ganstudio.db.tables import (
    Comparison,
    ComparisonCell,
    ComparisonSample,
    ComparisonVersion,
    Filter,
    Job,
    Render,
    Sample,
    User,
    Version,
)
from ganstudio.services import audit
from ganstudio.services import precision as precision_service
from ganstudio.services import renders as renders_service
from ganstudio.services import sample_sets as sets_service
from ganstudio.services import samples as samples_service
from ganstudio.services.errors import InvalidInputError, NotFoundError
from ganstudio.vocabulary import JobKind


@dataclass(frozen=True)
class Cell:
    version_id: int
    sample_id: int
    render: Render


@dataclass(frozen=True)
class Grid:
    """One page of a comparison: its columns, and rows of (sample, cells in column order)."""

    comparison: Comparison
    versions: list[Version]
    rows: list[tuple[Sample, list[Cell]]]
    total_rows: int


def resolve_samples(
    session: Session,
    *,
    set_ref: str | None,
    sample_ids: list[int] | None,
    tags: list[str] | None,
    limit: int,
) -> list[Sample]:
    """Return the rows: a set's live samples in order, explicit ids, or samples with all tags."""
    if sample_ids:
        samples = list(session.scalars(select(Sample).where(Sample.id.in_(sample_ids))))
        by_id = {s.id: s for s in samples}
        missing = [i for i in sample_ids if i not in by_id]
        if missing:
            raise InvalidInputError(
                f"No sample has the id {missing[0]}; pick samples from the Samples page."
            )
        ordered = [by_id[i] for i in dict.fromkeys(sample_ids)]
    elif set_ref:
        sample_set = sets_service.resolve_set(session, ref=set_ref, actor=None)
        query = samples_service.SampleQuery(sample_set=sample_set, tags=tuple(tags or ()))
        ordered, _ = samples_service.list_samples(session, query=query, per_page=limit + 1)
    elif tags:
        query = samples_service.SampleQuery(tags=tuple(tags))
        ordered, _ = samples_service.list_samples(session, query=query, per_page=limit + 1)
    else:
        raise InvalidInputError("Choose the samples: a sample set, tags, or sample ids.")
    if not ordered:
        raise InvalidInputError("No samples match that choice; pick another set or tags.")
    if len(ordered) > limit:
        raise InvalidInputError(
            f"That is more than {limit} samples; narrow it with tags or a smaller set."
        )
    return ordered


def create_comparison(
    session: Session,
    *,
    filter_: Filter,
    versions: list[Version],
    samples: list[Sample],
    title: str,
    actor: User | None,
) -> tuple[Comparison, Job]:
    """Save a comparison, find or queue each cell's render, and return it with its job."""
    settings = precision_service.filter_settings(filter_)
    # Each version in the precision it may use: bf16/fp16 only where measured (services/precision).
    by_version = precision_service.render_settings_by_version(
        session, filter_=filter_, versions=versions
    )
    title = title.strip()[:200] or f"{filter_.name}: " + " vs ".join(v.label for v in versions)
    comparison = Comparison(
        slug=new_slug(session, Comparison.slug),
        title=title,
        filter_id=filter_.id,
        settings=settings.as_dict(),
        created_by_id=actor.id if actor else None,
    )
    session.add(comparison)
    session.flush()
    renders: list[Render] = []
    for position, version in enumerate(versions):
        session.add(
            ComparisonVersion(comparison_id=comparison.id, version_id=version.id, position=position)
        )
    for position, sample in enumerate(samples):
        session.add(
            ComparisonSample(comparison_id=comparison.id, sample_id=sample.id, position=position)
        )
        for version in versions:
            render = renders_service.ensure_render(
                session,
                version=version,
                input_sha256=sample.sha256,
                mask_sha256=sample.mask_sha256,
                settings=by_version[version.id],
            )
            renders.append(render)
            session.add(
                ComparisonCell(
                    comparison_id=comparison.id,
                    version_id=version.id,
                    sample_id=sample.id,
                    render_id=render.id,
                )
            )
    job = renders_service.create_job(
        session, kind=JobKind.COMPARISON, renders=renders, actor=actor, title=title
    )
    comparison.job_id = job.id
    audit.record(
        session,
        actor=actor,
        action="comparison.create",
        subject_type="comparison",
        subject_id=comparison.id,
        filter=filter_.slug,
        versions=[v.label for v in versions],
        samples=len(samples),
    )
    session.flush()
    return comparison, job


@functools.cache
def _comparison_by(column: str) -> Select[Comparison]:
    """A comparison with its filter and author, by "slug" or "id" (built once: hot pages)."""
    key = Comparison.slug if column == "slug" else Comparison.id
    return (
        select(Comparison)
        .options(joinedload(Comparison.filter), joinedload(Comparison.created_by))
        .where(key == bindparam("ref"))
    )


def get_comparison(session: Session, *, ref: str | int) -> Comparison:
    """Find a comparison by id or by its permalink slug."""
    text = str(ref).strip()
    comparison = session.scalar(_comparison_by("slug"), {"ref": text})
    comparison_id = parse_id(text)
    if comparison is None and comparison_id is not None:
        comparison = session.scalar(_comparison_by("id"), {"ref": comparison_id})
    if comparison is None:
        raise NotFoundError(f"No comparison '{text[:40]}'. Check the link, or make a new one.")
    return comparison


def comparison_versions(session: Session, *, comparison: Comparison) -> list[Version]:
    return list(
        session.scalars(
            select(Version)
            .join(ComparisonVersion, ComparisonVersion.version_id == Version.id)
            .where(ComparisonVersion.comparison_id == comparison.id)
            .order_by(ComparisonVersion.position)
        )
    )


def comparison_progress(
    session: Session, *, comparison: Comparison
) -> renders_service.JobProgress | None:
    """Return the progress of the job that fills a comparison (None for one made without)."""
    if comparison.job_id is None:
        return None
    job = renders_service.get_job(session, job_id=comparison.job_id)
    return renders_service.job_progress(session, job=job)


def count_rows(session: Session, *, comparison: Comparison) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(ComparisonSample)
            .where(ComparisonSample.comparison_id == comparison.id)
        )
        or 0
    )


def read_grid(
    session: Session,
    *,
    comparison: Comparison,
    page: int = 1,
    per_page: int = 50,
    sample_order: Sequence[int] | None = None,
) -> Grid:
    """Return one page of rows with every cell's render (4 queries, whatever the size).

    Rows come in the comparison's order, or in `sample_order` (all its sample ids, re-sorted).
    """
    versions = comparison_versions(session, comparison=comparison)
    total = count_rows(session, comparison=comparison)
    if sample_order is not None:
        wanted = list(sample_order)[(page - 1) * per_page : page * per_page]
        found = {s.id: s for s in session.scalars(select(Sample).where(Sample.id.in_(wanted)))}
        samples = [found[i] for i in wanted if i in found]
    else:
        samples = list(
            session.scalars(
                select(Sample)
                .join(ComparisonSample, ComparisonSample.sample_id == Sample.id)
                .where(ComparisonSample.comparison_id == comparison.id)
                .order_by(ComparisonSample.position)
                .offset((page - 1) * per_page)
                .limit(per_page)
            )
        )
    cells = session.scalars(
        select(ComparisonCell)
        .options(joinedload(ComparisonCell.render))
        .where(
            ComparisonCell.comparison_id == comparison.id,
            ComparisonCell.sample_id.in_([s.id for s in samples]),
        )
    ).all()
    by_key = {(c.version_id, c.sample_id): c for c in cells}
    rows = [
        (sample, [Cell(v.id, sample.id, by_key[(v.id, sample.id)].render) for v in versions])
        for sample in samples
    ]
    return Grid(comparison, versions, rows, total)
