"""Who is calling: session cookie (browsers) or bearer token (scripts), CSRF, role guards."""

import hmac
import secrets
import time
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from ganstudio.db.tables import User
from ganstudio.roles import Role
from ganstudio.services import users as users_service

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SEEN_REFRESH_SECONDS = 60


class NotAuthenticatedError(Exception):
    """The caller has not signed in (or its session or token is no longer valid)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ForbiddenError(Exception):
    """Signed in, but the role does not allow this (or a CSRF check failed)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Caller:
    user: User
    via: str  # "session" or "token"


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
        raise ForbiddenError(
            "This form is out of date or was not sent by GAN Studio (CSRF check failed). "
            "Reload the page and try again."
        )


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def sign_in_session(request: Request, user: User) -> None:
    """Start a fresh browser session for `user` (a new CSRF token, no old state)."""
    flashes = request.session.get("flash", [])
    request.session.clear()
    request.session.update(
        uid=user.id,
        epoch=user.session_epoch,
        seen=int(time.time()),
        csrf=secrets.token_urlsafe(32),
        flash=flashes,
    )


def sign_out_session(request: Request) -> None:
    request.session.clear()


def caller_from_request(request: Request, session: Session, *, idle_seconds: int) -> Caller | None:
    """Resolve the caller from a bearer token or the session cookie; None when anonymous."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        user = (
            users_service.user_for_token(session, token=token.strip())
            if scheme.lower() == "bearer"
            else None
        )
        if user is None:
            raise NotAuthenticatedError(
                "The API token is not valid (mistyped, revoked, or its account is deactivated). "
                "Create a new one with `ganstudio users token NAME` or on your account page, "
                "and send it as 'Authorization: Bearer <token>'."
            )
        session.commit()  # keep last_used_at
        return Caller(user, "token")
    uid = request.session.get("uid")
    if uid is None:
        return None
    now = int(time.time())
    if now - int(request.session.get("seen", 0)) > idle_seconds:
        request.session.clear()
        raise NotAuthenticatedError("Your session has expired. Sign in again.")
    user = session.get(User, uid)
    if user is None or not user.active or user.session_epoch != request.session.get("epoch"):
        request.session.clear()
        raise NotAuthenticatedError("You were signed out (the account changed). Sign in again.")
    if now - int(request.session["seen"]) > SEEN_REFRESH_SECONDS:
        request.session["seen"] = now
    return Caller(user, "session")


class RoleGuard:
    """A dependency that lets through callers whose role allows `role` (introspected in tests)."""

    def __init__(self, role: Role) -> None:
        self.role = role

    def check(self, caller: Caller) -> User:
        if not caller.user.role.allows(self.role):
            raise ForbiddenError(
                f"This needs the '{self.role.value}' role or higher; you are signed in as "
                f"'{caller.user.name}' ({caller.user.role.value}). Ask an admin if you need it."
            )
        return caller.user
