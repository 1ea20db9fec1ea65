"""Web tests: one photo (not a sample) through a few versions, private to whoever sent it.

The photo is stored as a blob that the job's renders name (`Render.input_sha256`), so the blob
sweep keeps it while they exist (web tests expire: services/retention.py). A web test's job
title is the photo's cleaned file name; its address is the job's random `public_id`, and only
its owner and developers and above may see it. Each user may start `webtest_per_minute` web
tests a minute and have `webtest_max_queued_renders` of their renders waiting.
"""

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ganstudio.config import Settings
from ganstudio.db.base import utcnow
from ganstudio.db.tables import (
    Comparison,
    Filter,
    Job,
    JobItem,
    Render,
    SampleSet,
    User,
    Version,
)
from ganstudio.services import audit
from ganstudio.services import precision as precision_service
from ganstudio.services import renders as renders_service
from ganstudio.services.errors import InvalidInputError, NotFoundError, TooManyAttemptsError
from ganstudio.services.sample_uploads import Accepted, Uploader
from ganstudio.storage.blobs import BlobStore, BlobTooLargeError
from ganstudio.storage.images import ImageRejectedError, clean_filename, probe_image
from ganstudio.vocabulary import JobKind, RenderState

RATE_WINDOW = timedelta(minutes=1)
QUEUE_FULL_RETRY_SECONDS = 15  # a guess: a few renders finish in that time


@dataclass(frozen=True)
class WebTestRender:
    version: Version
    render: Render


@dataclass(frozen=True)
class WebTest:
    job: Job
    filename: str
    photo_sha256: str
    renders: list[WebTestRender]
    filter_slug: str


def start_webtest(
    session: Session,
    *,
    blobs: BlobStore,
    settings: Settings,
    photo: BinaryIO,
    filename: str,
    versions: list[Version],
    actor: User | None,
) -> WebTest:
    """Check and store the photo, find or queue each version's render, in a web-test job."""
    display = clean_filename(filename or "", fallback="photo")
    check_allowance(session, user=actor, settings=settings)  # refuse early, before decoding
    photo.seek(0, 2)
    if photo.tell() == 0:
        raise InvalidInputError(f"The photo {display} is empty; send an image file.")
    try:
        probe_image(photo, max_pixels=settings.max_image_pixels)
        photo.seek(0)
        stored = blobs.put_stream(photo, max_bytes=settings.max_image_bytes)
    except ImageRejectedError as exc:
        raise InvalidInputError(f"The photo {display} was refused: {exc}.") from None
    except BlobTooLargeError as exc:
        raise InvalidInputError(f"The photo {display} is {exc}; send a smaller one.") from None
    filter_ = session.get(Filter, versions[0].filter_id)
    assert filter_ is not None
    # Each version in the precision it may use (bf16/fp16 only where measured).
    by_version = precision_service.render_settings_by_version(
        session, filter_=filter_, versions=versions
    )
    renders = [
        renders_service.ensure_render(
            session,
            version=version,
            input_sha256=stored.sha256,
            mask_sha256=None,
            settings=by_version[version.id],
        )
        for version in versions
    ]
    job = renders_service.create_job(
        session, kind=JobKind.WEBTEST, renders=renders, actor=actor, title=display
    )
    # Again, now that this transaction has written: parallel requests are counted in turn.
    check_allowance(session, user=actor, settings=settings, job=job)
    audit.record(
        session,
        actor=actor,
        action="webtest.create",
        subject_type="job",
        subject_id=job.id,
        filter=filter_.slug,
        versions=[v.label for v in versions],
        sha256=stored.sha256,
    )
    pairs = sorted(
        zip(versions, renders, strict=True), key=lambda pair: (pair[0].created_at, pair[0].id)
    )
    items = [WebTestRender(v, r) for v, r in pairs]
    return WebTest(job, display, stored.sha256, items, _filter_slug(session, items))


