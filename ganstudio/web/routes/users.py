"""Pages: the admin's users page and everyone's account page (tokens, sessions, password)."""

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response

from ganstudio.roles import Role
from ganstudio.services import audit, user_sessions
from ganstudio.services import users as users_service
from ganstudio.web.deps import AdminUser, CurrentCaller, SessionDep, ViewerUser
from ganstudio.web.forms import saved
from ganstudio.web.params import RowId
from ganstudio.web.security import session_limits, sign_in_session
from ganstudio.web.templating import plural

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/users")
def read_users(request: Request, db: SessionDep, admin: AdminUser) -> Response:
    """List every account with forms to add users and change roles."""
    return request.app.state.pages.render(
        request,
        "users/list.html",
        {
            "users": users_service.list_users(db),
            "roles": list(Role),
            "feed": audit.feed(db, audit.recent_events(db, limit=20), reader=admin),
            # Set by create_user: a new account's password, shown in this one response.
            "created": getattr(request.state, "created_user", None),
        },
    )


@router.post("/users")
def create_user(
    request: Request,
    db: SessionDep,
    admin: AdminUser,
    name: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=40)],
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Add an account; a generated password is shown once, in this response only."""
    user, plain = users_service.create_user(
        db, name=name, role=role, password=password or None, actor=admin
    )
    db.commit()
    # Rendered here rather than flashed: a flash travels in the (readable) session cookie.
    request.state.created_user = {
        "name": user.name,
        "role": user.role.value,
        "password": "" if password else plain,
    }
    return read_users(request, db, admin)


@router.post("/users/{name}")
def update_user(
    request: Request,
    name: str,
    db: SessionDep,
    admin: AdminUser,
    role: Annotated[str | None, Form(max_length=40)] = None,
    active: Annotated[str | None, Form(max_length=10)] = None,
    password: Annotated[str | None, Form(max_length=1000)] = None,
) -> Response:
    """Change a user's role, deactivate or reactivate them, or reset their password."""
    user = users_service.get_user(db, name=name)
    users_service.update_user(
        db,
        user=user,
        actor=admin,
        role=role,
        active=None if active is None else active == "true",
        password=password or None,
    )
    return saved(request, db, f"Saved {user.name}.", "/users")


@router.get("/account")
def read_account(
    request: Request, db: SessionDep, _user: ViewerUser, caller: CurrentCaller
) -> Response:
    """Show the caller's API tokens, signed-in browsers and the password form."""
    limits = session_limits(request.app.state.settings)
    return request.app.state.pages.render(
        request,
        "users/account.html",
        {
            "tokens": users_service.list_tokens(db, user=caller.user),
            # Set by create_token: the new token, shown in this one response.
            "new_token": getattr(request.state, "new_token", None),
            "sessions": user_sessions.list_live_sessions(db, user=caller.user, limits=limits),
            "current_session_id": caller.user_session.id if caller.user_session else None,
        },
    )


@router.post("/account/tokens")
def create_token(
    request: Request,
    db: SessionDep,
    user: ViewerUser,
    caller: CurrentCaller,
    label: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create an API token and show it once, in this response only."""
    token, plaintext = users_service.create_token(db, user=user, label=label, actor=user)
    db.commit()
    # Rendered here rather than kept for a redirect: the session cookie is signed, not secret.
    request.state.new_token = {"label": token.label, "token": plaintext}
    return read_account(request, db, user, caller)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: RowId, db: SessionDep, user: ViewerUser) -> Response:
    """Revoke one of the caller's tokens."""
    token = users_service.revoke_token(db, user=user, token_id=token_id, actor=user)
    return saved(request, db, f"Revoked token '{token.label}' ({token.prefix}…).", "/account")


@router.post("/account/sessions/{session_id}/revoke")
def end_session(
    request: Request,
    session_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    db: SessionDep,
    user: ViewerUser,
) -> Response:
    """Sign out one of the caller's browsers."""
    user_sessions.end_session_of(db, user=user, session_id=session_id)
    return saved(request, db, "Signed that browser out.", "/account")


@router.post("/account/sessions/revoke-others")
def end_other_sessions(
    request: Request, db: SessionDep, user: ViewerUser, caller: CurrentCaller
) -> Response:
    """Sign out every browser of the caller but this one."""
    keep = caller.user_session.id if caller.user_session else None
    ended = user_sessions.end_sessions_of(db, user=user, keep_id=keep)
    return saved(request, db, f"Signed out {plural(ended, 'other session')}.", "/account")


@router.post("/account/password")
def change_password(
    request: Request,
    db: SessionDep,
    user: ViewerUser,
    current_password: Annotated[str, Form(max_length=1000)],
    new_password: Annotated[str, Form(max_length=1000)],
) -> Response:
    """Change the caller's own password (signs out every other session)."""
    users_service.change_own_password(
        db, user=user, current_password=current_password, new_password=new_password
    )
    sign_in_session(request, db, user)  # every session ended; this browser gets a fresh one
    return saved(request, db, "Password changed; your other browsers are signed out.", "/account")
