"""API: comments and picks on comparisons; the blind arena and leaderboards."""

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import StreamingResponse

from ganstudio.db.tables import Comment, Filter, Version
from ganstudio.services import arena as arena_service
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import filters as filters_service
from ganstudio.services import reviews as reviews_service
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
from ganstudio.web.schemas.reviews import (
    CommentCreate,
    CommentPublic,
    CommentUpdate,
    PickPublic,
    PickSet,
    PreferredPublic,
)
from ganstudio.web.urls import blob_url

router = APIRouter(prefix="/api/v1", tags=["review"])


def comment_public(comment: Comment) -> CommentPublic:
    return CommentPublic(
        id=comment.id,
        comparison_id=comment.comparison_id,
        sample_id=comment.sample_id,
        version_id=comment.version_id,
        body=comment.body,
        author=comment.author.name if comment.author else None,
        created_at=comment.created_at,
        updated_at=comment.updated_at,
    )


@router.post("/comparisons/{ref}/comments", status_code=status.HTTP_201_CREATED)
def create_comment(
    ref: str, body: CommentCreate, db: SessionDep, user: ViewerUser
) -> CommentPublic:
    """Comment on a comparison, one of its rows (sample_id) or cells (+ version_id)."""
    comparison = comparisons_service.get_comparison(db, ref=ref)
    comment = reviews_service.add_comment(
        db,
        comparison=comparison,
        body=body.body,
        author=user,
        sample_id=body.sample_id,
        version_id=body.version_id,
    )
    db.commit()
    return comment_public(reviews_service.get_comment(db, comment_id=comment.id))


@router.get("/comparisons/{ref}/comments")
def read_comments(ref: str, db: SessionDep, _user: ViewerUser) -> list[CommentPublic]:
    """List a comparison's comments, oldest first."""
    comparison = comparisons_service.get_comparison(db, ref=ref)
    return [comment_public(c) for c in reviews_service.list_comments(db, comparison=comparison)]


@router.patch("/comments/{comment_id}")
def update_comment(
    comment_id: RowId, body: CommentUpdate, db: SessionDep, user: ViewerUser
) -> CommentPublic:
    """Edit one of your comments."""
    comment = reviews_service.get_comment(db, comment_id=comment_id)
    reviews_service.edit_comment(db, comment=comment, body=body.body, user=user)
    db.commit()
    return comment_public(comment)


@router.delete("/comments/{comment_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_comment(comment_id: RowId, db: SessionDep, user: ViewerUser) -> Response:
    """Delete one of your comments."""
    comment = reviews_service.get_comment(db, comment_id=comment_id)
    reviews_service.delete_comment(db, comment=comment, user=user)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/comparisons/{ref}/picks")
def set_picks(ref: str, body: PickSet, db: SessionDep, user: ViewerUser) -> PickPublic:
    """Mark your best version(s) on a row; sending again replaces your pick."""
    comparison = comparisons_service.get_comparison(db, ref=ref)
    chosen = reviews_service.set_picks(
        db,
        comparison=comparison,
        sample_id=body.sample_id,
        version_ids=body.version_ids,
        reviewer=user,
    )
    db.commit()
    return PickPublic(sample_id=body.sample_id, version_ids=chosen)


@router.get("/comparisons/{ref}/picks")
def read_picks(ref: str, db: SessionDep, user: ViewerUser) -> list[PreferredPublic]:
    """Per column: preferred in X of N rows."""
    comparison = comparisons_service.get_comparison(db, ref=ref)
    summary = reviews_service.summarize_picks(db, comparison=comparison, reviewer=user)
    return [
        PreferredPublic(
            version_id=v.id,
            label=v.label,
            preferred=summary.preferred.get(v.id, 0),
            of=summary.rows_with_picks,
        )
        for v in comparisons_service.comparison_versions(db, comparison=comparison)
    ]


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
