"""Pages: new comparison, the comparison grid (live), the viewer, and the ZIP download."""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response

from ganstudio.db.base import parse_id
from ganstudio.db.session import read_snapshot
from ganstudio.db.tables import Version
from ganstudio.services import analyses as analyses_service
from ganstudio.services import comparison_views as views_service
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import face_views
from ganstudio.services import filters as filters_service
from ganstudio.services import reference_metrics as metrics_service
from ganstudio.services import references as references_service
from ganstudio.services import sample_sets as sets_service
from ganstudio.services import samples as samples_service
from ganstudio.services import versions as versions_service
from ganstudio.services.errors import ServiceError
from ganstudio.web.deps import BlobsDep, SessionDep, SettingsDep, ViewerUser, WorkerDep
from ganstudio.web.etags import etag_of, none_match, not_modified, tag
from ganstudio.web.forms import go_to, refused, saved
from ganstudio.web.pagination import page_count
from ganstudio.web.params import FaceIndex, PageNumber, RowId
from ganstudio.web.routes.api_comparisons import download_comparison
from ganstudio.web.schemas.analyses import why_data
from ganstudio.web.schemas.comparisons import ViewerRow, viewer_row_public
from ganstudio.web.security import csrf_token

router = APIRouter(tags=["pages"], include_in_schema=False)
LIST_PER_PAGE = 20
MAX_PICKER_VERSIONS = 200  # newest first
LAST_SET_KEY = "compare_last_set"
ANALYSES_SHOWN = 5  # a comparison's newest analyses, listed by its "Analyse attention" button


@router.get("/compare")
def read_compare(
    request: Request,
    db: SessionDep,
    _user: ViewerUser,
    filter: Annotated[str, Query(max_length=64)] = "",
    versions: Annotated[list[str], Query()] = [],  # noqa: B006
    sample_set: Annotated[str, Query(alias="set", max_length=200)] = "",
    page: PageNumber = 1,
) -> Response:
    """List recent comparisons and offer a form for a new one (prefilled from the query)."""
    summaries, total = views_service.recent_comparisons(db, page=page, per_page=LIST_PER_PAGE)
    filters = [s.filter for s in filters_service.list_filters(db)]
    chosen = next((f for f in filters if f.slug == filter), None)
    if chosen is None and len(filters) == 1:
        chosen = filters[0]
    versions_of_filter: list[Version] = []
    checked: set[int] = set()
    if chosen is not None:
        versions_of_filter, checked = versions_service.version_picker(
            db, filter_=chosen, refs=versions, limit=MAX_PICKER_VERSIONS
        )
    sets = sets_service.all_sets(db)
    chosen_set = sample_set or request.session.get(LAST_SET_KEY, "")
    if not any(str(s.id) == str(chosen_set) for s in sets):
        chosen_set = str(sets[0].id) if sets else ""
    return request.app.state.pages.render(
        request,
        "compare/new.html",
        {
            "summaries": summaries,
            "total": total,
            "page": page,
            "pages": page_count(total, LIST_PER_PAGE),
            "filters": filters,
            "chosen": chosen,
            "versions": versions_of_filter,
            "checked": checked,
            "sets": sets,
            "chosen_set": str(chosen_set),
            "max_versions": versions_service.MAX_SHOWN,
        },
    )


