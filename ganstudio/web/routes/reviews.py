"""Pages: picks and comments on a comparison's grid (form posts that return to the grid)."""

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ganstudio.db.tables import Comparison, User
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import reviews as reviews_service
from ganstudio.web.deps import SessionDep, ViewerUser
from ganstudio.web.params import PageNumber, RowId
from ganstudio.web.templating import flash

router = APIRouter(tags=["pages"], include_in_schema=False)


def review_context(db: Session, comparison: Comparison, user: User | None) -> dict[str, object]:
    """What the grid shows of the review: picks per row and column, comments in place."""
    comments = reviews_service.list_comments(db, comparison=comparison)
    by_place: dict[tuple[int | None, int | None], list] = defaultdict(list)
    for comment in comments:
        by_place[(comment.sample_id, comment.version_id)].append(comment)
    return {
        "picks": reviews_service.summarize_picks(db, comparison=comparison, reviewer=user),
        "comments": comments,
        "comments_at": by_place,
    }


def _back(comparison: Comparison, page: int, sample_id: int | None) -> RedirectResponse:
    anchor = f"#row-{sample_id}" if sample_id else "#comments"
    return RedirectResponse(f"/c/{comparison.slug}?page={max(page, 1)}{anchor}", status_code=303)


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
    summary = reviews_service.summarize_picks(db, comparison=comparison, reviewer=user)
    mine = set(summary.mine.get(sample_id, set())) ^ {version_id}
    reviews_service.set_picks(
        db, comparison=comparison, sample_id=sample_id, version_ids=sorted(mine), reviewer=user
    )
    db.commit()
    if "application/json" not in request.headers.get("accept", ""):
        return _back(comparison, page, sample_id)
    after = reviews_service.summarize_picks(db, comparison=comparison, reviewer=user)
    return JSONResponse(
        {
            "mine": sorted(after.mine.get(sample_id, set())),
            "row": {str(k): v for k, v in after.by_row.get(sample_id, {}).items()},
            "preferred": {str(k): v for k, v in after.preferred.items()},
            "rows_with_picks": after.rows_with_picks,
        }
    )


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
    """Comment on the comparison, a row or a cell."""
    comparison = comparisons_service.get_comparison(db, ref=slug)
    reviews_service.add_comment(
        db,
        comparison=comparison,
        body=body,
        author=user,
        sample_id=sample_id,
        version_id=version_id,
    )
    db.commit()
    flash(request, "Comment added.", "success")
    return _back(comparison, page, sample_id)


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
    db.commit()
    return _back(comparison, page, comment.sample_id)


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
    db.commit()
    flash(request, "Comment deleted.", "info")
    return _back(comparison, page, sample_id)
