"""Turn every error into a clear answer: JSON `{"detail": ...}` on /api, a page in the browser."""

import logging
from http import HTTPStatus
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ganstudio.services import blob_faults
from ganstudio.services.errors import BusyError, ServiceError, TooManyAttemptsError
from ganstudio.storage.blobs import BlobCorruptError, BlobStoreUnavailableError
from ganstudio.web.security import (
    SIGN_IN_FIRST,
    SIGN_IN_FIRST_PAGE,
    NotAuthenticatedError,
    caller_from_request,
)
from ganstudio.web.templating import flash
from ganstudio.web.urls import BLOBS_PREFIX

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/healthz", BLOBS_PREFIX)


def wants_json(request: Request) -> bool:
    """API callers get JSON; browsers get pages."""
    return request.url.path.startswith(JSON_PREFIXES)


def error_response(
    request: Request,
    status_code: int,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, object] | None = None,
) -> Response:
    """Answer an error as JSON for the API, or as a friendly page for a browser."""
    if wants_json(request):
        return JSONResponse(
            {"detail": message, **(extra or {})}, status_code=status_code, headers=headers
        )
    _remember_user(request)
    title = HTTPStatus(status_code).phrase if status_code in HTTPStatus._value2member_map_ else ""
    response = request.app.state.pages.render(
        request,
        "error.html",
        {"status_code": status_code, "title": title, "message": message},
        status_code=status_code,
    )
    if headers:
        response.headers.update(headers)
    return response


def _remember_user(request: Request) -> None:
    # Errors raised before the route's dependencies ran (an unknown path) still show who is
    # signed in, so the navigation stays on the error page.
    if getattr(request.state, "user", None) is not None:
        return
    try:
        with request.app.state.sessions() as db:
            caller = caller_from_request(request, db)
    except NotAuthenticatedError:
        caller = None
    request.state.user = caller.user if caller else None


def not_authenticated_response(request: Request, message: str) -> Response:
    """Answer a request that needs a sign-in: 401 JSON for the API, the sign-in page for people."""
    if wants_json(request):
        return JSONResponse(
            {"detail": message}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    flash(request, SIGN_IN_FIRST_PAGE if message == SIGN_IN_FIRST else message, "warning")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def describe_validation_errors(exc: RequestValidationError) -> str:
    """Return one sentence per invalid field, e.g. "body → role: Input should be 'viewer'…"."""
    parts = []
    for error in exc.errors():
        location = " → ".join(str(part) for part in error.get("loc", ()) if part != "body")
        parts.append(f"{location or 'request'}: {error.get('msg', 'invalid')}")
    return "Some fields are missing or invalid — " + "; ".join(parts) + ". Fix them and resend."


def _redo_renders_of(request: Request, sha256: str) -> int:
    with request.app.state.sessions() as session:
        redone = blob_faults.redo_renders_of(session, sha256)
        session.commit()
    if redone:
        log.warning("Queued %d render(s) again: their output %s was damaged", redone, sha256)
        request.app.state.worker.work_queued()
    return redone


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that shape every error GAN Studio answers with."""

    @app.exception_handler(NotAuthenticatedError)
    async def not_authenticated(request: Request, exc: NotAuthenticatedError) -> Response:
        return not_authenticated_response(request, exc.message)

    @app.exception_handler(TooManyAttemptsError)
    @app.exception_handler(BusyError)
    async def try_later(request: Request, exc: TooManyAttemptsError | BusyError) -> Response:
        return error_response(
            request, exc.status_code, exc.message, headers={"Retry-After": str(exc.retry_after)}
        )

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> Response:
        return error_response(request, exc.status_code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return error_response(
            request, 422, describe_validation_errors(exc), extra={"errors": errors}
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = (
                f"There is nothing at {request.url.path[:200]}. Check the address, "
                "or start again from the home page."
            )
        elif exc.status_code == 405 and message == "Method Not Allowed":
            message = f"{request.method} is not accepted at {request.url.path[:200]}."
        return error_response(
            request, exc.status_code, message, headers=dict(exc.headers or {}) or None
        )

    @app.exception_handler(BlobStoreUnavailableError)
    async def store_unavailable(request: Request, exc: BlobStoreUnavailableError) -> Response:
        log.warning("Blob store unavailable on %s %s: %s", request.method, request.url.path, exc)
        return error_response(
            request,
            503,
            "The file store cannot be reached right now; try again in a minute. If it lasts, "
            "ask an admin to check the object store (GANSTUDIO_BLOB_URL).",
            headers={"Retry-After": "30"},
        )

    @app.exception_handler(BlobCorruptError)
    async def blob_corrupt(request: Request, exc: BlobCorruptError) -> Response:
        # The store logged it loudly and took the damaged copy out; a render is made again.
        redone = await run_in_threadpool(_redo_renders_of, request, exc.sha256)
        message = (
            "This render's image was damaged in the file store, so it is being rendered again; "
            "reload in a minute."
            if redone
            else "This file was damaged in the file store (its sha256 no longer matches), so it "
            "cannot be shown. Upload it again; an admin can find the details in the log."
        )
        return error_response(request, 503, message, headers={"Retry-After": "30"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("Unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            request, 500, "Something went wrong on our side; it has been logged. Try again."
        )
