"""The render queue's order: fair between users, web tests first within a user.

Every claim records whom it served (`Render.claimed_for_id`, `claimed_for_kind`), so each
user's recent usage — renders claimed for them in the last `queue_window_seconds` — is in the
database and every worker process sees the same numbers. The next render goes to:

1. comparisons (any batch job), when they have work waiting, web tests have work waiting, and
   batch claims are under `queue_comparison_share` of the window's claims by more than one web
   test's worth (so one web test runs through, but a flood of them, from one user or many,
   cannot starve comparisons);
2. otherwise the user with the least recent usage (claims in the window, newer ones weighing
   more) — so one user's 1,000-render comparison cannot starve another user's web test, and
   two big comparisons take turns;
3. within that user (and between users with equal usage), web tests before comparisons, then
   the render queued first — or, when the worker asks for it, the first one of that same work
   that needs the network it ran last (`prefer_checkpoint`): each network runs in its own
   executor process, and switching processes every render (a comparison queues its renders
   sample by sample) costs ~15% of the throughput on a CPU; the worker limits such runs so a
   comparison still fills row by row, in blocks.

Jobs without an owner (CLI, demo) count as one more user. A render that several live jobs want
is served as part of whichever of them is picked.

Two workers never get one render. On SQLite (one writer at a time) the claim is a compare-and-set
UPDATE on the render's state. On PostgreSQL many workers claim at once, so the claim locks its
render with `SELECT … FOR UPDATE SKIP LOCKED`: a render another worker is claiming right now is
skipped, not waited for, and the next one of the same work is taken instead.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from ganstudio.config import Settings
from ganstudio.db.base import utcnow
from ganstudio.db.session import rowcount
from ganstudio.db.tables import Job, JobItem, Render
from ganstudio.services.versions import MAX_SHOWN
from ganstudio.vocabulary import JobKind, RenderState

INTERACTIVE = JobKind.WEBTEST  # every other kind is batch work
CLAIM_ATTEMPTS = 5  # another worker may take a pick between the look and the claim
DECAY_STEPS = 8  # a claim's weight in its user's usage falls in this many steps over the window
# Web-test renders that may run past the comparisons' share: one whole web test.
SHARE_ALLOWANCE = MAX_SHOWN


@dataclass(frozen=True)
class Waiting:
    """Queued work of one user and kind: its oldest render."""

    user_id: int | None
    kind: JobKind
    first_render_id: int


@dataclass(frozen=True)
class Usage:
    """Renders claimed in the recent window: weighed per user; counted for the batch share."""

    by_user: dict[int | None, int]
    batch: int
    total: int

    def batch_starved(self, share: float) -> bool:
        """Return whether batch work got less than `share` of the window, past the allowance."""
        return self.batch < share * self.total - SHARE_ALLOWANCE


def claim_next_render(
    session: Session,
    *,
    worker_id: str,
    settings: Settings,
    now: datetime | None = None,
    prefer_checkpoint: str | None = None,
) -> int | None:
    """Atomically claim the next render for `worker_id` by the fair order; None when idle."""
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        return _claim_skip_locked(
            session,
            worker_id=worker_id,
            settings=settings,
            now=now,
            prefer_checkpoint=prefer_checkpoint,
        )
    for _attempt in range(CLAIM_ATTEMPTS):
        pick = next_waiting(session, settings=settings, now=now)
        if pick is None:
            return None
        render_id = pick.first_render_id
        if prefer_checkpoint is not None:
            render_id = same_network(session, pick, prefer_checkpoint) or render_id
        claimed = session.execute(
            update(Render)
            .where(Render.id == render_id, Render.state == RenderState.QUEUED)
            .values(**_claimed(worker_id, now, pick.user_id, pick.kind))
        )
        if rowcount(claimed) == 1:  # the condition on state: no two workers get one render
            return render_id
    return None


def _claim_skip_locked(
    session: Session,
    *,
    worker_id: str,
    settings: Settings,
    now: datetime,
    prefer_checkpoint: str | None,
) -> int | None:
    """Claim as `claim_next_render` does, locking the render with FOR UPDATE SKIP LOCKED."""
    pick = next_waiting(session, settings=settings, now=now)
    if pick is None:
        return None
    owner = (
        Job.created_by_id.is_(None) if pick.user_id is None else Job.created_by_id == pick.user_id
    )
    candidates = (
        select(Render.id, Job.created_by_id, Job.kind)
        .join(JobItem, JobItem.render_id == Render.id)
        .join(Job, Job.id == JobItem.job_id)
        .where(Render.state == RenderState.QUEUED, Job.cancelled_at.is_(None))
        .limit(1)
        .with_for_update(skip_locked=True, of=Render)
    )
    order: list[Any] = [Render.id]
    if prefer_checkpoint is not None:  # its network's renders first
        order.insert(0, case((Render.checkpoint_sha256 == prefer_checkpoint, 0), else_=1))
    row = session.execute(candidates.where(Job.kind == pick.kind, owner).order_by(*order)).first()
    if row is None:  # other workers hold the pick's renders: any other unlocked one, oldest first
        row = session.execute(candidates.order_by(Render.id)).first()
    if row is None:
        return None
    render_id, user_id, kind = row
    claimed = session.execute(
        update(Render)
        .where(Render.id == render_id, Render.state == RenderState.QUEUED)
        .values(**_claimed(worker_id, now, user_id, JobKind(kind)))
    )
    return render_id if rowcount(claimed) == 1 else None


def _claimed(worker_id: str, now: datetime, user_id: int | None, kind: JobKind) -> dict[str, Any]:
    """A render's columns once `worker_id` claims it for `user_id`'s job of `kind`."""
    return {
        "state": RenderState.RUNNING,
        "worker_id": worker_id,
        "claimed_at": now,
        "claimed_for_id": user_id,
        "claimed_for_kind": kind,
        "attempts": Render.attempts + 1,
    }


def same_network(session: Session, pick: Waiting, checkpoint_sha256: str) -> int | None:
    """Return the oldest render of `pick`'s user and kind that runs `checkpoint_sha256`."""
    owner = (
        Job.created_by_id.is_(None) if pick.user_id is None else Job.created_by_id == pick.user_id
    )
    return session.scalar(
        select(func.min(Render.id))
        .join(JobItem, JobItem.render_id == Render.id)
        .join(Job, Job.id == JobItem.job_id)
        .where(
            Render.state == RenderState.QUEUED,
            Render.checkpoint_sha256 == checkpoint_sha256,
            Job.cancelled_at.is_(None),
            Job.kind == pick.kind,
            owner,
        )
    )


