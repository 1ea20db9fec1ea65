"""API: comments and picks on comparisons."""

from fastapi import APIRouter, Response, status

from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import reviews as reviews_service
from ganstudio.web.deps import SessionDep, ViewerUser
from ganstudio.web.params import RowId
from ganstudio.web.schemas.reviews import (
    CommentCreate,
    CommentPublic,
    CommentUpdate,
    PickPublic,
    PickSet,
    PreferredPublic,
    comment_public,
    preferred_public,
)

router = APIRouter(prefix="/api/v1", tags=["review"])


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
    versions = comparisons_service.comparison_versions(db, comparison=comparison)
    return preferred_public(versions, summary)
