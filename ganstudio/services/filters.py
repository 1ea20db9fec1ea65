"""Filters: create, edit, list with their version counts and production version."""

import re
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ganstudio.config import Settings
from ganstudio.db.base import utcnow
from ganstudio.db.tables import Filter, User, Version
from ganstudio.inference.render_spec import FaceSettings
from ganstudio.services import audit
from ganstudio.services import precision as precision_service
from ganstudio.services import versions as versions_service
from ganstudio.services.errors import ConflictError, InvalidInputError, NotFoundError
from ganstudio.storage.blobs import BlobStore
from ganstudio.vocabulary import Pipeline, VersionStatus

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MIN_INPUT_SIZE, MAX_INPUT_SIZE = 32, 4096


@dataclass(frozen=True)
class FilterSummary:
    filter: Filter
    version_count: int
    production_label: str | None
    latest_label: str | None


def slugify(name: str) -> str:
    """Return a URL slug for `name` ("Anime Face v2" → "anime-face-v2")."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63]


def _check_fields(name: str | None, slug: str | None, input_size: int | None) -> None:
    if name is not None and not (1 <= len(name.strip()) <= 120):
        raise InvalidInputError("A filter needs a name of 1 to 120 characters.")
    if slug is not None and not SLUG_RE.match(slug):
        raise InvalidInputError(
            f"'{slug[:70]}' is not a valid slug: use lower-case letters, digits and '-' "
            "(up to 63), e.g. 'anime-face'."
        )
    if input_size is not None and not MIN_INPUT_SIZE <= input_size <= MAX_INPUT_SIZE:
        raise InvalidInputError(
            f"The input size must be between {MIN_INPUT_SIZE} and {MAX_INPUT_SIZE} pixels."
        )


def parse_pipeline(value: str | Pipeline) -> Pipeline:
    try:
        return Pipeline(value)
    except ValueError:
        raise InvalidInputError(
            f"'{str(value)[:40]}' is not a pipeline; choose 'full' (whole image) or 'face' "
            "(face crop)."
        ) from None


def create_filter(
    session: Session,
    *,
    name: str,
    actor: User | None,
    slug: str | None = None,
    description: str = "",
    pipeline: str | Pipeline = Pipeline.FULL,
    input_size: int = 512,
    faces: str | None = None,
    margin: float | None = None,
    align: bool | None = None,
    precision: str | None = None,
) -> Filter:
    """Create a filter; the slug defaults to one made from the name."""
    slug = (slug or "").strip().lower() or slugify(name)
    _check_fields(name, slug, input_size)
    if session.scalar(select(Filter.id).where(Filter.slug == slug)) is not None:
        raise ConflictError(f"A filter with the slug '{slug}' exists already; choose another.")
    filter_ = Filter(
        name=name.strip(),
        slug=slug,
        description=description.strip()[:5000],
        pipeline=parse_pipeline(pipeline),
        input_size=input_size,
        face_options=face_options({}, faces=faces, margin=margin, align=align),
        precision=precision_service.parse_precision(precision) if precision else "fp32",
        created_by_id=actor.id if actor else None,
    )
    session.add(filter_)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="filter.create",
        subject_type="filter",
        subject_id=filter_.id,
        slug=slug,
    )
    return filter_


def update_filter(
    session: Session,
    *,
    filter_: Filter,
    actor: User | None,
    name: str | None = None,
    description: str | None = None,
    pipeline: str | Pipeline | None = None,
    input_size: int | None = None,
    faces: str | None = None,
    margin: float | None = None,
    align: bool | None = None,
    precision: str | None = None,
) -> Filter:
    """Edit a filter's name, description, pipeline, input size, face options or precision (the
    slug stays). Opting into bf16/fp16 queues its measurement for every version not measured."""
    _check_fields(name, None, input_size)
    changes: dict[str, object] = {}
    if name is not None and name.strip() != filter_.name:
        changes["name"] = filter_.name = name.strip()
    if description is not None and description.strip() != filter_.description:
        filter_.description = description.strip()[:5000]
        changes["description"] = True
    if pipeline is not None and parse_pipeline(pipeline) != filter_.pipeline:
        filter_.pipeline = parse_pipeline(pipeline)
        changes["pipeline"] = filter_.pipeline.value
    if input_size is not None and input_size != filter_.input_size:
        changes["input_size"] = filter_.input_size = input_size
    options = face_options(filter_.face_options, faces=faces, margin=margin, align=align)
    if options != filter_.face_options:
        changes["face_options"] = filter_.face_options = options
    if precision is not None:
        chosen = precision_service.parse_precision(precision)
        if chosen != filter_.precision:
            changes["precision"] = filter_.precision = chosen
        precision_service.queue_for_filter(session, filter_=filter_, actor=actor)
    if changes:
        audit.record(
            session,
            actor=actor,
            action="filter.update",
            subject_type="filter",
            subject_id=filter_.id,
            **changes,
        )
    return filter_


def get_filter(session: Session, *, slug: str) -> Filter:
    filter_ = session.scalar(select(Filter).where(Filter.slug == slug))
    if filter_ is None:
        raise NotFoundError(
            f"No filter with the slug '{slug[:70]}'. The Filters page lists them all."
        )
    return filter_


def list_filters(session: Session, *, archived: bool = False) -> list[FilterSummary]:
    """Return the filters with their version count, production and newest version.

    Archived filters are left out unless `archived`: every list and picker (filters, compare,
    web test, leaderboards) calls this, so they all hide them the same way.
    """
    query = select(Filter).order_by(Filter.name)
    if not archived:
        query = query.where(Filter.archived_at.is_(None))
    return summarize(session, list(session.scalars(query)))


def set_archived(
    session: Session, *, filter_: Filter, archived: bool, actor: User | None
) -> Filter:
    """Archive a filter (hide it from lists and pickers) or bring it back; nothing is deleted."""
    if archived == (filter_.archived_at is not None):
        return filter_
    filter_.archived_at = utcnow() if archived else None
    audit.record(
        session,
        actor=actor,
        action="filter.archive" if archived else "filter.unarchive",
        subject_type="filter",
        subject_id=filter_.id,
    )
    return filter_


def summarize(session: Session, filters: list[Filter]) -> list[FilterSummary]:
    """Attach version counts, production and newest labels to `filters` (3 queries in all)."""
    ids = [f.id for f in filters]
    of_these = Version.filter_id.in_(ids)
    counts = dict(
        session.execute(
            select(Version.filter_id, func.count()).where(of_these).group_by(Version.filter_id)
        ).all()
    )
    production = dict(
        session.execute(
            select(Version.filter_id, Version.label).where(
                of_these, Version.status == VersionStatus.PRODUCTION
            )
        ).all()
    )
    newest_ids = select(func.max(Version.id)).where(of_these).group_by(Version.filter_id)
    latest = dict(
        session.execute(
            select(Version.filter_id, Version.label).where(Version.id.in_(newest_ids))
        ).all()
    )
    return [
        FilterSummary(f, counts.get(f.id, 0), production.get(f.id), latest.get(f.id))
        for f in filters
    ]


def push_version(
    session: Session,
    *,
    slug: str,
    checkpoint: BinaryIO,
    filename: str,
    request: versions_service.PushRequest,
    actor: User,
    blobs: BlobStore,
    settings: Settings,
) -> Version:
    """Push a version to the filter `slug` (the page's form and the API's one way in).

    Returns the stored version with its parent and creator loaded, ready to show.
    """
    filter_ = get_filter(session, slug=slug)
    version = versions_service.push_version(
        session,
        filter_=filter_,
        checkpoint=checkpoint,
        filename=filename,
        request=request,
        actor=actor,
        blobs=blobs,
        settings=settings,
    )
    return versions_service.get_version(session, version_id=version.id)


def face_options(
    current: dict[str, Any], *, faces: str | None, margin: float | None, align: bool | None
) -> dict[str, Any]:
    """Return a face filter's options with the given ones changed; refuse what cannot crop.

    Unset options are left out, so they follow the code's defaults (render_spec.FaceSettings).
    """
    options = dict(current or {})
    for name, value in (("faces", faces), ("margin", margin), ("align", align)):
        if value is not None:
            options[name] = value
    try:
        FaceSettings.from_options(options)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"Those face options cannot crop faces ({exc}). Use faces `all` or `largest`, a "
            "margin above 0 (1.8 is the whole head) and align true or false."
        ) from None
    return options
