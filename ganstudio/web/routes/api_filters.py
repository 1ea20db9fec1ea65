"""API: filters and their versions."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ganstudio.config import Settings
from ganstudio.db.tables import User, Version
from ganstudio.services import filters as filters_service
from ganstudio.services import precision as precision_service
from ganstudio.services import versions as versions_service
from ganstudio.storage.blobs import BlobStore
from ganstudio.web.deps import (
    BlobsDep,
    DeveloperUser,
    SessionDep,
    SettingsDep,
    ViewerUser,
    WorkerDep,
)
from ganstudio.web.downloads import blob_response
from ganstudio.web.params import PageNumber, PerPage, RowId
from ganstudio.web.schemas import Page, page_of
from ganstudio.web.schemas.filters import (
    FilterCreate,
    FilterPublic,
    FilterUpdate,
    PrecisionCheckCreate,
    PrecisionCheckPublic,
    StatusChangePublic,
    VersionPublic,
    VersionPush,
    VersionUpdate,
    filter_public,
    precision_check_public,
    status_change_public,
    summary_public,
    version_public,
)

router = APIRouter(prefix="/api/v1", tags=["filters and versions"])


@router.post("/filters", status_code=status.HTTP_201_CREATED)
def create_filter(body: FilterCreate, db: SessionDep, user: DeveloperUser) -> FilterPublic:
    """Create a filter (developers)."""
    filter_ = filters_service.create_filter(db, actor=user, **body.model_dump())
    db.commit()
    return filter_public(filter_)


@router.get("/filters")
def read_filters(
    db: SessionDep,
    _user: ViewerUser,
    page: PageNumber = 1,
    per_page: PerPage = 50,
    archived: bool = Query(False, description="include archived filters"),
) -> Page[FilterPublic]:
    """List filters with their version counts and production version (archived ones hidden)."""
    summaries = filters_service.list_filters(db, archived=archived)
    return page_of(summaries, page=page, per_page=per_page, shape=summary_public)


@router.get("/filters/{slug}")
def read_filter(slug: str, db: SessionDep, _user: ViewerUser) -> FilterPublic:
    """Return one filter."""
    filter_ = filters_service.get_filter(db, slug=slug)
    return summary_public(filters_service.summarize(db, [filter_])[0])


@router.patch("/filters/{slug}")
def update_filter(
    slug: str, body: FilterUpdate, db: SessionDep, user: DeveloperUser, worker: WorkerDep
) -> FilterPublic:
    """Edit a filter's name, description, pipeline, input size, face options or precision
    (developers). `precision` bf16/fp16 queues a measurement against fp32 for every version not
    measured in it; each version renders in it only once measured (see its `render_precision`)."""
    filter_ = filters_service.get_filter(db, slug=slug)
    changes = body.model_dump(exclude={"archived"})
    filters_service.update_filter(db, filter_=filter_, actor=user, **changes)
    if body.archived is not None:
        filters_service.set_archived(db, filter_=filter_, archived=body.archived, actor=user)
    db.commit()
    worker.work_queued()  # after the commit: the worker measures any queued precision checks
    return filter_public(filter_)


@router.post("/filters/{slug}/versions", status_code=status.HTTP_201_CREATED)
def push_version(
    slug: str,
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    user: DeveloperUser,
    form: Annotated[VersionPush, Depends()],
) -> VersionPublic:
    """Push a version: checked (loaded, probed, measured) before anything is stored."""
    version = push_from_form(db, slug=slug, form=form, actor=user, blobs=blobs, settings=settings)
    db.commit()
    return _version_public(db, version)


def _version_public(db: Session, version: Version) -> VersionPublic:
    """A version with its Precision section (the filter's choice, its measurements)."""
    precision = precision_service.version_precision(db, version=version, filter_=version.filter)
    return version_public(version, version.filter.slug, precision)


def push_from_form(
    db: Session,
    *,
    slug: str,
    form: VersionPush,
    actor: User,
    blobs: BlobStore,
    settings: Settings,
) -> Version:
    """Check and store the version a push form sends (the API's and the page's one way in)."""
    return filters_service.push_version(
        db,
        slug=slug,
        checkpoint=form.checkpoint.file,
        filename=form.checkpoint.filename or "",
        request=form.push_request(),
        actor=actor,
        blobs=blobs,
        settings=settings,
    )


@router.get("/filters/{slug}/versions")
def read_versions(
    slug: str,
    db: SessionDep,
    _user: ViewerUser,
    branch: str | None = None,
    status: str | None = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> Page[VersionPublic]:
    """List a filter's versions, newest first, with parent and stats."""
    filter_ = filters_service.get_filter(db, slug=slug)
    versions, total = versions_service.list_versions(
        db, filter_=filter_, branch=branch, status=status, page=page, per_page=per_page
    )
    precisions = precision_service.version_precisions(db, filter_=filter_, versions=versions)
    return Page(
        items=[version_public(v, slug, precisions[v.id]) for v in versions],
        total=total,
        page=page,
        per_page=per_page,
    )


@router.get("/versions/{version_id}")
def read_version(version_id: RowId, db: SessionDep, _user: ViewerUser) -> VersionPublic:
    """Return one version, with its precision measurements and the precision its renders use."""
    version = versions_service.get_version(db, version_id=version_id)
    return _version_public(db, version)


@router.get("/versions/{version_id}/history")
def read_version_history(
    version_id: RowId, db: SessionDep, _user: ViewerUser
) -> list[StatusChangePublic]:
    """Return every status change of a version, oldest first."""
    version = versions_service.get_version(db, version_id=version_id)
    return [status_change_public(c) for c in versions_service.status_history(db, version=version)]


@router.patch("/versions/{version_id}")
def update_version(
    version_id: RowId, body: VersionUpdate, db: SessionDep, user: DeveloperUser
) -> VersionPublic:
    """Edit a version's notes or status (developers); the checkpoint never changes."""
    version = versions_service.get_version(db, version_id=version_id)
    versions_service.update_version(
        db,
        version=version,
        actor=user,
        notes=body.notes,
        status=body.status,
        reason=body.reason,
    )
    db.commit()
    return _version_public(db, version)


@router.post("/versions/{version_id}/precision-checks", status_code=status.HTTP_202_ACCEPTED)
def measure_precision(
    version_id: RowId,
    body: PrecisionCheckCreate,
    db: SessionDep,
    user: DeveloperUser,
    worker: WorkerDep,
) -> PrecisionCheckPublic:
    """Measure the version in bf16/fp16 against fp32 on its filter's demo set (developers).

    The worker measures it in the background; the version's `precision_checks` then show the
    largest and the mean difference of the output pixels (0–255). The newest done measurement
    lets its renders run in that precision when the filter chose it."""
    version = versions_service.get_version(db, version_id=version_id)
    check = precision_service.measure_again(
        db, version=version, precision=body.precision, actor=user
    )
    db.commit()
    worker.work_queued()
    return precision_check_public(check)


@router.get("/versions/{version_id}/checkpoint", response_class=Response)
def download_checkpoint(
    version_id: RowId, db: SessionDep, blobs: BlobsDep, _user: ViewerUser
) -> Response:
    """Download the checkpoint file exactly as it was pushed."""
    version = versions_service.get_version(db, version_id=version_id)
    return blob_response(  # streamed through the app, whichever store holds it: downloads.py
        blobs,
        version.checkpoint_sha256,
        media_type="application/octet-stream",
        filename=version.checkpoint_filename,
        headers={
            "ETag": f'"{version.checkpoint_sha256}"',
            "Cache-Control": "private, max-age=31536000, immutable",
        },
    )
