"""Render workers' heartbeats: who is alive, what each renders, and whose renders are orphaned.

Every render worker (`ganstudio worker`, or the server's thread) writes its row of `workers`
every GANSTUDIO_WORKER_HEARTBEAT_SECONDS (`beat`). A row not written for
GANSTUDIO_WORKER_TIMEOUT_SECONDS belongs to a dead worker (SIGKILLed, its machine gone): the
next heartbeat of any live worker queues that worker's running renders again (`orphaned`), while
every live worker, however slow its render, keeps its own. Claims of workers that never wrote a
heartbeat (before this table, or a worker used without `serve`) keep the older rules.

What a worker is rendering is not kept in its row: `renders.worker_id` says it, and stays on a
finished render (who rendered it), which also gives each worker's renders per minute.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from ganstudio.db.session import rowcount
from ganstudio.db.tables import (
    Analysis,
    AnalysisItem,
    Comparison,
    Filter,
    Job,
    JobItem,
    PrecisionCheck,
    Render,
    User,
    Version,
    WorkerRow,
)
from ganstudio.vocabulary import (
    AnalysisState,
    JobKind,
    PrecisionCheckState,
    RenderState,
    WorkerState,
)

KEEP_ROWS_SECONDS = 24 * 3600  # a worker unseen for a day leaves the workers page
RATE_WINDOW_SECONDS = 5 * 60  # renders per minute are counted over the last five minutes


def beat(
    session: Session,
    *,
    worker_id: str,
    host: str,
    device: str,
    pid: int,
    state: WorkerState,
    renders_done: int,
    now: datetime,
) -> None:
    """Write (or first create) this worker's row: alive at `now`, in `state`."""
    row = session.get(WorkerRow, worker_id)
    if row is None:
        row = WorkerRow(id=worker_id, host=host, device=device, pid=pid, started_at=now)
        session.add(row)
    row.device = device  # "auto" becomes where it runs once its first network is loaded
    row.state = state
    row.last_seen = now
    row.renders_done = renders_done


