"""Pages: filters, the version tree of a filter, a version, and pushing from the browser."""

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ganstudio.db.tables import Filter, Version
from ganstudio.inference.render_spec import (
    FP32,
    PRECISION_CHOICES,
    REDUCED_PRECISIONS,
    FaceSettings,
)
from ganstudio.services import arena as arena_service
from ganstudio.services import audit, reference_metrics, training_metrics
from ganstudio.services import filters as filters_service
from ganstudio.services import precision as precision_service
from ganstudio.services import versions as versions_service
from ganstudio.services.errors import ServiceError
from ganstudio.vocabulary import Pipeline, VersionStatus
from ganstudio.web import metric_chart
from ganstudio.web.deps import (
    BlobsDep,
    DeveloperUser,
    SessionDep,
    SettingsDep,
    ViewerUser,
    WorkerDep,
)
from ganstudio.web.forms import refused, saved
from ganstudio.web.lineage import layout_tree
from ganstudio.web.pagination import pager
from ganstudio.web.params import Int64, PageNumber, RowId
from ganstudio.web.routes.api_filters import push_from_form
from ganstudio.web.schemas.filters import VersionPush

router = APIRouter(tags=["pages"], include_in_schema=False)
PER_PAGE = 50
MetricName = Annotated[str | None, Query(max_length=training_metrics.MAX_NAME)]
ChartAxis = Annotated[Literal["order", "step"] | None, Query()]
MAX_CHARTED = 500  # versions on the training-metrics chart (the newest)


@router.get("/filters")
def read_filters(
    request: Request, db: SessionDep, _user: ViewerUser, archived: bool = False
) -> Response:
    """List the filters (archived ones on request); developers get a form to create one."""
    return request.app.state.pages.render(
        request,
        "filters/list.html",
        {
            "summaries": filters_service.list_filters(db, archived=archived),
            "show_archived": archived,
            "pipelines": list(Pipeline),
        },
    )


