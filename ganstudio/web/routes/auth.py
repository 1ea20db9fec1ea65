"""Sign-in and sign-out pages."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ganstudio.db.tables import User
from ganstudio.demo import read_demo_credentials
from ganstudio.services import users as users_service
from ganstudio.services.errors import BusyError, ServiceError, TooManyAttemptsError
from ganstudio.web.deps import SessionDep, SettingsDep, ViewerUser
from ganstudio.web.security import (
    NotAuthenticatedError,
    caller_from_request,
    check_csrf,
    client_address,
    sign_in_session,
    sign_out_session,
)
from ganstudio.web.templating import flash
from ganstudio.web.urls import local_url

router = APIRouter(tags=["pages"], include_in_schema=False)


def _login_page(
    request: Request,
    settings: SettingsDep,
    *,
    next_url: str,
    name: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    demo_accounts = read_demo_credentials(settings.resolved_data_dir) if settings.demo else []
    return request.app.state.pages.render(
        request,
        "login.html",
        {"next": next_url, "name": name, "error": error, "demo_accounts": demo_accounts},
        status_code=status_code,
    )


@router.get("/login")
def read_login(
    request: Request, db: SessionDep, settings: SettingsDep, next: str = "/"
) -> Response:
    """Show the sign-in form (or go on, when already signed in)."""
    try:
        caller = caller_from_request(request, db)
    except NotAuthenticatedError as exc:
        flash(request, exc.message, "warning")
        caller = None
    if caller is not None:
        return RedirectResponse(local_url(next), status_code=303)
    return _login_page(request, settings, next_url=local_url(next))


@router.post("/login")
async def sign_in(
    request: Request,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the name and password, start a session and go where the user was heading."""
    await check_csrf(request)  # login CSRF: nobody signs a browser into another account
    try:
        user = await run_in_threadpool(_authenticate, request, name, password)
    except ServiceError as exc:
        response = _login_page(
            request,
            settings,
            next_url=local_url(next),
            name=name[:40],
            error=exc.message,
            status_code=exc.status_code,
        )
        if isinstance(exc, TooManyAttemptsError | BusyError):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    flash(request, f"Signed in as {user.name} ({user.role.value}).", "success")
    return RedirectResponse(local_url(next), status_code=303)


def _authenticate(request: Request, name: str, password: str) -> User:
    # Argon2 is deliberately slow: run it off the event loop.
    with request.app.state.sessions() as db:
        user = users_service.authenticate(
            db,
            name=name,
            password=password,
            address=client_address(request),
            throttle=request.app.state.throttle,
        )
        sign_in_session(request, db, user)
        db.commit()
        return user


@router.post("/logout")
def sign_out(request: Request, db: SessionDep, _user: ViewerUser) -> Response:
    """End this browser's session, here and on the server."""
    sign_out_session(request, db)
    db.commit()
    flash(request, "You are signed out.", "info")
    return RedirectResponse("/login", status_code=303)
