"""Home page and the sections of the navigation."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ganstudio.roles import ROLE_SUMMARIES
from ganstudio.services import audit
from ganstudio.web.deps import SessionDep, ViewerUser

router = APIRouter(tags=["pages"], include_in_schema=False)

# Sections whose pages arrive with later work; each says so plainly instead of a blank page.
UPCOMING_SECTIONS = {
    "leaderboards": ("Leaderboards", "Blind pairwise votes ranked per filter."),
}


@router.get("/")
def read_home(request: Request, db: SessionDep, user: ViewerUser) -> Response:
    """Show what the signed-in user can do, and recent activity."""
    return request.app.state.pages.render(
        request,
        "home.html",
        {"role_summaries": ROLE_SUMMARIES, "events": audit.recent_events(db, limit=10)},
    )


def _section_page(slug: str):
    title, purpose = UPCOMING_SECTIONS[slug]

    def read_section(request: Request, user: ViewerUser) -> Response:
        return request.app.state.pages.render(
            request, "section.html", {"title": title, "purpose": purpose}
        )

    read_section.__name__ = f"read_{slug}"
    return read_section


for _slug in UPCOMING_SECTIONS:
    router.add_api_route(f"/{_slug}", _section_page(_slug), methods=["GET"])
