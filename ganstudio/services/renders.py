"""Renders and jobs: find or queue a render by content key, batch renders into jobs, progress."""

import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ganstudio.db.base import utcnow
from ganstudio.db.tables import Job, JobItem, Render, User, Version
from ganstudio.inference.render_spec import (
    MASK_INPUT_CHANNELS,
    PipelineSettings,
    RenderError,
    mask_for,
    mask_for_settings,
    render_key,
)
from ganstudio.roles import Role
from ganstudio.services import faces as faces_service
from ganstudio.services.errors import NotFoundError, PermissionDeniedError
from ganstudio.vocabulary import AnalysisState, JobKind, JobStatus, RenderState


def version_mask(
    *, version: Version, mask_sha256: str | None, settings: PipelineSettings | None = None
) -> tuple[str | None, str]:
    """Return the mask `version`'s render uses and, when it cannot have one, why (else "")."""
    try:
        if settings is not None:  # face filters make their own eye masks
            mask = mask_for_settings(
                input_channels=version.input_channels, mask=mask_sha256, settings=settings
            )
            return mask, ""
        return mask_for(input_channels=version.input_channels, mask=mask_sha256), ""
    except RenderError as exc:
        return None, str(exc)


def render_settings(
    *, version: Version, mask_sha256: str | None, settings: PipelineSettings
) -> PipelineSettings:
    """Return the settings of `version`'s render: a 4-channel version on a photo without a mask
    takes the eye mask made from the photo's landmarks (the worker makes it)."""
    # Face filters cut each face's eye mask themselves (render_spec.mask_for_settings).
    if settings.face is None and version.input_channels == MASK_INPUT_CHANNELS and not mask_sha256:
        return replace(settings, eye_mask=faces_service.landmarks_mask_key())
    return settings


def version_render_key(
    *, version: Version, input_sha256: str, mask_sha256: str | None, settings: PipelineSettings
) -> str:
    """Return the key of `version`'s render of an input; only 4-channel versions see the mask."""
    settings = render_settings(version=version, mask_sha256=mask_sha256, settings=settings)
    mask, _missing = version_mask(version=version, mask_sha256=mask_sha256, settings=settings)
    return render_key(
        checkpoint_sha256=version.checkpoint_sha256,
        input_sha256=input_sha256,
        mask_sha256=mask,
        settings=settings,
    )


def ensure_render(
    session: Session,
    *,
    version: Version,
    input_sha256: str,
    mask_sha256: str | None,
    settings: PipelineSettings,
) -> Render:
    """Return the render of `version` on this input, queuing it when it was never made."""
    key = version_render_key(
        version=version, input_sha256=input_sha256, mask_sha256=mask_sha256, settings=settings
    )
    settings = render_settings(version=version, mask_sha256=mask_sha256, settings=settings)
    mask, missing = version_mask(version=version, mask_sha256=mask_sha256, settings=settings)
    if settings.eye_mask:  # the worker makes the mask from the landmarks
        missing = ""
    render = session.scalar(select(Render).where(Render.render_key == key))
    if render is not None:
        return render
    render = Render(
        render_key=key,
        checkpoint_sha256=version.checkpoint_sha256,
        version_id=version.id,
        input_sha256=input_sha256,
        mask_sha256=mask,
        settings=settings.as_dict(),
        state=RenderState.QUEUED,
    )
    if missing:  # failed at once: no worker could render it
        render.state, render.error, render.finished_at = RenderState.FAILED, missing, utcnow()
    session.add(render)
    session.flush()
    return render


def create_job(
    session: Session,
    *,
    kind: JobKind,
    renders: list[Render],
    actor: User | None,
    title: str = "",
) -> Job:
    """Make a job that waits for `renders` (already-finished ones count as done at once)."""
    job = Job(
        kind=kind,
        # Web tests are private, so their address must not be guessable (ids are sequential).
        public_id=secrets.token_urlsafe(16) if kind == JobKind.WEBTEST else None,
        title=title[:200],
        created_by_id=actor.id if actor else None,
        priority=10 if kind == JobKind.WEBTEST else 0,
    )
    session.add(job)
    session.flush()
    for render_id in dict.fromkeys(r.id for r in renders):  # each render once, in order
        session.add(JobItem(job_id=job.id, render_id=render_id))
    session.flush()
    return job


@dataclass
class JobProgress:
    job: Job
    status: JobStatus
    total: int
    done: int
    failed: int
    running: int
    queued: int
    errors: list[dict[str, object]] = field(default_factory=list)
    cancelled: int = 0  # analysis items skipped when their job was cancelled
    reused: int = 0  # renders done before the job was made: taken as they were, not redone

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)

    @property
    def percent(self) -> int:
        return round(100 * (self.done + self.failed) / self.total) if self.total else 100


