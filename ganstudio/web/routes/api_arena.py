"""API: the blind arena (pairs, images, votes) and leaderboards."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import StreamingResponse

from ganstudio.db.tables import Version
from ganstudio.services import arena as arena_service
from ganstudio.services import filters as filters_service
from ganstudio.services import metric_sources
from ganstudio.services import samples as samples_service
from ganstudio.web.deps import BlobsDep, SessionDep, ViewerUser
from ganstudio.web.downloads import opaque_blob_response
from ganstudio.web.params import RowId
from ganstudio.web.schemas.arena import (
    ArenaPairPublic,
    LeaderboardPublic,
    VoteCreate,
    VoteResult,
    arena_side,
    leaderboard_csv,
    leaderboard_public,
    vote_result_public,
)
from ganstudio.web.urls import blob_url

router = APIRouter(prefix="/api/v1", tags=["arena"])


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
    scope = arena_service.parse_scope(
        db, filter_=filter_, versions=versions, sample_set_id=set, tags=tag
    )
    served = arena_service.next_pair(db, filter_=filter_, voter=user, scope=scope)
    db.commit()
    if isinstance(served, arena_service.NoPairLeft):
        return ArenaPairPublic(
            pair_id=None,
            message=served.message,
            skipped_no_face=served.no_face,
            skipped_identical=served.identical,
        )
    return ArenaPairPublic(
        pair_id=served.pair.token,
        sample_id=served.sample.id,
        input_url=blob_url(served.sample.sha256),
        left=arena_side(served.pair.token, "left"),
        right=arena_side(served.pair.token, "right"),
    )


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
    return vote_result_public(pair, left, right)


@router.get("/filters/{slug}/leaderboard", response_model=LeaderboardPublic)
def read_leaderboard(
    slug: str,
    db: SessionDep,
    _user: ViewerUser,
    tag: list[str] | None = Query(None, description="only votes on samples with these tags"),
    set: RowId | None = Query(None, description="only votes on this sample set"),
    format: str = Query("json", pattern="^(json|csv)$"),
) -> Response | LeaderboardPublic:
    """Bradley–Terry scores with 95% bootstrap intervals, win matrix, vote counts and agreement.

    `agreement`: per metric (training numbers pushed with the versions, …), each version's rank by
    it and Kendall's tau-b with the Bradley–Terry ranking, with the votes behind it.
    """
    filter_ = filters_service.get_filter(db, slug=slug)
    tags = samples_service.tag_filter(tag) if tag else []
    view = arena_service.filter_leaderboard(
        db, filter_=filter_, tags=tuple(tags), sample_set_id=set
    )
    public = leaderboard_public(view, tags, metric_sources.leaderboard_agreement(db, view=view))
    if format == "csv":
        return Response(
            leaderboard_csv(public),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{slug}-leaderboard.csv"'},
        )
    return public
