"""Pages: the blind arena of a filter and the leaderboards."""

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ganstudio.db.base import parse_id
from ganstudio.services import arena as arena_service
from ganstudio.services import filters as filters_service
from ganstudio.services import metric_sources
from ganstudio.services import sample_sets as sets_service
from ganstudio.services import samples as samples_service
from ganstudio.services.agreement import DIRECTION_RULE
from ganstudio.web.deps import SessionDep, ViewerUser

router = APIRouter(tags=["pages"], include_in_schema=False)
CHART_WIDTH = 520


@router.get("/leaderboards")
def read_leaderboards(request: Request, db: SessionDep, _user: ViewerUser) -> Response:
    """List every filter with its top versions by blind votes."""
    boards = [
        arena_service.filter_leaderboard(db, filter_=summary.filter)
        for summary in filters_service.list_filters(db)
    ]
    return request.app.state.pages.render(request, "arena/leaderboards.html", {"boards": boards})


@router.get("/filters/{slug}/leaderboard")
def read_leaderboard(
    request: Request,
    slug: str,
    db: SessionDep,
    _user: ViewerUser,
    tag: list[str] | None = Query(None),
) -> Response:
    """Show a filter's Bradley–Terry ranking with intervals, chart and win-rate matrix."""
    filter_ = filters_service.get_filter(db, slug=slug)
    tags = samples_service.tag_filter(tag) if tag else []
    view = arena_service.filter_leaderboard(db, filter_=filter_, tags=tuple(tags))
    return request.app.state.pages.render(
        request,
        "arena/leaderboard.html",
        {
            "filter": filter_,
            "view": view,
            "tags": tags,
            "chart": arena_service.chart_scale(view.board.standings, width=CHART_WIDTH),
            "agreement": metric_sources.leaderboard_agreement(db, view=view),
            "direction_rule": DIRECTION_RULE,
            "all_tags": [t.name for t in samples_service.tag_counts(db)],
            "query": urlencode([("tag", t) for t in tags]),
        },
    )


@router.get("/filters/{slug}/arena")
def read_arena(
    request: Request,
    slug: str,
    db: SessionDep,
    _user: ViewerUser,
    tag: list[str] | None = Query(None),
    set: str | None = None,
    versions: str | None = None,
) -> Response:
    """Vote blind between two renders of one sample, with the keyboard."""
    filter_ = filters_service.get_filter(db, slug=slug)
    tag = [t for t in (tag or []) if t.strip()]  # the form sends "" for "any"
    set_id = parse_id(set) if set else None
    query = urlencode(
        [("tag", t) for t in tag]
        + ([("set", set_id)] if set_id is not None else [])
        + ([("versions", versions)] if versions else [])
    )
    return request.app.state.pages.render(
        request,
        "arena/arena.html",
        {
            "filter": filter_,
            "query": query,
            "tags": tag,
            "set_id": set_id,
            "versions": versions or "",
            "live_versions": arena_service.count_arena_versions(db, filter_=filter_),
            "all_tags": [t.name for t in samples_service.tag_counts(db)],
            "all_sets": sets_service.all_sets(db),
        },
    )
