"""Who is calling: session cookie (browsers) or bearer token (scripts), CSRF, role guards."""

import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from ganstudio.config import Settings
from ganstudio.db.tables import User, UserSession
from ganstudio.roles import Role
from ganstudio.services import user_sessions
from ganstudio.services import users as users_service
from ganstudio.services.errors import PermissionDeniedError
from ganstudio.services.user_sessions import SessionLimits

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SIGN_IN_FIRST = (
    "Sign in to use GAN Studio (scripts: send 'Authorization: Bearer <token>'; create one with "
    "`ganstudio users token NAME` or on your account page)."
)
# The same, said to a person in a browser (the sign-in page): tokens are for scripts.
SIGN_IN_FIRST_PAGE = "Sign in to see that page."
SESSION_ID_FIELD = "sid"  # the cookie's only credential: the token of a user_sessions row


class NotAuthenticatedError(Exception):
    """The caller has not signed in (or its session or token is no longer valid)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Caller:
    user: User
    via: str  # "session" or "token"
    user_session: UserSession | None = None  # the browser's session, when via == "session"


def csrf_token(request: Request) -> str:
    """Return this browser session's CSRF token, creating one on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Refuse an unsafe cookie-authenticated request whose CSRF token is missing or wrong."""
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and _is_form(request):
        form = await request.form()  # cached by Starlette; the route reads the same form
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise PermissionDeniedError(
            "This form is out of date or was not sent by GAN Studio (CSRF check failed). "
            "Reload the page and try again."
        )


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def session_limits(settings: Settings) -> SessionLimits:
    """Return the idle and absolute lifetimes of browser sessions."""
    return SessionLimits(
        idle_seconds=settings.session_idle_seconds,
        max_age_seconds=settings.session_max_age_seconds,
    )


def client_address(request: Request) -> str:
    """Return the caller's network address (the proxy's, unless uvicorn trusts its headers)."""
    return request.client.host if request.client else ""


def sign_in_session(request: Request, db: Session, user: User) -> UserSession:
    """Start a fresh server-side session for `user`; the cookie gets only its token."""
    flashes = request.session.get("flash", [])
    old_token = request.session.get(SESSION_ID_FIELD)
    if isinstance(old_token, str):
        user_sessions.end_session(db, token=old_token)
    user_session, token = user_sessions.start_session(
        db,
        user=user,
        limits=session_limits(request.app.state.settings),
        user_agent=request.headers.get("user-agent", ""),
        address=client_address(request),
    )
    request.session.clear()
    request.session.update(
        {SESSION_ID_FIELD: token, "csrf": secrets.token_urlsafe(32), "flash": flashes}
    )
    return user_session


def sign_out_session(request: Request, db: Session) -> None:
    """End this browser's session on the server, so a copy of its cookie is worthless too."""
    token = request.session.get(SESSION_ID_FIELD)
    if isinstance(token, str):
        user_sessions.end_session(db, token=token)
    request.session.clear()


def identify_caller(request: Request, db: Session) -> Caller | None:
    """Return who the request's credentials name: a live session or a valid bearer token.

    The one rule for "is this request signed in": the body limits ask it before reading a
    body, the routes ask it before running. None when the request carries no credentials;
    NotAuthenticatedError when it carries some that are not (or no longer) valid.
    """
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        user = (
            users_service.user_for_token(db, token=token.strip())
            if scheme.lower() == "bearer"
            else None
        )
        if user is None:
            raise NotAuthenticatedError(
                "The API token is not valid (mistyped, revoked, or its account is deactivated). "
                "Create a new one with `ganstudio users token NAME` or on your account page, "
                "and send it as 'Authorization: Bearer <token>'."
            )
        return Caller(user, "token")
    session_token = request.session.get(SESSION_ID_FIELD) if "session" in request.scope else None
    if not isinstance(session_token, str):
        return None
    limits = session_limits(request.app.state.settings)
    try:
        user_session = user_sessions.live_session(db, token=session_token, limits=limits)
    except user_sessions.SessionEndedError as exc:
        raise NotAuthenticatedError(exc.message) from None
    user = db.get(User, user_session.user_id)
    assert user is not None  # live_session checked it
    return Caller(user, "session", user_session)


def require_credentials(request: Request, db: Session) -> Caller:
    """Return the caller, or raise NotAuthenticatedError for an anonymous or ended one."""
    caller = identify_caller(request, db)
    if caller is None:
        raise NotAuthenticatedError(SIGN_IN_FIRST)
    return caller


def caller_from_request(request: Request, db: Session) -> Caller | None:
    """Resolve the caller, noting the use of its session or token; None when anonymous."""
    try:
        caller = identify_caller(request, db)
    except NotAuthenticatedError:
        if "session" in request.scope:
            request.session.pop(SESSION_ID_FIELD, None)
        raise
    if caller is not None and caller.user_session is not None:
        user_sessions.touch_session(caller.user_session)
    if db.dirty:
        db.commit()  # keep last_seen_at / last_used_at
    return caller


class RoleGuard:
    """A dependency that lets through callers whose role allows `role` (introspected in tests)."""

    def __init__(self, role: Role) -> None:
        self.role = role

    def check(self, caller: Caller) -> User:
        if not caller.user.role.allows(self.role):
            raise PermissionDeniedError(
                f"This needs the '{self.role.value}' role or higher; you are signed in as "
                f"'{caller.user.name}' ({caller.user.role.value}). Ask an admin if you need it."
            )
        return caller.user
