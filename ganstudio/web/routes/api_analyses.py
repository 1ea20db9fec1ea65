"""API: analyses (attention maps, feature maps) and the layers a version offers them."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from ganstudio.analysis.regions import RegionError, parse_region
from ganstudio.services import analyses as analyses_service
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import filters as filters_service
from ganstudio.services import renders as renders_service
from ganstudio.services import versions as versions_service
from ganstudio.services.errors import InvalidInputError
from ganstudio.web.deps import SessionDep, SettingsDep, ViewerUser, WorkerDep
from ganstudio.web.params import PageNumber, PerPage, RowId
from ganstudio.web.schemas import Page
from ganstudio.web.schemas.analyses import (
    AnalysisCreate,
    AnalysisCreated,
    AnalysisPublic,
    AnalysisSummaryPublic,
    BoxRegion,
    LayerPublic,
    analysis_created,
    analysis_public,
    analysis_summary_public,
    layers_public,
)

router = APIRouter(prefix="/api/v1", tags=["analyses"])


@router.post("/analyses", status_code=status.HTTP_201_CREATED)
def create_analysis(
    body: AnalysisCreate,
    worker: WorkerDep,
    db: SessionDep,
    settings: SettingsDep,
    user: ViewerUser,
) -> AnalysisCreated:
    """Start an analysis: each version's attention (Grad-CAM) on a region, or its strongest
    feature channels, on each sample; a job the worker fills (cached results are done at once).
    `why`: the viewer's look at one sample, a read (no feed entry; an earlier one is reused)."""
    filter_ = filters_service.get_filter(db, slug=body.filter)
    versions = versions_service.choose_versions(
        db, filter_=filter_, refs=body.versions, count=analyses_service.ANALYSIS
    )
    region_value = {"box": body.region.box} if isinstance(body.region, BoxRegion) else body.region
    try:
        region = parse_region(region_value)
    except RegionError as exc:
        raise InvalidInputError(str(exc)) from None
    samples = comparisons_service.resolve_samples(
        db,
        set_ref=str(body.set) if body.set is not None else None,
        sample_ids=body.samples,
        tags=None,
        limit=settings.max_comparison_samples,
    )
    analysis, job = analyses_service.create_analysis(
        db,
        filter_=filter_,
        versions=versions,
        samples=samples,
        kind=body.kind,
        region=region,
        layer=body.layer or None,
        actor=user,
        app_settings=settings,
        title=body.title,
        interactive=len(samples) == 1,
        face=body.face,
        why=body.why,
    )
    db.commit()
    worker.work_queued()
    return analysis_created(analysis, renders_service.job_progress(db, job=job))


@router.get("/analyses")
def list_analyses(
    db: SessionDep,
    _user: ViewerUser,
    filter: Annotated[str | None, Query(max_length=64, description="a filter's slug")] = None,
    comparison: Annotated[
        str | None, Query(max_length=64, description="the comparison it was started from")
    ] = None,
    why: Annotated[
        bool, Query(description="also the viewer's one-sample Why analyses (hidden by default)")
    ] = False,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> Page[AnalysisSummaryPublic]:
    """List analyses, newest first: what each looked at (kind, region, layer), its versions,
    how many samples, its progress, who started it and when."""
    filter_ = filters_service.get_filter(db, slug=filter) if filter else None
    found = comparisons_service.get_comparison(db, ref=comparison) if comparison else None
    listings, total = analyses_service.list_analyses(
        db, filter_=filter_, comparison=found, page=page, per_page=per_page, include_why=why
    )
    return Page(
        items=[analysis_summary_public(one) for one in listings],
        total=total,
        page=page,
        per_page=per_page,
    )


@router.get("/analyses/{ref}")
def read_analysis(ref: str, db: SessionDep, _user: ViewerUser) -> AnalysisPublic:
    """Return an analysis's items (state, map URL, region share, layer) and a summary per
    version (mean and median share over the done items)."""
    analysis = analyses_service.get_analysis(db, ref=ref)
    view = analyses_service.read_analysis(db, analysis=analysis)
    job = renders_service.get_job(db, job_id=analysis.job_id) if analysis.job_id else None
    progress = renders_service.job_progress(db, job=job) if job else None
    comparison = analysis.comparison.slug if analysis.comparison else None
    return analysis_public(view, progress, comparison)


@router.get("/versions/{version_id}/layers")
def read_layers(
    version_id: RowId, db: SessionDep, settings: SettingsDep, _user: ViewerUser
) -> list[LayerPublic]:
    """The layers an analysis can look at, default first. TorchScript versions cannot be hooked:
    their one entry is the input (input-gradient saliency), and its note says so."""
    version = versions_service.get_version(db, version_id=version_id)
    return layers_public(version, analyses_service.version_layers(version, settings))
