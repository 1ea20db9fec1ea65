"""Download a comparison as one self-contained HTML report."""

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import reports as reports_service
from ganstudio.web.deps import BlobsDep, SessionDep, SettingsDep, ViewerUser

router = APIRouter(tags=["review"])


def _report(
    request: Request, ref: str, db: SessionDep, blobs: BlobsDep, settings: SettingsDep
) -> Response:
    comparison = comparisons_service.get_comparison(db, ref=ref)
    data = reports_service.build_report(
        db, comparison=comparison, blobs=blobs, max_rows=settings.max_comparison_samples
    )
    html = request.app.state.pages.templates.get_template("compare/report.html").render(
        comparison=comparison, data=data, versions=data.leaderboard.versions
    )
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", comparison.title).strip("-")[:80] or comparison.slug
    return HTMLResponse(
        html, headers={"Content-Disposition": f'attachment; filename="{name}-report.html"'}
    )


@router.get("/api/v1/comparisons/{ref}/report", response_class=HTMLResponse)
def download_report(
    request: Request,
    ref: str,
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    _user: ViewerUser,
) -> Response:
    """The comparison, its picks and comments and the filter's leaderboard, as one HTML file."""
    return _report(request, ref, db, blobs, settings)


@router.get("/c/{ref}/report.html", include_in_schema=False)
def download_report_page(
    request: Request,
    ref: str,
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    _user: ViewerUser,
) -> Response:
    """Browser twin of the report download."""
    return _report(request, ref, db, blobs, settings)
