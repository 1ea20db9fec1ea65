"""Pages: picks and comments on a comparison's grid (form posts that return to the grid)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response

from ganstudio.db.tables import Comparison
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import reviews as reviews_service
from ganstudio.web.deps import SessionDep, ViewerUser
from ganstudio.web.forms import go_to, saved
from ganstudio.web.params import PageNumber, RowId
from ganstudio.web.schemas.reviews import pick_toggled_public

router = APIRouter(tags=["pages"], include_in_schema=False)


def _back(comparison: Comparison, page: int, anchor: str) -> str:
    """The grid page the form was on, scrolled to `anchor` (a row or a comment)."""
    return f"/c/{comparison.slug}?page={max(page, 1)}#{anchor}"


@router.post("/c/{slug}/picks")
def toggle_pick(
    request: Request,
    slug: str,
    db: SessionDep,
    user: ViewerUser,
    sample_id: RowId,
    version_id: RowId,
    page: PageNumber = 1,
) -> Response:
    """Add or remove one version from your best picks on a row (JSON for the page's script)."""
    comparison = comparisons_service.get_comparison(db, ref=slug)
    summary = reviews_service.toggle_pick(
        db, comparison=comparison, sample_id=sample_id, version_id=version_id, reviewer=user
    )
    db.commit()
    if "application/json" not in request.headers.get("accept", ""):
        return go_to(_back(comparison, page, f"row-{sample_id}"))
    return JSONResponse(pick_toggled_public(summary, sample_id).model_dump(mode="json"))


@router.post("/c/{slug}/comments")
def add_comment(
    request: Request,
    slug: str,
    db: SessionDep,
    user: ViewerUser,
    body: Annotated[str, Form(max_length=20_000)],
    sample_id: Annotated[RowId | None, Form()] = None,
    version_id: Annotated[RowId | None, Form()] = None,
    page: Annotated[PageNumber, Form()] = 1,
) -> Response:
    """Comment on the comparison, a row or a cell; land at the new comment."""
    comparison = comparisons_service.get_comparison(db, ref=slug)
    comment = reviews_service.add_comment(
        db,
        comparison=comparison,
        body=body,
        author=user,
        sample_id=sample_id,
        version_id=version_id,
    )
    # review.js shows this beside the comment the page lands at (else it stays at the top).
    return saved(request, db, "Comment added.", _back(comparison, page, f"comment-{comment.id}"))


@router.post("/c/{slug}/comments/{comment_id}")
def edit_comment(
    request: Request,
    slug: str,
    comment_id: RowId,
    db: SessionDep,
    user: ViewerUser,
    body: Annotated[str, Form(max_length=20_000)],
    page: Annotated[PageNumber, Form()] = 1,
) -> Response:
    """Edit one of your comments."""
    comparison = comparisons_service.get_comparison(db, ref=slug)
    comment = reviews_service.get_comment(db, comment_id=comment_id)
    reviews_service.edit_comment(db, comment=comment, body=body, user=user)
    return saved(request, db, None, _back(comparison, page, f"comment-{comment.id}"))


@router.post("/c/{slug}/comments/{comment_id}/delete")
def delete_comment(
    request: Request,
    slug: str,
    comment_id: RowId,
    db: SessionDep,
    user: ViewerUser,
    page: Annotated[PageNumber, Form()] = 1,
) -> Response:
    """Delete one of your comments."""
    comparison = comparisons_service.get_comparison(db, ref=slug)
    comment = reviews_service.get_comment(db, comment_id=comment_id)
    sample_id = comment.sample_id
    reviews_service.delete_comment(db, comment=comment, user=user)
    anchor = f"row-{sample_id}" if sample_id else "comments"
    return saved(request, db, "Comment deleted.", _back(comparison, page, anchor), level="info")
