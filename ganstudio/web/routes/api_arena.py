"""API: the blind arena (pairs, images, votes) and leaderboards."""

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import StreamingResponse

from ganstudio.db.tables import Filter, Version
from ganstudio.services import arena as arena_service
from ganstudio.services import filters as filters_service
from ganstudio.services import samples as samples_service
from ganstudio.services import versions as versions_service
from ganstudio.web.deps import BlobsDep, SessionDep, ViewerUser
from ganstudio.web.downloads import opaque_blob_response
from ganstudio.web.params import RowId
from ganstudio.web.schemas.arena import (
    ArenaPairPublic,
    ArenaSide,
    LeaderboardPublic,
    RevealedSide,
    StandingPublic,
    VoteCreate,
    VoteResult,
)
from ganstudio.web.urls import blob_url

router = APIRouter(prefix="/api/v1", tags=["arena"])


def parse_scope(
    db: SessionDep,
    filter_: Filter,
    versions: str | None,
    set_id: int | None,
    tag: list[str] | None,
) -> arena_service.ArenaScope:
    version_ids: tuple[int, ...] = ()
    if versions:
        chosen = versions_service.choose_versions(
            db, filter_=filter_, refs=versions, count=versions_service.ARENA
        )
        version_ids = tuple(v.id for v in chosen)
    return arena_service.ArenaScope(
        version_ids=version_ids,
        sample_set_id=set_id,
        tags=tuple(samples_service.normalize_tags(tag)) if tag else (),
    )


@router.get("/filters/{slug}/arena/next")
def read_next_pair(
    slug: str,
    db: SessionDep,
    user: ViewerUser,
    versions: str | None = Query(None, description="comma-separated labels or ids (2–8)"),
    set: RowId | None = Query(None, description="a sample set's id"),
    tag: list[str] | None = Query(None, description="only samples with these tags"),
) -> ArenaPairPublic:
    """Serve a blind pair: one sample, two renders, random sides, no version names."""
    filter_ = filters_service.get_filter(db, slug=slug)
    scope = parse_scope(db, filter_, versions, set, tag)
    served = arena_service.next_pair(db, filter_=filter_, voter=user, scope=scope)
    db.commit()
    if served is None:
        return ArenaPairPublic(
            pair_id=None,
            message="No pair is left for you: you have judged every pair with renders (or "
            "fewer than two versions have rendered samples). Make a comparison to render more.",
        )
    return ArenaPairPublic(
        pair_id=served.pair.token,
        sample_id=served.sample.id,
        input_url=blob_url(served.sample.sha256),
        left=arena_side(served.pair.token, "left"),
        right=arena_side(served.pair.token, "right"),
    )


def arena_side(token: str, side: str) -> ArenaSide:
    # Per-pair URLs: a render's content URL is what the comparison API maps to its version.
    url = f"/api/v1/arena/pairs/{token}/{side}"
    return ArenaSide(render_url=url, thumb_url=f"{url}?size=thumb")


@router.get(
    "/arena/pairs/{pair_id}/{side}",
    response_class=StreamingResponse,
    responses={200: {"content": {"image/png": {}, "image/webp": {}}}},
)
def read_pair_image(
    pair_id: Annotated[str, Path(max_length=64)],
    side: Literal["left", "right"],
    db: SessionDep,
    blobs: BlobsDep,
    user: ViewerUser,
    size: Literal["full", "thumb"] = "full",
) -> StreamingResponse:
    """One side of a pair served to you, at a URL that names neither its version nor its file."""
    sha256 = arena_service.pair_image(
        db, token=pair_id, side=side, voter=user, thumbnail=size == "thumb"
    )
    return opaque_blob_response(blobs, sha256)


@router.post("/arena/votes", status_code=status.HTTP_201_CREATED)
def create_vote(body: VoteCreate, db: SessionDep, user: ViewerUser) -> VoteResult:
    """Vote on a served pair (left, right, tie, both_bad); the names are revealed."""
    pair = arena_service.vote(db, token=body.pair_id, outcome=body.outcome, voter=user)
    db.commit()
    left, right = db.get(Version, pair.left_version_id), db.get(Version, pair.right_version_id)
    assert left is not None and right is not None
    return VoteResult(
        pair_id=pair.token,
        outcome=pair.outcome,
        left=RevealedSide(version_id=left.id, label=left.label, branch=left.branch),
        right=RevealedSide(version_id=right.id, label=right.label, branch=right.branch),
    )


def leaderboard_public(view: arena_service.LeaderboardView, tags: list[str]) -> LeaderboardPublic:
    versions = view.versions
    return LeaderboardPublic(
        filter=view.filter.slug,
        tags=tags,
        total_votes=view.board.total_votes,
        both_bad=view.board.both_bad,
        standings=[
            StandingPublic(
                rank=s.rank,
                version_id=s.version_id,
                label=versions[s.version_id].label,
                branch=versions[s.version_id].branch,
                status=versions[s.version_id].status.value,
                score=round(s.score, 1),
                lower=round(s.lower, 1),
                upper=round(s.upper, 1),
                votes=s.votes,
                wins=s.wins,
            )
            for s in view.board.standings
        ],
        win_matrix=[
            {"row": versions[a].label, "column": versions[b].label, "wins": wins, "games": games}
            for (a, b), (wins, games) in sorted(view.board.win_matrix.items())
            if games
        ],
    )


@router.get("/filters/{slug}/leaderboard", response_model=LeaderboardPublic)
def read_leaderboard(
    slug: str,
    db: SessionDep,
    _user: ViewerUser,
    tag: list[str] | None = Query(None, description="only votes on samples with these tags"),
    set: RowId | None = Query(None, description="only votes on this sample set"),
    format: str = Query("json", pattern="^(json|csv)$"),
) -> Response | LeaderboardPublic:
    """Bradley–Terry scores with 95% bootstrap intervals, win matrix and vote counts."""
    filter_ = filters_service.get_filter(db, slug=slug)
    tags = samples_service.normalize_tags(tag) if tag else []
    view = arena_service.filter_leaderboard(
        db, filter_=filter_, tags=tuple(tags), sample_set_id=set
    )
    public = leaderboard_public(view, tags)
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            [
                "rank",
                "version",
                "branch",
                "status",
                "score",
                "lower_95",
                "upper_95",
                "votes",
                "wins",
            ]
        )
        for s in public.standings:
            writer.writerow(
                [s.rank, s.label, s.branch, s.status, s.score, s.lower, s.upper, s.votes, s.wins]
            )
        return Response(
            buffer.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{slug}-leaderboard.csv"'},
        )
    return public