@router.post("/compare")
def create_comparison(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    user: ViewerUser,
    worker: WorkerDep,
    filter: Annotated[str, Form(max_length=64)],
    versions: Annotated[list[str], Form()] = [],  # noqa: B006
    sample_set: Annotated[str, Form(alias="set", max_length=200)] = "",
    tags: Annotated[str, Form(max_length=2000)] = "",
    title: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Save a comparison from the form, queue its renders, and open its page."""
    refs = versions_service.split_refs(versions)
    try:
        filter_ = filters_service.get_filter(db, slug=filter)
        chosen = versions_service.choose_versions(
            db, filter_=filter_, refs=refs, count=versions_service.COMPARISON, defaults=False
        )
        samples = comparisons_service.resolve_samples(
            db,
            set_ref=sample_set or None,
            sample_ids=None,
            tags=samples_service.tag_filter(tags) or None,
            limit=settings.max_comparison_samples,
        )
        comparison, _job = comparisons_service.create_comparison(
            db, filter_=filter_, versions=chosen, samples=samples, title=title, actor=user
        )
    except ServiceError as exc:
        query = urlencode({"filter": filter, "versions": ",".join(refs), "set": sample_set})
        return refused(request, db, exc, f"/compare?{query}#new")
    if sample_set:
        request.session[LAST_SET_KEY] = sample_set
    response = saved(request, db, None, f"/c/{comparison.slug}")
    worker.work_queued()  # after the commit: the worker must find the queued renders
    return response


@router.get("/c/{slug}")
def read_comparison(
    request: Request,
    slug: str,
    db: SessionDep,
    settings: SettingsDep,
    _user: ViewerUser,
    page: PageNumber = 1,
    sort: Annotated[str, Query(max_length=40, description='"ssim:<version id>": worst first')] = "",
) -> Response:
    """Show the grid: a row per sample, the input then a column per version; fills live.

    Planners reload it far more often than it changes (and many at once while a job renders):
    one query fingerprints what it shows (grid_revision); the body of hundreds of cells is
    rendered once per revision and reader, and a browser that has this revision gets a 304.
    """
    read_snapshot(db)  # the progress, the cells and the revision: one database state
    comparison = comparisons_service.get_comparison(db, ref=slug)
    revision = views_service.grid_revision(db, comparison=comparison)
    pages = page_count(revision.rows, views_service.ROWS_PER_PAGE)
    if page > pages:
        return go_to(f"/c/{comparison.slug}?page={pages}")
    version_ids: list[int] = []
    sorting = None
    if sort:
        version_ids = [
            v.id for v in comparisons_service.comparison_versions(db, comparison=comparison)
        ]
        sorting = metrics_service.parse_sort(sort, version_ids)
    # The body holds this reader's picks and CSRF token (in its forms): one per session.
    key = (comparison.id, page, _user.id, csrf_token(request), revision.tag, sorting)
    # The layout around it shows the reader's name and role, and any message (flash) once.
    showing_flash = bool(request.session.get("flash"))
    etag = etag_of("grid", key, _user.name, _user.role.value)
    if not showing_flash and none_match(request, etag):
        return not_modified(etag)
    pages_env = request.app.state.pages

    def render_body() -> str:
        ids = version_ids or [
            v.id for v in comparisons_service.comparison_versions(db, comparison=comparison)
        ]
        metrics = metrics_service.comparison_metrics(db, comparison=comparison, version_ids=ids)
        order = (
            metrics_service.rows_by_worst(db, comparison=comparison, metrics=metrics, sort=sorting)
            if sorting
            else None
        )
        # The analyses started from it (a few, newest first), listed by "Analyse attention".
        analyses, analyses_total = analyses_service.list_analyses(
            db, comparison=comparison, per_page=ANALYSES_SHOWN
        )
        return pages_env.templates.get_template("compare/_grid_body.html").render(
            request=request,
            user=_user,
            pages=pages,
            ref_metrics=metrics,
            sort=f"{sorting[0]}:{sorting[1]}" if sorting else "",
            base_query=urlencode({"sort": sort}) if sorting else "",
            lpips=metrics_service.lpips_status(settings),
            reference_rule=references_service.SIZE_RULE,
            analyses=analyses,
            analyses_total=analyses_total,
            **views_service.grid_context(
                db, comparison=comparison, page=page, reader=_user, sample_order=order
            ),
        )

    body = request.app.state.fragments.get_or_render(key, render_body)
    response = pages_env.render(
        request, "compare/grid.html", {"comparison": comparison, "body": body}
    )
    if not showing_flash:  # a message is shown once: that page is not to be kept
        tag(response, etag)
    return response


@router.get("/c/{slug}/metrics")
def read_comparison_metrics(slug: str, db: SessionDep, _user: ViewerUser) -> dict[str, int]:
    """How many of the grid's PSNR/SSIM are still pending (the grid reloads when none is)."""
    comparison = comparisons_service.get_comparison(db, ref=slug)
    versions = comparisons_service.comparison_versions(db, comparison=comparison)
    metrics = metrics_service.comparison_metrics(
        db, comparison=comparison, version_ids=[v.id for v in versions]
    )
    return {"pending": metrics.pending, "with_reference": metrics.with_reference}


@router.get("/c/{slug}/live")
def read_comparison_live(
    request: Request,
    slug: str,
    db: SessionDep,
    _user: ViewerUser,
    waiting: Annotated[str, Query(max_length=20_000)] = "",
) -> Response:
    """Answer a poll: the progress bar, plus the cells (of `waiting` render ids) that moved on."""
    comparison = comparisons_service.get_comparison(db, ref=slug)
    parsed = (parse_id(part.strip()) for part in waiting.split(","))
    render_ids = [render_id for render_id in parsed if render_id is not None][:2000]
    return request.app.state.pages.render(
        request,
        "compare/_live.html",
        views_service.live_context(db, comparison=comparison, render_ids=render_ids, reader=_user),
    )


@router.get("/c/{slug}/view")
def read_viewer(
    request: Request,
    slug: str,
    db: SessionDep,
    _user: ViewerUser,
    sample: RowId,
) -> Response:
    """Show one row full size: synced zoom and pan, a before/after slider, a difference map."""
    comparison = comparisons_service.get_comparison(db, ref=slug)
    row = views_service.read_row(db, comparison=comparison, sample_id=sample)
    versions = comparisons_service.comparison_versions(db, comparison=comparison)
    faces = face_views.row_faces(db, comparison=comparison, row=row)
    payload = viewer_row_public(comparison, row, versions, faces).model_dump(mode="json")
    why = why_data(comparison, row.sample, versions)  # the "Why" mode (attention maps)
    return request.app.state.pages.render(
        request,
        "compare/view.html",
        {"comparison": comparison, "row": row, "payload": payload, "why": why},
    )


@router.get("/c/{slug}/row")
def read_viewer_row(slug: str, db: SessionDep, _user: ViewerUser, sample: RowId) -> ViewerRow:
    """Return one row's columns as JSON, for the viewer to poll while renders land."""
    comparison = comparisons_service.get_comparison(db, ref=slug)
    row = views_service.read_row(db, comparison=comparison, sample_id=sample)
    versions = comparisons_service.comparison_versions(db, comparison=comparison)
    faces = face_views.row_faces(db, comparison=comparison, row=row)
    return viewer_row_public(comparison, row, versions, faces)


# Computed on demand; the URL names no content (a re-analysis may move a face), so browsers keep
# the image but ask again, and get a 304 while its content key (the ETag) holds.
REVALIDATE = "private, no-cache"


def _png(request: Request, image: face_views.CropImage) -> Response:
    etag = f'"{image.etag}"'
    headers = {"ETag": etag, "Cache-Control": REVALIDATE}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(image.data, media_type="image/png", headers=headers)


@router.get("/c/{slug}/faces/{sample_id}/eye-mask.png")
def read_viewer_eye_mask(
    request: Request,
    slug: str,
    sample_id: RowId,
    db: SessionDep,
    _user: ViewerUser,
) -> Response:
    """The row's eye mask made from its face landmarks (the viewer's "Eye mask" overlay)."""
    comparison = comparisons_service.get_comparison(db, ref=slug)
    return _png(request, face_views.eye_mask_image(db, comparison=comparison, sample_id=sample_id))


# What the versions saw of a face (`input.png`) or what one made of it (`<version id>.png`): the
# crop at the network's input size, cut from the input or from that version's output.
CropOf = Annotated[
    str,
    Path(pattern=r"^(input|[1-9][0-9]{0,17})$", description="`input`, or a version's id"),
]


@router.get("/c/{slug}/faces/{sample_id}/{face}/{of}.png")
def read_face_crop(
    request: Request,
    slug: str,
    sample_id: RowId,
    face: FaceIndex,
    of: CropOf,
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    _user: ViewerUser,
) -> Response:
    """A face's crop, as the renderer cut it: of the input, or of a version's output."""
    comparison = comparisons_service.get_comparison(db, ref=slug)
    image = face_views.crop_image(
        db,
        blobs,
        comparison=comparison,
        sample_id=sample_id,
        face_index=face,
        version_id=None if of == "input" else int(of),
        settings=settings,
    )
    return _png(request, image)


# The grid's "Download ZIP" link: the same handler as the API's download.
router.add_api_route("/c/{ref}/download.zip", download_comparison, methods=["GET"])