def next_waiting(session: Session, *, settings: Settings, now: datetime) -> Waiting | None:
    """Return the queued work to serve next (see the module's rule), or None."""
    waiting = waiting_work(session)
    if not waiting:
        return None
    usage = recent_usage(session, now=now, window=timedelta(seconds=settings.queue_window_seconds))
    batch = [w for w in waiting if w.kind != INTERACTIVE]
    if batch and len(batch) < len(waiting) and usage.batch_starved(settings.queue_comparison_share):
        waiting = batch
    return min(
        waiting,
        key=lambda w: (
            usage.by_user.get(w.user_id, 0),
            w.kind != INTERACTIVE,
            w.first_render_id,
        ),
    )


def waiting_work(session: Session) -> list[Waiting]:
    """Return, per (user, kind), the oldest queued render that a live job wants."""
    rows = session.execute(
        select(Job.created_by_id, Job.kind, func.min(Render.id))
        .select_from(Render)
        .join(JobItem, JobItem.render_id == Render.id)
        .join(Job, Job.id == JobItem.job_id)
        .where(Render.state == RenderState.QUEUED, Job.cancelled_at.is_(None))
        .group_by(Job.created_by_id, Job.kind)
    ).all()
    return [Waiting(user_id, JobKind(kind), render_id) for user_id, kind, render_id in rows]


def recent_usage(session: Session, *, now: datetime, window: timedelta) -> Usage:
    """Weigh the renders claimed in the window, per user and for batch work; newer weigh more."""
    # Weights fall in steps from DECAY_STEPS (newest) to 1 (oldest) instead of a flat count,
    # so a head start fades out gradually rather than echoing as a burst one window later.
    step = window / DECAY_STEPS
    weight = case(
        *(
            (Render.claimed_at >= now - step * n, DECAY_STEPS + 1 - n)
            for n in range(1, DECAY_STEPS)
        ),
        else_=1,
    )
    rows = session.execute(
        select(Render.claimed_for_id, Render.claimed_for_kind, func.sum(weight), func.count())
        .where(Render.claimed_at >= now - window)
        .group_by(Render.claimed_for_id, Render.claimed_for_kind)
    ).all()
    by_user: dict[int | None, int] = {}
    batch = total = 0
    for user_id, kind, weighed, count in rows:
        by_user[user_id] = by_user.get(user_id, 0) + weighed
        if kind is None:  # claimed before claims recorded their kind: no side of the share
            continue
        total += count
        if kind != INTERACTIVE:
            batch += count
    return Usage(by_user, batch, total)