def forget_old(session: Session, *, now: datetime) -> int:
    """Delete rows of workers unseen for KEEP_ROWS_SECONDS; return how many."""
    cutoff = now - timedelta(seconds=KEEP_ROWS_SECONDS)
    result = session.execute(
        delete(WorkerRow)
        .where(WorkerRow.last_seen < cutoff)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def live_ids(*, now: datetime, timeout_seconds: float) -> Any:
    """A subquery of the ids of workers alive at `now` (heard from, and not stopped)."""
    return select(WorkerRow.id).where(
        WorkerRow.last_seen > now - timedelta(seconds=timeout_seconds),
        WorkerRow.state != WorkerState.STOPPED,
    )


def orphaned(
    worker_id: Any,
    claimed_at: Any,
    *,
    me: str,
    my_name: str,
    now: datetime,
    timeout_seconds: float,
    legacy_stale_after_seconds: float,
) -> Any:
    """The condition on a claim's `worker_id` / `claimed_at` columns that it is orphaned.

    Never this worker's own, and never a live worker's (its heartbeat is recent). Otherwise
    orphaned: a worker whose heartbeat stopped (its row is stale or says stopped); and, for
    claims by workers without a heartbeat row, the rules from before heartbeats: this worker's
    own earlier life (same host and device), an id from before workers had names, or a claim
    older than any render's time limit.
    """
    legacy_cutoff = now - timedelta(seconds=legacy_stale_after_seconds)
    return and_(
        worker_id != me,
        worker_id.not_in(live_ids(now=now, timeout_seconds=timeout_seconds)),
        or_(
            worker_id.in_(select(WorkerRow.id)),
            worker_id.startswith(f"{my_name}/", autoescape=True),
            ~worker_id.contains("/"),
            claimed_at <= legacy_cutoff,
        ),
    )


# --- what admins see ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrentRender:
    """A render a worker holds, and what it is for."""

    render_id: int
    version_label: str
    claimed_at: datetime | None
    kind: JobKind | None  # comparison or webtest (None: no job waits for it any more)
    comparison_slug: str | None
    comparison_title: str | None
    owner: str | None  # who started the job (web tests are private: named, not linked)


@dataclass(frozen=True)
class CurrentTask:
    """Work a worker holds besides renders: an analysis's items, or a precision check. A worker
    busy with Grad-CAM on a GPU box is not idle, though it holds no render."""

    kind: str  # "analysis" or "precision check"
    title: str  # the analysis's title; "Toon v2 in bf16" for a check
    url: str  # the page that shows it
    items: int  # the analysis items it holds (1 for a check)


@dataclass(frozen=True)
class WorkerView:
    """One worker as the workers page and API show it."""

    id: str
    host: str
    device: str
    pid: int
    state: str  # alive, draining, stopped or dead
    started_at: datetime
    last_seen: datetime
    seconds_since_seen: float
    renders_done: int
    renders_per_minute: float
    current: list[CurrentRender] = field(default_factory=list)
    tasks: list[CurrentTask] = field(default_factory=list)


def state_of(row: WorkerRow, *, now: datetime, timeout_seconds: float) -> str:
    """alive, draining, stopped, or dead (no heartbeat for `timeout_seconds`, not stopped)."""
    if row.state == WorkerState.STOPPED:
        return "stopped"
    if row.last_seen <= now - timedelta(seconds=timeout_seconds):
        return "dead"
    return "draining" if row.state == WorkerState.DRAINING else "alive"


_ORDER = {"dead": 0, "alive": 1, "draining": 2, "stopped": 3}  # dead first: someone should look


def list_workers(session: Session, *, now: datetime, timeout_seconds: float) -> list[WorkerView]:
    """Every known worker, dead ones first, then live ones by host and device."""
    rows = session.scalars(select(WorkerRow)).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    since = now - timedelta(seconds=RATE_WINDOW_SECONDS)
    finished = dict(
        session.execute(
            select(Render.worker_id, func.count())
            .where(
                Render.finished_at >= since,
                Render.worker_id.in_(ids),
                Render.state.in_((RenderState.DONE, RenderState.FAILED)),
            )
            .group_by(Render.worker_id)
        ).all()
    )
    current = _current_renders(session, ids)
    tasks = _current_tasks(session, ids)
    views = []
    for row in rows:
        # A worker younger than the window is measured over its life so far (at least a minute).
        window = min(RATE_WINDOW_SECONDS, max(60.0, (now - row.started_at).total_seconds()))
        views.append(
            WorkerView(
                id=row.id,
                host=row.host,
                device=row.device,
                pid=row.pid,
                state=state_of(row, now=now, timeout_seconds=timeout_seconds),
                started_at=row.started_at,
                last_seen=row.last_seen,
                seconds_since_seen=max(0.0, (now - row.last_seen).total_seconds()),
                renders_done=row.renders_done,
                renders_per_minute=round(finished.get(row.id, 0) * 60 / window, 1),
                current=current.get(row.id, []),
                tasks=tasks.get(row.id, []),
            )
        )
    views.sort(key=lambda v: (_ORDER[v.state], v.host, v.device, -v.started_at.timestamp()))
    return views


def _current_renders(session: Session, worker_ids: list[str]) -> dict[str, list[CurrentRender]]:
    running = session.execute(
        select(Render.id, Render.worker_id, Render.claimed_at, Version.label)
        .join(Version, Version.id == Render.version_id)
        .where(Render.state == RenderState.RUNNING, Render.worker_id.in_(worker_ids))
        .order_by(Render.claimed_at, Render.id)
    ).all()
    if not running:
        return {}
    purposes: dict[int, tuple[JobKind, str | None, str | None, str | None]] = {}
    for render_id, kind, slug, title, owner in session.execute(
        select(JobItem.render_id, Job.kind, Comparison.slug, Comparison.title, User.name)
        .join(Job, Job.id == JobItem.job_id)
        .outerjoin(Comparison, Comparison.job_id == Job.id)
        .outerjoin(User, User.id == Job.created_by_id)
        .where(JobItem.render_id.in_([r.id for r in running]))
        .order_by(Job.id)
    ):
        known = purposes.get(render_id)
        if known is None or (known[1] is None and slug is not None):  # a comparison links best
            purposes[render_id] = (kind, slug, title, owner)
    found: dict[str, list[CurrentRender]] = {}
    for render_id, worker_id, claimed_at, label in running:
        purpose = purposes.get(render_id)
        found.setdefault(str(worker_id), []).append(
            CurrentRender(render_id, label, claimed_at, *(purpose or (None, None, None, None)))
        )
    return found


def _current_tasks(session: Session, worker_ids: list[str]) -> dict[str, list[CurrentTask]]:
    """The analysis items (one line per analysis) and precision checks each worker holds."""
    found: dict[str, list[CurrentTask]] = {}
    for worker_id, slug, title, count in session.execute(
        select(AnalysisItem.worker_id, Analysis.slug, Analysis.title, func.count())
        .join(Analysis, Analysis.id == AnalysisItem.analysis_id)
        .where(AnalysisItem.state == AnalysisState.RUNNING, AnalysisItem.worker_id.in_(worker_ids))
        .group_by(AnalysisItem.worker_id, Analysis.slug, Analysis.title)
        .order_by(Analysis.slug)
    ):
        task = CurrentTask("analysis", title, f"/analyses/{slug}", count)
        found.setdefault(str(worker_id), []).append(task)
    for worker_id, version_id, label, filter_name, precision in session.execute(
        select(
            PrecisionCheck.worker_id,
            Version.id,
            Version.label,
            Filter.name,
            PrecisionCheck.precision,
        )
        .join(Version, Version.id == PrecisionCheck.version_id)
        .join(Filter, Filter.id == Version.filter_id)
        .where(
            PrecisionCheck.state == PrecisionCheckState.RUNNING,
            PrecisionCheck.worker_id.in_(worker_ids),
        )
        .order_by(PrecisionCheck.id)
    ):
        title = f"{filter_name} {label} in {precision}"
        task = CurrentTask("precision check", title, f"/versions/{version_id}", 1)
        found.setdefault(str(worker_id), []).append(task)
    return found
