"""Pages: the list of analyses, an analysis (region share per sample × version, a chart,
progress, cancel), and starting one over a comparison's samples."""

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from ganstudio.analysis.regions import RegionError, parse_region, words_for
from ganstudio.config import Settings
from ganstudio.db.tables import Analysis, Version
from ganstudio.services import analyses as analyses_service
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import filters as filters_service
from ganstudio.services import renders as renders_service
from ganstudio.services.errors import InvalidInputError, ServiceError
from ganstudio.vocabulary import AnalysisKind
from ganstudio.web.deps import SessionDep, SettingsDep, ViewerUser, WorkerDep
from ganstudio.web.forms import refused, saved
from ganstudio.web.pagination import pager
from ganstudio.web.params import PageNumber
from ganstudio.web.schemas.analyses import layers_public

router = APIRouter(tags=["pages"], include_in_schema=False)
LIST_PAGE = 30  # analyses on one page of /analyses


def regions_for(pipeline: str) -> list[tuple[str, str]]:
    """The form's regions; a face filter's "whole image" is the whole face crop."""
    return [(kind, words_for(kind, pipeline)) for kind in ("eyes", "face", "image")]


def _context(db: SessionDep, ref: str) -> dict:
    analysis = analyses_service.get_analysis(db, ref=ref)
    view = analyses_service.read_analysis(db, analysis=analysis)
    job = renders_service.get_job(db, job_id=analysis.job_id) if analysis.job_id else None
    progress = renders_service.job_progress(db, job=job) if job else None
    region = parse_region(analysis.region)
    items = view.progress  # the same read as the cells, so "done" never sits beside "queued"
    pipeline = str(analysis.settings.get("pipeline", ""))
    return {
        "analysis": analysis,
        "view": view,
        "progress": progress,
        "items": items,
        # Poll until no item is queued or running: after Cancel, a running one still finishes.
        "live": items.live or bool(progress and not progress.finished),
        "region": region,
        "region_words": words_for(region.kind, pipeline),
        "face_pipeline": pipeline == "face",
        "no_face": analyses_service.NO_FACE,
        "why_query": why_query(analysis, view.versions),
    }


def why_query(analysis: Analysis, versions: list[Version]) -> str:
    """The viewer's query (less the sample) that opens its Why mode as this analysis looked:
    the region (and box), the face, the layer of each version, and features."""
    region = parse_region(analysis.region)
    query: list[tuple[str, str]] = [("mode", "why"), ("region", region.kind)]
    if region.box is not None:
        query.append(("box", ",".join(str(round(v)) for v in region.box)))
    if analysis.face:
        query.append(("face", str(analysis.face)))
    if analysis.kind == AnalysisKind.FEATURES:
        query.append(("features", "1"))
    if analysis.layer:
        query.append(("layer", ",".join(f"{v.id}:{analysis.layer}" for v in versions)))
    return urlencode(query)


def _layer_choices(versions: list[Version], settings: Settings) -> dict[str, Any]:
    """The first version's layers for the form's dropdown (default first), and whether the
    other versions' layers differ (then a missing one falls back to that version's default)."""
    if not versions:
        return {"layers": [], "layers_differ": False}
    try:
        lists = [layers_public(v, analyses_service.version_layers(v, settings)) for v in versions]
    except Exception:  # an executor that cannot list them: the form still works on defaults
        return {"layers": [], "layers_differ": False}
    names = [[layer.name for layer in one] for one in lists]
    return {"layers": lists[0], "layers_differ": any(n != names[0] for n in names[1:])}


@router.get("/analyses")
def read_analyses(
    request: Request,
    db: SessionDep,
    _user: ViewerUser,
    filter: Annotated[str, Query(max_length=64)] = "",
    comparison: Annotated[str, Query(max_length=64)] = "",
    page: PageNumber = 1,
) -> Response:
    """Every analysis, newest first: kind, region, versions, samples, progress, who and when."""
    filter_ = filters_service.get_filter(db, slug=filter) if filter else None
    found = comparisons_service.get_comparison(db, ref=comparison) if comparison else None
    listings, total = analyses_service.list_analyses(
        db, filter_=filter_, comparison=found, page=page, per_page=LIST_PAGE
    )
    kept = [(k, v) for k, v in (("filter", filter), ("comparison", comparison)) if v]
    return request.app.state.pages.render(
        request,
        "analyses/list.html",
        {
            "listings": listings,
            "filters": filters_service.list_filters(db),
            "chosen_filter": filter_,
            "chosen_comparison": found,
            **pager(
                page=page,
                total=total,
                per_page=LIST_PAGE,
                base_query=urlencode(kept),
                noun="analyses",
            ),
        },
    )


@router.get("/analyses/new")
def read_new_analysis(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
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
        {
            "comparison": found,
            "versions": versions,
            "rows": rows,
            "regions": regions_for(found.filter.pipeline),
            **_layer_choices(versions, settings),
        },
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
            comparison=found,
            layer_fallback=True,  # the form lists the first version's layers
        )
    except ServiceError as exc:
        return refused(request, db, exc, back)
    response = saved(request, db, None, f"/analyses/{analysis.slug}")
    worker.work_queued()
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