def may_see_job(job: Job, user: User) -> bool:
    """Return whether `user` may see `job`: a web test only to its owner and developers up."""
    if job.kind != JobKind.WEBTEST:
        return True  # comparisons are shared pages
    return job.created_by_id == user.id or user.role.allows(Role.DEVELOPER)


def get_job(session: Session, *, job_id: int, reader: User | None = None) -> Job:
    """Return a job; with `reader`, one that reader may see (else, as if it did not exist)."""
    job = session.get(Job, job_id)
    if job is None or (reader is not None and not may_see_job(job, reader)):
        raise NotFoundError(f"No job with id {job_id}; job ids come with the comparison.")
    return job


def job_progress(session: Session, *, job: Job, error_limit: int = 50) -> JobProgress:
    """Count a job's renders by state; the job's status follows from them."""
    if job.kind == JobKind.ANALYSIS:  # its items are analysis items, not renders
        return _analysis_progress(session, job=job, error_limit=error_limit)
    # Per state, how many, and how many were done before the job was made (reused as they were).
    earlier = func.sum(case((Render.finished_at < job.created_at, 1), else_=0))
    by_state = session.execute(
        select(Render.state, func.count(), earlier)
        .join(JobItem, JobItem.render_id == Render.id)
        .where(JobItem.job_id == job.id)
        .group_by(Render.state)
    ).all()
    counts = {state: count for state, count, _ in by_state}
    errors = [
        {"render_id": render_id, "error": error}
        for render_id, error in session.execute(
            select(Render.id, Render.error)
            .join(JobItem, JobItem.render_id == Render.id)
            .where(JobItem.job_id == job.id, Render.state == RenderState.FAILED)
            .order_by(Render.id)
            .limit(error_limit)
        )
    ]
    progress = _render_progress(job, counts, errors)
    progress.reused = sum(int(n or 0) for state, _, n in by_state if state == RenderState.DONE)
    return progress


def progress_of_renders(job: Job, renders: Sequence[Render]) -> JobProgress:
    """A job's progress from its renders as already read: a page that shows the renders and
    the job's status must take both from the same rows. Two queries may see two different
    database states (each statement of a read can: SQLite's and PostgreSQL's defaults), and a
    web test then said "done" beside a render still running."""
    counts = Counter(render.state for render in renders)
    errors = [
        {"render_id": render.id, "error": render.error}
        for render in sorted(renders, key=lambda render: render.id)
        if render.state == RenderState.FAILED
    ]
    return _render_progress(job, counts, errors)


def _render_progress(
    job: Job, counts: Mapping[RenderState, int], errors: list[dict[str, object]]
) -> JobProgress:
    done, failed = counts.get(RenderState.DONE, 0), counts.get(RenderState.FAILED, 0)
    running, queued = counts.get(RenderState.RUNNING, 0), counts.get(RenderState.QUEUED, 0)
    total = done + failed + running + queued
    if job.cancelled_at is not None and (running or queued):
        status = JobStatus.CANCELLED
    elif running or queued:
        status = JobStatus.RUNNING if (running or done or failed) else JobStatus.QUEUED
    else:
        status = JobStatus.FAILED if total and failed == total else JobStatus.DONE
    return JobProgress(job, status, total, done, failed, running, queued, errors)


def _analysis_progress(session: Session, *, job: Job, error_limit: int) -> JobProgress:
    from ganstudio.services import analyses  # it builds on this module

    counts = analyses.job_item_counts(session, job=job)
    done, failed = counts.get(AnalysisState.DONE, 0), counts.get(AnalysisState.FAILED, 0)
    running, queued = counts.get(AnalysisState.RUNNING, 0), counts.get(AnalysisState.QUEUED, 0)
    cancelled = counts.get(AnalysisState.CANCELLED, 0)
    total = done + failed + running + queued + cancelled
    if job.cancelled_at is not None and (running or queued or cancelled):
        status = JobStatus.CANCELLED
    elif running or queued:
        status = JobStatus.RUNNING if (running or done or failed) else JobStatus.QUEUED
    else:
        status = JobStatus.FAILED if total and failed == total else JobStatus.DONE
    errors = analyses.job_item_errors(session, job=job, limit=error_limit)
    return JobProgress(job, status, total, done, failed, running, queued, errors, cancelled)


def cancel_job(session: Session, *, job: Job, actor: User) -> Job:
    """Stop a job: its queued renders are skipped unless another live job wants them."""
    # Jobs with no owner (started by the CLI or the demo) are nobody's to stop but developers'.
    if job.created_by_id != actor.id and not actor.role.allows(Role.DEVELOPER):
        raise PermissionDeniedError(
            "Only the person who started this job, a developer or an admin may cancel it."
        )
    if job.cancelled_at is None:
        job.cancelled_at = utcnow()
    if job.kind == JobKind.ANALYSIS:  # its queued items are its own: skip them now
        from ganstudio.services import analyses

        analyses.cancel_items(session, job=job)
    return job
