"""Admins' view of the render workers: the workers page (it refreshes itself) and its API."""

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ganstudio.db.base import utcnow
from ganstudio.services import workers as workers_service
from ganstudio.services.workers import CurrentRender, WorkerView
from ganstudio.text import plural
from ganstudio.web.deps import AdminUser, SessionDep, SettingsDep
from ganstudio.web.schemas.workers import WorkersPublic, current_render_url, worker_public

router = APIRouter(tags=["admin"])
REFRESH_MS = 5000  # how often the page asks again


def ago(seconds: float) -> str:
    """Return a time span for people: "just now", "12 s ago", "3 min ago", "2 h ago"."""
    if seconds < 2:
        return "just now"
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def _exact(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _views(db: SessionDep, settings: SettingsDep) -> tuple[list[WorkerView], datetime]:
    now = utcnow()
    views = workers_service.list_workers(
        db, now=now, timeout_seconds=settings.worker_timeout_seconds
    )
    return views, now


def _by_job(current: list[CurrentRender]) -> list[dict[str, Any]]:
    """The renders a worker holds, one line per job: a pipelining worker holds several at
    once, mostly of one comparison (the API lists each)."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for render in current:
        key = (render.kind, render.comparison_slug, render.owner)
        group = groups.setdefault(
            key,
            {"first": render, "url": current_render_url(render), "ids": [], "versions": []},
        )
        group["ids"].append(render.render_id)
        if render.version_label not in group["versions"]:
            group["versions"].append(render.version_label)
    for group in groups.values():
        count = len(group["ids"])
        ids = ", ".join(str(render_id) for render_id in group["ids"])
        group["what"] = f"render {ids}" if count == 1 else f"{plural(count, 'render')} ({ids})"
    return list(groups.values())


def _page_context(db: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    views, now = _views(db, settings)
    rows = [
        {
            "view": view,
            "last_seen": ago(view.seconds_since_seen),
            "last_seen_exact": _exact(view.last_seen),
            "started": ago((now - view.started_at).total_seconds()),
            "started_exact": _exact(view.started_at),
            "current": _by_job(view.current),
        }
        for view in views
    ]
    counts = {state: sum(v.state == state for v in views) for state in ("alive", "draining")}
    summary = plural(counts["alive"], "worker") + " alive"
    if counts["draining"]:
        summary += f", {counts['draining']} draining"
    return {
        "rows": rows,
        "summary": summary,
        "dead": sum(v.state == "dead" for v in views),
        "refresh_ms": REFRESH_MS,
        "timeout_seconds": settings.worker_timeout_seconds,
        "heartbeat_seconds": settings.worker_heartbeat_seconds,
        "thread_worker": settings.worker == "thread",
    }


@router.get("/admin/workers", include_in_schema=False)
def read_workers_page(
    request: Request, db: SessionDep, settings: SettingsDep, _admin: AdminUser
) -> Response:
    """Show every render worker: alive or dead, what it renders, how fast."""
    return request.app.state.pages.render(
        request, "admin/workers.html", _page_context(db, settings)
    )


@router.get("/admin/workers/live", include_in_schema=False)
def read_workers_live(
    request: Request, db: SessionDep, settings: SettingsDep, _admin: AdminUser
) -> Response:
    """The workers table alone: the page swaps it in every few seconds."""
    return request.app.state.pages.render(
        request, "admin/_workers.html", _page_context(db, settings)
    )


@router.get("/api/v1/workers")
def read_workers(db: SessionDep, settings: SettingsDep, _admin: AdminUser) -> WorkersPublic:
    """Return every render worker: host, device, state, current render, renders per minute,
    last seen. Dead workers (no heartbeat for GANSTUDIO_WORKER_TIMEOUT_SECONDS) come first."""
    views, _now = _views(db, settings)
    return WorkersPublic(
        workers=[worker_public(view) for view in views],
        heartbeat_seconds=settings.worker_heartbeat_seconds,
        timeout_seconds=settings.worker_timeout_seconds,
    )
