"""API: comparisons and the jobs that fill them."""

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import StreamingResponse

from ganstudio.db.session import read_snapshot
from ganstudio.services import comparison_views, reference_metrics
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import filters as filters_service
from ganstudio.services import renders as renders_service
from ganstudio.services import samples as samples_service
from ganstudio.services import versions as versions_service
from ganstudio.web.deps import BlobsDep, SessionDep, SettingsDep, ViewerUser, WorkerDep
from ganstudio.web.downloads import zip_response
from ganstudio.web.etags import etag_of, none_match, not_modified, tag
from ganstudio.web.params import RowId
from ganstudio.web.schemas.comparisons import (
    ComparisonCreate,
    ComparisonCreated,
    ComparisonPublic,
    JobPublic,
    comparison_created,
    comparison_public,
    job_public,
)

router = APIRouter(prefix="/api/v1", tags=["comparisons and jobs"])


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
    tags = samples_service.tag_filter(body.tags) if body.tags else None
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
    worker.work_queued()
    return comparison_created(comparison, renders_service.job_progress(db, job=job))


@router.get(
    "/comparisons/{ref}",
    response_model=ComparisonPublic,
    responses={304: {"description": "Not Modified: the If-None-Match ETag is still current"}},
)
def read_comparison(
    ref: str,
    request: Request,
    response: Response,
    db: SessionDep,
    settings: SettingsDep,
    _user: ViewerUser,
) -> ComparisonPublic | Response:
    """Return a comparison's versions, samples and each cell's state and render URL.

    Cells of samples with a reference carry `metrics` (PSNR, SSIM; null while pending). The
    job's status and the cells come from one database state: it never says "done" beside a
    cell still running. The answer has an `ETag`; send it back as `If-None-Match` to get a
    304 (no body) while nothing it shows has changed.
    """
    read_snapshot(db)
    comparison = comparisons_service.get_comparison(db, ref=ref)
    revision = comparison_views.grid_revision(db, comparison=comparison)
    etag = etag_of("api", comparison.id, revision.tag, settings.max_comparison_samples)
    if none_match(request, etag):
        return not_modified(etag)
    grid = comparisons_service.read_grid(
        db, comparison=comparison, per_page=settings.max_comparison_samples
    )
    progress = comparisons_service.comparison_progress(db, comparison=comparison)
    metrics = reference_metrics.comparison_metrics(
        db, comparison=comparison, version_ids=[v.id for v in grid.versions]
    )
    tag(response, etag)
    return comparison_public(comparison, grid, progress, metrics)


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
    renders_service.cancel_job(db, job=job, actor=user)  # it decides who may
    db.commit()
    return job_public(renders_service.job_progress(db, job=job))
