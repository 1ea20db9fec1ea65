"""Pages: an analysis (region share per sample × version, a chart, progress, cancel), and
starting one over a comparison's samples."""

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from ganstudio.analysis.regions import WORDS, RegionError, parse_region
from ganstudio.services import analyses as analyses_service
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import renders as renders_service
from ganstudio.services.errors import InvalidInputError, ServiceError
from ganstudio.vocabulary import AnalysisKind
from ganstudio.web.deps import SessionDep, SettingsDep, ViewerUser, WorkerDep
from ganstudio.web.forms import refused, saved

router = APIRouter(tags=["pages"], include_in_schema=False)
REGIONS = [(kind, WORDS[kind]) for kind in ("eyes", "face", "image")]


def _context(db: SessionDep, ref: str) -> dict:
    analysis = analyses_service.get_analysis(db, ref=ref)
    view = analyses_service.read_analysis(db, analysis=analysis)
    job = renders_service.get_job(db, job_id=analysis.job_id) if analysis.job_id else None
    progress = renders_service.job_progress(db, job=job) if job else None
    region = parse_region(analysis.region)
    return {"analysis": analysis, "view": view, "progress": progress, "region": region}


@router.get("/analyses/new")
def read_new_analysis(
    request: Request,
    db: SessionDep,
    _user: ViewerUser,
    comparison: Annotated[str, Query(max_length=64)],
) -> Response:
    """The form that starts an analysis over a comparison's samples and versions."""
    found = comparisons_service.get_comparison(db, ref=comparison)
    versions = comparisons_service.comparison_versions(db, comparison=found)
    rows = comparisons_service.count_rows(db, comparison=found)
    return request.app.state.pages.render(
        request,
        "analyses/new.html",
        {"comparison": found, "versions": versions, "rows": rows, "regions": REGIONS},
    )


@router.post("/analyses")
def create_analysis(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    user: ViewerUser,
    worker: WorkerDep,
    comparison: Annotated[str, Form(max_length=64)],
    kind: Annotated[str, Form(max_length=16)] = AnalysisKind.GRADCAM.value,
    region: Annotated[str, Form(max_length=16)] = "eyes",
    layer: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Start an analysis of a comparison's versions on its samples, and open its page."""
    back = f"/analyses/new?comparison={comparison}"
    try:
        found = comparisons_service.get_comparison(db, ref=comparison)
        versions = comparisons_service.comparison_versions(db, comparison=found)
        samples = [
            sample
            for sample, _cells in comparisons_service.read_grid(
                db, comparison=found, per_page=settings.max_comparison_samples
            ).rows
        ]
        try:
            parsed_kind = AnalysisKind(kind)
            parsed_region = parse_region(region)
        except (ValueError, RegionError) as exc:
            raise InvalidInputError(
                str(exc) if isinstance(exc, RegionError) else "Choose attention or features."
            ) from None
        analysis, _job = analyses_service.create_analysis(
            db,
            filter_=found.filter,
            versions=versions,
            samples=samples,
            kind=parsed_kind,
            region=parsed_region,
            layer=layer.strip() or None,
            actor=user,
            app_settings=settings,
        )
    except ServiceError as exc:
        return refused(request, db, exc, back)
    response = saved(request, db, None, f"/analyses/{analysis.slug}")
    worker.wake.set()
    return response


@router.get("/analyses/{ref}")
def read_analysis(request: Request, ref: str, db: SessionDep, _user: ViewerUser) -> Response:
    """An analysis: the region share per sample (rows) × version (columns), the mean per
    version as a bar chart, and live progress with a Cancel button."""
    return request.app.state.pages.render(request, "analyses/page.html", _context(db, ref))


@router.get("/analyses/{ref}/live")
def read_analysis_live(request: Request, ref: str, db: SessionDep, _user: ViewerUser) -> Response:
    """The page's body, polled while the job runs."""
    return request.app.state.pages.render(request, "analyses/_body.html", _context(db, ref))


@router.post("/analyses/{ref}/cancel")
def cancel_analysis(request: Request, ref: str, db: SessionDep, user: ViewerUser) -> Response:
    """Stop an analysis: its queued items are skipped (one running finishes)."""
    analysis = analyses_service.get_analysis(db, ref=ref)
    url = f"/analyses/{analysis.slug}"
    try:
        if analysis.job_id is None:
            raise InvalidInputError("This analysis has no job to cancel.")
        job = renders_service.get_job(db, job_id=analysis.job_id, reader=user)
        renders_service.cancel_job(db, job=job, actor=user)
    except ServiceError as exc:
        return refused(request, db, exc, url)
    return saved(request, db, "Analysis cancelled; the items not yet run are skipped.", url)
