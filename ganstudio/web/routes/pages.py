"""The home page."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ganstudio.roles import ROLE_SUMMARIES
from ganstudio.services import audit
from ganstudio.web.deps import SessionDep, ViewerUser

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/")
def read_home(request: Request, db: SessionDep, user: ViewerUser) -> Response:
    """Show what the signed-in user can do, and recent activity."""
    return request.app.state.pages.render(
        request,
        "home.html",
        {
            "role_summaries": ROLE_SUMMARIES,
            "feed": audit.feed(db, audit.recent_events(db, limit=10), reader=user),
        },
    )
