"""API: comparisons and the jobs that fill them."""

from fastapi import APIRouter, status
from fastapi.responses import StreamingResponse

from ganstudio.db.tables import Render
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import filters as filters_service
from ganstudio.services import renders as renders_service
from ganstudio.services import samples as samples_service
from ganstudio.services import versions as versions_service
from ganstudio.vocabulary import RenderState
from ganstudio.web.deps import BlobsDep, SessionDep, SettingsDep, ViewerUser, WorkerDep
from ganstudio.web.downloads import zip_response
from ganstudio.web.params import RowId
from ganstudio.web.schemas.comparisons import (
    CellPublic,
    ColumnPublic,
    ComparisonCreate,
    ComparisonCreated,
    ComparisonPublic,
    JobPublic,
    RowPublic,
)
from ganstudio.web.urls import blob_url

router = APIRouter(prefix="/api/v1", tags=["comparisons and jobs"])


def job_public(progress: renders_service.JobProgress) -> JobPublic:
    job = progress.job
    return JobPublic(
        id=job.id,
        kind=job.kind,
        title=job.title,
        status=progress.status,
        total=progress.total,
        done=progress.done,
        failed=progress.failed,
        running=progress.running,
        queued=progress.queued,
        percent=progress.percent,
        errors=progress.errors,
        created_at=job.created_at,
    )


def cell_public(version_id: int, sample_id: int, render: Render) -> CellPublic:
    done = render.state == RenderState.DONE
    return CellPublic(
        version_id=version_id,
        sample_id=sample_id,
        state=render.state,
        error=render.error or None,
        render_url=blob_url(render.output_sha256) if done else None,
        thumb_url=blob_url(render.thumb_sha256) if done else None,
        duration_ms=render.duration_ms,
    )


@router.post("/comparisons", status_code=status.HTTP_201_CREATED)
def create_comparison(
    body: ComparisonCreate,
    worker: WorkerDep,
    db: SessionDep,
    settings: SettingsDep,
    user: ViewerUser,
) -> ComparisonCreated:
    """Save a comparison and queue the renders it is missing; it fills as they land."""
    filter_ = filters_service.get_filter(db, slug=body.filter)
    versions = versions_service.choose_versions(
        db, filter_=filter_, refs=body.versions, count=versions_service.COMPARISON
    )
    tags = samples_service.normalize_tags(body.tags) if body.tags else None
    samples = comparisons_service.resolve_samples(
        db,
        set_ref=str(body.set) if body.set is not None else None,
        sample_ids=body.samples,
        tags=tags,
        limit=settings.max_comparison_samples,
    )
    comparison, job = comparisons_service.create_comparison(
        db, filter_=filter_, versions=versions, samples=samples, title=body.title, actor=user
    )
    db.commit()
    worker.wake.set()
    return ComparisonCreated(
        id=comparison.id,
        slug=comparison.slug,
        url=f"/c/{comparison.slug}",
        title=comparison.title,
        job=job_public(renders_service.job_progress(db, job=job)),
    )


@router.get("/comparisons/{ref}")
def read_comparison(
    ref: str, db: SessionDep, settings: SettingsDep, _user: ViewerUser
) -> ComparisonPublic:
    """Return a comparison's versions, samples and each cell's state and render URL."""
    comparison = comparisons_service.get_comparison(db, ref=ref)
    grid = comparisons_service.read_grid(
        db, comparison=comparison, per_page=settings.max_comparison_samples
    )
    job = renders_service.get_job(db, job_id=comparison.job_id) if comparison.job_id else None
    return ComparisonPublic(
        id=comparison.id,
        slug=comparison.slug,
        url=f"/c/{comparison.slug}",
        title=comparison.title,
        filter=comparison.filter.slug,
        created_at=comparison.created_at,
        created_by=comparison.created_by.name if comparison.created_by else None,
        versions=[
            ColumnPublic(id=v.id, label=v.label, branch=v.branch, status=v.status)
            for v in grid.versions
        ],
        samples=[
            RowPublic(
                id=s.id,
                filename=s.filename,
                input_url=blob_url(s.sha256),
                thumb_url=blob_url(s.thumb_sha256),
            )
            for s, _ in grid.rows
        ],
        cells=[
            cell_public(c.version_id, c.sample_id, c.render)
            for _, cells in grid.rows
            for c in cells
        ],
        job=job_public(renders_service.job_progress(db, job=job)) if job else None,
    )


@router.get(
    "/comparisons/{ref}/download",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
def download_comparison(
    ref: str, db: SessionDep, blobs: BlobsDep, _user: ViewerUser
) -> StreamingResponse:
    """Stream a ZIP: each done render as `{sample stem}__{version label}.png`, inputs in inputs/."""
    return zip_response(db, blobs, comparisons_service.get_comparison(db, ref=ref))


@router.get("/jobs/{job_id}")
def read_job(job_id: RowId, db: SessionDep, user: ViewerUser) -> JobPublic:
    """Return a job's status and progress: total, done, failed, and the errors."""
    job = renders_service.get_job(db, job_id=job_id, reader=user)
    return job_public(renders_service.job_progress(db, job=job))


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: RowId, db: SessionDep, user: ViewerUser) -> JobPublic:
    """Stop a job; renders another live job waits for still run."""
    job = renders_service.get_job(db, job_id=job_id, reader=user)
    renders_service.cancel_job(db, job=job, actor=user)
    db.commit()
    return job_public(renders_service.job_progress(db, job=job))