@router.post("/filters")
def create_filter(
    request: Request,
    db: SessionDep,
    user: DeveloperUser,
    name: Annotated[str, Form(max_length=120)],
    slug: Annotated[str, Form(max_length=63)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
    pipeline: Annotated[str, Form(max_length=16)] = "full",
    input_size: Annotated[Int64, Form()] = 512,
) -> Response:
    """Create a filter and open its page."""
    filter_ = filters_service.create_filter(
        db,
        name=name,
        slug=slug or None,
        description=description,
        pipeline=pipeline,
        input_size=input_size,
        actor=user,
    )
    return saved(
        request,
        db,
        f"Created the filter {filter_.name}. Push its first version below.",
        f"/filters/{filter_.slug}",
    )


@router.get("/filters/{slug}")
def read_filter(
    request: Request,
    slug: str,
    db: SessionDep,
    _user: ViewerUser,
    branch: str | None = None,
    status: str | None = None,
    page: PageNumber = 1,
    metric: MetricName = None,
    axis: ChartAxis = None,
) -> Response:
    """Show a filter's version tree and list, filtered by branch and status, paginated."""
    filter_ = filters_service.get_filter(db, slug=slug)
    versions, total = versions_service.list_versions(
        db,
        filter_=filter_,
        branch=branch,
        status=status or None,
        page=page,
        per_page=PER_PAGE,
    )
    return request.app.state.pages.render(
        request,
        "filters/detail.html",
        {
            "filter": filter_,
            "face": FaceSettings.from_options(filter_.face_options),
            "summary": filters_service.summarize(db, [filter_])[0],
            "arena_versions": arena_service.count_arena_versions(db, filter_=filter_),
            "versions": versions,
            "tree": layout_tree(versions),
            **pager(
                page=page,
                total=total,
                per_page=PER_PAGE,
                noun="versions",
                base_query=urlencode(
                    [(k, v) for k, v in (("branch", branch), ("status", status)) if v]
                ),
            ),
            "branch": branch or "",
            "status": status or "",
            "branches": versions_service.branches(db, filter_=filter_),
            "heads": versions_service.branch_heads(db, filter_=filter_),
            "all_labels": [v.label for v in versions],
            "statuses": list(VersionStatus),
            "pipelines": list(Pipeline),
            **_filter_precision(db, filter_, versions),
            "feed": audit.feed(db, audit.events_for_filter(db, filter_id=filter_.id)),
            **_metric_chart(db, filter_=filter_, metric=metric, axis=axis),
        },
    )


def _filter_precision(db: Session, filter_: Filter, versions: list[Version]) -> dict[str, object]:
    """Each listed version's precision, and which of them are measured in the filter's choice."""
    used = precision_service.effective_precisions(db, filter_=filter_, versions=versions)
    return {
        "precision_choices": PRECISION_CHOICES,
        "precisions": used,
        "measured_ids": {v.id for v in versions if used[v.id].reduced},
    }


def _metric_chart(
    db: Session, *, filter_: Filter, metric: str | None, axis: metric_chart.Axis | None
) -> dict[str, object]:
    """`chart`: one training metric across the filter's versions, None when none has any;
    `only_progress`: the versions carry training numbers, but only the step (or epoch)."""
    versions, _ = versions_service.list_versions(db, filter_=filter_, per_page=MAX_CHARTED)
    names = metric_chart.metric_names(versions)
    chosen = metric if metric in names else metric_chart.default_metric(names)
    if chosen is None:
        return {"chart": None, "only_progress": any(v.training_metrics for v in versions)}
    return {"chart": metric_chart.layout_chart(versions, metric=chosen, axis=axis)}


@router.get("/filters/{slug}/metric-chart")
def read_metric_chart(
    request: Request,
    slug: str,
    db: SessionDep,
    _user: ViewerUser,
    metric: MetricName = None,
    axis: ChartAxis = None,
) -> Response:
    """The training-metrics chart alone (the filter page swaps it in when a metric is picked)."""
    filter_ = filters_service.get_filter(db, slug=slug)
    return request.app.state.pages.render(
        request,
        "filters/_metric_chart.html",
        {"filter": filter_, **_metric_chart(db, filter_=filter_, metric=metric, axis=axis)},
    )


@router.post("/filters/{slug}")
def update_filter(
    request: Request,
    slug: str,
    db: SessionDep,
    user: DeveloperUser,
    worker: WorkerDep,
    name: Annotated[str | None, Form(max_length=120)] = None,
    description: Annotated[str | None, Form(max_length=5000)] = None,
    pipeline: Annotated[str | None, Form(max_length=16)] = None,
    input_size: Annotated[Int64 | None, Form()] = None,
    faces: Annotated[str | None, Form(max_length=16)] = None,
    margin: Annotated[float | None, Form(gt=0, le=8)] = None,
    align: Annotated[str | None, Form(max_length=5)] = None,
    align_sent: Annotated[str | None, Form(max_length=1)] = None,
    precision: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    """Save a filter's settings (a face filter's crop options, the precision of its renders)."""
    filter_ = filters_service.get_filter(db, slug=slug)
    before = filter_.precision
    filters_service.update_filter(
        db,
        filter_=filter_,
        actor=user,
        name=name,
        description=description,
        pipeline=pipeline,
        input_size=input_size,
        faces=faces or None,
        margin=margin,
        # An unticked checkbox sends nothing: the hidden field says the form had one.
        align=(align == "true") if align_sent else None,
        precision=precision or None,
    )
    message = "Saved the filter."
    if filter_.precision != FP32 and filter_.precision != before:
        message += (
            f" Each version renders in {filter_.precision} once it was measured against fp32 on "
            "the demo set (its page shows the numbers); until then it renders in fp32."
        )
    response = saved(request, db, message, f"/filters/{slug}")
    worker.work_queued()  # after the commit: the worker measures the queued checks
    return response


@router.post("/filters/{slug}/archive")
def archive_filter(
    request: Request,
    slug: str,
    db: SessionDep,
    user: DeveloperUser,
    archived: Annotated[str, Form(max_length=5)] = "true",
) -> Response:
    """Archive a filter (hidden from lists and pickers) or restore it."""
    filter_ = filters_service.get_filter(db, slug=slug)
    hide = archived != "false"
    filters_service.set_archived(db, filter_=filter_, archived=hide, actor=user)
    if hide:
        message = f"Archived {filter_.name}: hidden from lists and pickers."
    else:
        message = f"Restored {filter_.name}."
    return saved(request, db, message, f"/filters/{slug}")


@router.post("/filters/{slug}/versions")
def push_version(
    request: Request,
    slug: str,
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    user: DeveloperUser,
    form: Annotated[VersionPush, Depends()],
) -> Response:
    """Push a version from the page (the script-free fallback of the drag-and-drop form)."""
    try:
        version = push_from_form(
            db, slug=slug, form=form, actor=user, blobs=blobs, settings=settings
        )
    except ServiceError as exc:
        return refused(request, db, exc, f"/filters/{slug}#push")
    return saved(
        request, db, f"Pushed {version.label}: checked and measured.", f"/versions/{version.id}"
    )


@router.get("/versions/{version_id}")
def read_version(
    request: Request, version_id: RowId, db: SessionDep, _user: ViewerUser
) -> Response:
    """Show a version: notes, stats, status history, parent and children, download."""
    version = versions_service.get_version(db, version_id=version_id)
    return request.app.state.pages.render(
        request,
        "filters/version.html",
        {
            "version": version,
            "filter": version.filter,
            "children": versions_service.children(db, version=version),
            "history": versions_service.status_history(db, version=version),
            "training_metrics": training_metrics.table_rows(version.training_metrics),
            "statuses": list(VersionStatus),
            "reference_means": reference_metrics.set_means(db, version_id=version.id),
            **_precision(db, version),
        },
    )


def _precision(db: Session, version: Version) -> dict[str, object]:
    return {
        "precision": precision_service.version_precision(
            db, version=version, filter_=version.filter
        ),
        "reduced_precisions": REDUCED_PRECISIONS,
        "what_is_measured": precision_service.WHAT_IS_MEASURED,
    }


@router.get("/versions/{version_id}/precision")
def read_version_precision(
    request: Request, version_id: RowId, db: SessionDep, _user: ViewerUser
) -> Response:
    """The version's Precision section alone (the page polls it while a check is pending)."""
    version = versions_service.get_version(db, version_id=version_id)
    return request.app.state.pages.render(
        request,
        "filters/_precision.html",
        {"version": version, "filter": version.filter, **_precision(db, version)},
    )


@router.post("/versions/{version_id}/precision-checks")
def measure_precision(
    request: Request,
    version_id: RowId,
    db: SessionDep,
    user: DeveloperUser,
    worker: WorkerDep,
    precision: Annotated[str, Form(max_length=8)] = "bf16",
) -> Response:
    """Measure the version in bf16/fp16 against fp32 on the demo set (the worker runs it)."""
    version = versions_service.get_version(db, version_id=version_id)
    url = f"/versions/{version.id}#precision"
    try:
        check = precision_service.measure_again(
            db, version=version, precision=precision, actor=user
        )
    except ServiceError as exc:
        return refused(request, db, exc, url)
    message = (
        f"Measuring {version.label} in {check.precision} against fp32 on the demo set; the "
        "numbers appear below when the worker is done."
    )
    response = saved(request, db, message, url)
    worker.work_queued()
    return response


@router.post("/versions/{version_id}")
def update_version(
    request: Request,
    version_id: RowId,
    db: SessionDep,
    user: DeveloperUser,
    notes: Annotated[str | None, Form(max_length=20_000)] = None,
    status: Annotated[str | None, Form(max_length=16)] = None,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Save a version's notes or change its status."""
    version = versions_service.get_version(db, version_id=version_id)
    versions_service.update_version(
        db, version=version, actor=user, notes=notes, status=status, reason=reason
    )
    return saved(request, db, f"Saved {version.label}.", f"/versions/{version.id}")
