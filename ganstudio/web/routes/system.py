"""Health check and content-addressed blob downloads."""

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy import text

from ganstudio.inference.networks import sandbox_status
from ganstudio.paths import resource_dir
from ganstudio.services.errors import NotFoundError
from ganstudio.storage.blobs import BlobStoreUnavailableError, is_sha256
from ganstudio.web.deps import BlobsDep, SessionDep, SettingsDep, ViewerUser
from ganstudio.web.downloads import blob_response
from ganstudio.web.urls import BLOBS_PREFIX

router = APIRouter(tags=["system"])
# Private: blobs are served to signed-in users only, so no shared cache (proxy, CDN) may keep one
# and hand it to someone else; the browser's own cache still keeps it for good.
IMMUTABLE = "private, max-age=31536000, immutable"


@router.get("/healthz")
def read_health(db: SessionDep, blobs: BlobsDep, settings: SettingsDep) -> JSONResponse:
    """Answer 200 when the database and the blob store both answer; say which sandbox runs."""
    problems = []
    try:
        db.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not healthy"
        problems.append(f"database: {exc.__class__.__name__}")
    try:
        blobs.check()
    except BlobStoreUnavailableError as exc:
        problems.append(f"blob store: {exc}")
    sandbox = sandbox_status(settings)
    detail = {"mode": sandbox.mode, "active": sandbox.active, "summary": sandbox.summary}
    if problems:
        body = {"status": "unhealthy", "problems": problems, "sandbox": detail}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "blobs": "ok", "sandbox": detail})


@router.get("/favicon.ico", include_in_schema=False)
def read_favicon() -> FileResponse:
    """Serve the icon where browsers look for it unasked (pages link it too): no 404 per page."""
    icon = resource_dir("static") / "favicon.svg"
    return FileResponse(
        icon, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )


@router.get(BLOBS_PREFIX + "{sha256}", response_class=Response)
def read_blob(sha256: str, request: Request, blobs: BlobsDep, _user: ViewerUser) -> Response:
    """Stream a stored blob at its immutable, content-addressed URL."""
    etag = f'"{sha256}"'
    if not is_sha256(sha256) or not blobs.exists(sha256):
        raise NotFoundError(
            f"No stored file has the sha256 '{sha256[:64]}'. Links to files come from sample, "
            "version and render pages; copy the link again from there."
        )
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return blob_response(blobs, sha256, headers=headers)  # through the app: see downloads.py