def filter_to_open(session: Session, *, reader: User, filters: Sequence[Filter]) -> Filter | None:
    """Return the filter the web test page opens on when none is asked for.

    The filter of `reader`'s latest web test (people come back to the filter they work on),
    else the one with the latest activity: a version pushed, a comparison or a web test made.
    """
    by_id = {f.id: f for f in filters}
    if not by_id:
        return None
    webtest_filters = (
        select(Version.filter_id, Job.created_at, Job.created_by_id)
        .join(Render, Render.version_id == Version.id)
        .join(JobItem, JobItem.render_id == Render.id)
        .join(Job, Job.id == JobItem.job_id)
        .where(Job.kind == JobKind.WEBTEST)
    )
    mine = session.scalar(
        webtest_filters.with_only_columns(Version.filter_id)
        .where(Job.created_by_id == reader.id, Version.filter_id.in_(by_id))
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(1)
    )
    if mine is not None:
        return by_id[mine]
    latest: dict[int, datetime] = {}
    for column, at, stmt in (
        (Version.filter_id, Version.created_at, select()),
        (Comparison.filter_id, Comparison.created_at, select()),
        (Version.filter_id, Job.created_at, webtest_filters),
    ):
        rows = session.execute(
            stmt.with_only_columns(column, func.max(at)).where(column.in_(by_id)).group_by(column)
        )
        for filter_id, when in rows:
            if when is not None and (filter_id not in latest or when > latest[filter_id]):
                latest[filter_id] = when
    if not latest:
        return filters[0]
    return by_id[max(latest, key=lambda filter_id: latest[filter_id])]


def check_allowance(
    session: Session,
    *,
    user: User | None,
    settings: Settings,
    job: Job | None = None,
    now: datetime | None = None,
) -> None:
    """Refuse a web test past `user`'s per-minute limit or cap on waiting renders (429).

    `job` is the web test being added, once flushed; before that, it counts as one render.
    """
    if user is None:
        return
    now = now or utcnow()
    # Lock the user's row (PostgreSQL; SQLite has one writer), so one user's parallel requests
    # are counted one after the other instead of all passing on the same count.
    session.execute(select(User.id).where(User.id == user.id).with_for_update())
    query = select(Job.created_at).where(
        Job.created_by_id == user.id,
        Job.kind == JobKind.WEBTEST,
        Job.created_at > now - RATE_WINDOW,
    )
    if job is not None:
        query = query.where(Job.id != job.id)
    started = sorted(session.scalars(query))
    limit = settings.webtest_per_minute
    if len(started) >= limit:
        # The start that must leave the window before one more fits.
        frees_a_slot = started[len(started) - limit] + RATE_WINDOW
        wait = max(1, math.ceil((frees_a_slot - now).total_seconds()))
        raise TooManyAttemptsError(
            f"You have started {len(started)} web test{'' if len(started) == 1 else 's'} in "
            f"the last minute, and the limit is {limit} a minute. Try again in {wait} s.",
            retry_after=wait,
        )
    waiting = _waiting_renders(session, user=user, but_not=job)
    adding = _waiting_renders(session, user=user, only=job) if job is not None else 1
    cap = settings.webtest_max_queued_renders
    if waiting + adding > cap:
        raise TooManyAttemptsError(
            f"Your web tests have {waiting} renders waiting, and at most {cap} may wait. Try "
            f"again in {QUEUE_FULL_RETRY_SECONDS} s, when some have finished.",
            retry_after=QUEUE_FULL_RETRY_SECONDS,
        )


def _waiting_renders(
    session: Session, *, user: User, only: Job | None = None, but_not: Job | None = None
) -> int:
    """Count the queued or running renders of `user`'s live web tests (or of one of them)."""
    query = (
        select(func.count(func.distinct(Render.id)))
        .join(JobItem, JobItem.render_id == Render.id)
        .join(Job, Job.id == JobItem.job_id)
        .where(
            Job.created_by_id == user.id,
            Job.kind == JobKind.WEBTEST,
            Job.cancelled_at.is_(None),
            Render.state.in_((RenderState.QUEUED, RenderState.RUNNING)),
        )
    )
    if only is not None:
        query = query.where(Job.id == only.id)
    if but_not is not None:
        query = query.where(Job.id != but_not.id)
    return session.scalar(query) or 0


def no_such_webtest(public_id: str) -> str:
    """What a reader is told of a web test that is not theirs, or gone (the same: nothing is
    revealed); the API and the page each add what to do next."""
    return (
        f"No web test of yours has the id '{public_id[:64]}' (web tests are private to whoever "
        "started them, and expire)."
    )


