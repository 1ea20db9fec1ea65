"""Download a comparison as one self-contained HTML report."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from markupsafe import Markup

from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import reports as reports_service
from ganstudio.web.deps import BlobsDep, SessionDep, SettingsDep, ViewerUser
from ganstudio.web.headers import frame_ancestors_none, report_policy

router = APIRouter(tags=["review"])


@router.get("/api/v1/comparisons/{ref}/report", response_class=HTMLResponse)
@router.get("/c/{ref}/report.html", include_in_schema=False)  # the page's download link
def download_report(
    request: Request,
    ref: str,
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    _user: ViewerUser,
) -> StreamingResponse:
    """The comparison, its picks and comments and the filter's leaderboard, as one HTML file."""
    comparison = comparisons_service.get_comparison(db, ref=ref)
    data = reports_service.build_report(
        db, comparison=comparison, max_rows=settings.max_comparison_samples
    )
    css = reports_service.report_css()
    policy = report_policy(css)
    html = request.app.state.pages.templates.get_template("compare/report.html").render(
        comparison=comparison,
        data=data,
        versions=data.leaderboard.versions,
        report_css=Markup(css),  # noqa: S704 - our own file, not user input
        policy=policy,
    )
    filename = reports_service.report_filename(comparison)
    return StreamingResponse(
        reports_service.stream_report(html, data=data, blobs=blobs),
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Security-Policy": frame_ancestors_none(policy),
        },
    )
