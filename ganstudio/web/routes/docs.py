"""The API docs at /docs: Swagger UI served from this server, under the page policy."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/docs")
def read_docs(request: Request) -> Response:
    """Show the OpenAPI schema in Swagger UI (vendored: no CDN, no inline script)."""
    return request.app.state.pages.templates.TemplateResponse(
        request, "docs.html", {"openapi_url": request.app.openapi_url}
    )


@router.get("/redoc")
def read_redoc() -> RedirectResponse:
    """Send old ReDoc links to /docs (ReDoc is not shipped)."""
    return RedirectResponse("/docs", status_code=308)