def get_webtest(session: Session, *, public_id: str, reader: User) -> WebTest:
    """Return a web test by its public id, with each version's render, if `reader` may see it."""
    job = session.scalar(select(Job).where(Job.public_id == public_id, Job.kind == JobKind.WEBTEST))
    # Someone else's web test is answered exactly like a missing one: nothing is revealed.
    if job is None or not renders_service.may_see_job(job, reader):
        raise NotFoundError(f"{no_such_webtest(public_id)} Start one on /webtest.")
    rows = session.execute(
        select(Render, Version)
        .join(JobItem, JobItem.render_id == Render.id)
        .join(Version, Version.id == Render.version_id)
        .where(JobItem.job_id == job.id)
        .order_by(Version.created_at, Version.id)
    ).all()
    renders = [WebTestRender(version, render) for render, version in rows]
    return WebTest(
        job,
        job.title or "photo",
        renders[0].render.input_sha256,
        renders,
        _filter_slug(session, renders),
    )


@dataclass(frozen=True)
class RecentWebTest:
    """A line of "your recent web tests": enough to find one again, without its renders' rows."""

    public_id: str
    created_at: datetime
    filename: str
    filter_name: str
    filter_slug: str
    version_labels: list[str]  # oldest version first, like the page shows them
    thumb_sha256: str | None  # the first finished render's thumbnail (the photo has none)


def recent_webtests(session: Session, *, owner: User, limit: int = 10) -> list[RecentWebTest]:
    """Return `owner`'s own latest web tests, newest first (never anyone else's, whatever role).

    Two queries: the jobs, then their versions and thumbnails at once.
    """
    jobs = list(
        session.scalars(
            select(Job)
            .where(
                Job.created_by_id == owner.id,
                Job.kind == JobKind.WEBTEST,
                Job.public_id.is_not(None),
            )
            .order_by(Job.created_at.desc(), Job.id.desc())
            .limit(limit)
        )
    )
    if not jobs:
        return []
    rows = session.execute(
        select(
            JobItem.job_id,
            Version.label,
            Filter.name,
            Filter.slug,
            Render.state,
            Render.thumb_sha256,
        )
        .join(Render, Render.id == JobItem.render_id)
        .join(Version, Version.id == Render.version_id)
        .join(Filter, Filter.id == Version.filter_id)
        .where(JobItem.job_id.in_([job.id for job in jobs]))
        .order_by(Version.created_at, Version.id)
    ).all()
    labels: dict[int, list[str]] = {}
    filters: dict[int, tuple[str, str]] = {}
    thumbs: dict[int, str] = {}
    for job_id, label, filter_name, filter_slug, state, thumb in rows:
        labels.setdefault(job_id, []).append(label)
        filters[job_id] = (filter_name, filter_slug)
        if thumb and state == RenderState.DONE:
            thumbs.setdefault(job_id, thumb)
    return [
        RecentWebTest(
            public_id=job.public_id or "",
            created_at=job.created_at,
            filename=job.title or "photo",
            filter_name=filters.get(job.id, ("a deleted filter", ""))[0],
            filter_slug=filters.get(job.id, ("", ""))[1],
            version_labels=labels.get(job.id, []),
            thumb_sha256=thumbs.get(job.id),
        )
        for job in jobs
        if job.id in labels  # a web test whose renders all expired is gone
    ]


def progress(webtest: WebTest) -> renders_service.JobProgress:
    """The web test's progress, from the very render rows it shows (see progress_of_renders)."""
    return renders_service.progress_of_renders(
        webtest.job, [item.render for item in webtest.renders]
    )


def _filter_slug(session: Session, renders: list[WebTestRender]) -> str:
    """The filter of a web test (all its versions are of one filter: see choose_versions)."""
    slug = session.scalar(select(Filter.slug).where(Filter.id == renders[0].version.filter_id))
    assert slug is not None  # a version's filter is never deleted (RESTRICT)
    return slug


def save_photo(
    session: Session,
    *,
    blobs: BlobStore,
    settings: Settings,
    webtest: WebTest,
    sample_set: SampleSet,
    actor: User | None,
) -> tuple[Accepted, bool]:
    """Add a web test's photo to the sample library and `sample_set`; return it, and if new."""
    uploader = Uploader(session, blobs, settings, sample_set=sample_set, actor=actor)
    # In memory (an image under max_image_bytes): the uploader seeks, and the read is verified.
    photo = io.BytesIO(blobs.read_bytes(webtest.photo_sha256))
    uploader.add_file(photo, webtest.filename)
    outcome = uploader.finish()
    if outcome.rejected:
        raise InvalidInputError(f"The photo could not be added: {outcome.rejected[0].reason}")
    if outcome.created:
        return outcome.created[0], True
    return outcome.existing[0], False
