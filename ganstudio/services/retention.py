"""Expiry: web tests older than `webtest_retention_days` go, with the renders only they use.

Nothing here deletes bytes: once the rows are gone, the photo, outputs and thumbnails are blobs
that no row names, and the blob sweep frees them. A render that a comparison, the arena or any
other job still uses stays (and with it its blobs), and a photo that is also a sample stays,
because the sample names it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, delete, select, union
from sqlalchemy.orm import Session

from ganstudio.db.base import Base, utcnow
from ganstudio.db.session import rowcount
from ganstudio.db.tables import Job, JobItem, Render
from ganstudio.vocabulary import JobKind, RenderState

BATCH = 500  # jobs per transaction (SQLite has one writer), ids per IN list


@dataclass(frozen=True)
class ExpiryReport:
    jobs: int
    renders: int

    def describe(self) -> str:
        return f"Web-test expiry deleted {self.jobs} web test(s) and {self.renders} render(s)."


def expire_webtests(
    session: Session,
    *,
    retention_days: int,
    now: datetime | None = None,
    limit: int = BATCH,
) -> ExpiryReport:
    """Delete up to `limit` expired web tests and the renders nothing else uses; 0 days: none.

    A web test with a render being made waits for the next run, so no worker loses its row.
    """
    if retention_days <= 0:
        return ExpiryReport(0, 0)
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    running = (
        select(JobItem.job_id)
        .join(Render, Render.id == JobItem.render_id)
        .where(JobItem.job_id == Job.id, Render.state == RenderState.RUNNING)
    )
    job_ids = list(
        session.scalars(
            select(Job.id)
            .where(Job.kind == JobKind.WEBTEST, Job.created_at < cutoff, ~running.exists())
            .order_by(Job.id)
            .limit(limit)
        )
    )
    if not job_ids:
        return ExpiryReport(0, 0)
    render_ids = set(session.scalars(select(JobItem.render_id).where(JobItem.job_id.in_(job_ids))))
    session.execute(delete(JobItem).where(JobItem.job_id.in_(job_ids)))
    session.execute(delete(Job).where(Job.id.in_(job_ids)))
    unused = sorted(render_ids - _still_used(session, render_ids))
    deleted = 0
    for start in range(0, len(unused), BATCH):  # bounded IN lists
        result = session.execute(
            delete(Render).where(
                Render.id.in_(unused[start : start + BATCH]),
                Render.state != RenderState.RUNNING,  # claimed since the look above: leave it
            )
        )
        deleted += rowcount(result)
    return ExpiryReport(len(job_ids), deleted)


def _still_used(session: Session, render_ids: set[int]) -> set[int]:
    """Return which of `render_ids` some row still names (another job, a comparison, a pair)."""
    if not render_ids:
        return set()
    # Every foreign key to renders.id, found from the tables: a new kind of user is covered.
    columns = _columns_naming_renders()
    used: set[int] = set()
    ids = sorted(render_ids)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        query = union(*(select(column).where(column.in_(chunk)) for column in columns))
        used.update(session.scalars(query))
    return used


def _columns_naming_renders() -> list[Column]:
    return [
        foreign_key.parent
        for table in Base.metadata.sorted_tables
        for foreign_key in table.foreign_keys
        if foreign_key.column.table is Render.__table__
    ]
