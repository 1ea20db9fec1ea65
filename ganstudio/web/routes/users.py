"""Pages: the admin's users page and everyone's account page (API tokens, password)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ganstudio.roles import Role
from ganstudio.services import audit
from ganstudio.services import users as users_service
from ganstudio.web.deps import AdminUser, SessionDep, ViewerUser
from ganstudio.web.params import RowId
from ganstudio.web.security import sign_in_session
from ganstudio.web.templating import flash

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
            "events": audit.recent_events(db, limit=20),
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
    """Add an account; a generated password is shown once."""
    user, plain = users_service.create_user(
        db, name=name, role=role, password=password or None, actor=admin
    )
    db.commit()
    shown = "" if password else f" Its password is {plain} — copy it now, it is not shown again."
    flash(request, f"Added {user.name} ({user.role.value}).{shown}", "success")
    return RedirectResponse("/users", status_code=303)


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
    db.commit()
    flash(request, f"Saved {user.name}.", "success")
    return RedirectResponse("/users", status_code=303)


@router.get("/account")
def read_account(request: Request, db: SessionDep, user: ViewerUser) -> Response:
    """Show the caller's API tokens and the password form."""
    return request.app.state.pages.render(
        request,
        "users/account.html",
        {
            "tokens": users_service.list_tokens(db, user=user),
            "new_token": request.session.pop("new_token", None),
        },
    )


@router.post("/account/tokens")
def create_token(
    request: Request,
    db: SessionDep,
    user: ViewerUser,
    label: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create an API token and show it once."""
    token, plaintext = users_service.create_token(db, user=user, label=label, actor=user)
    db.commit()
    # Kept in the signed session for exactly one page view, so a reload does not show it again.
    request.session["new_token"] = {"label": token.label, "token": plaintext}
    return RedirectResponse("/account", status_code=303)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: RowId, db: SessionDep, user: ViewerUser) -> Response:
    """Revoke one of the caller's tokens."""
    token = users_service.revoke_token(db, user=user, token_id=token_id, actor=user)
    db.commit()
    flash(request, f"Revoked token '{token.label}' ({token.prefix}…).", "success")
    return RedirectResponse("/account", status_code=303)


@router.post("/account/password")
def change_password(
    request: Request,
    db: SessionDep,
    user: ViewerUser,
    current_password: Annotated[str, Form(max_length=1000)],
    new_password: Annotated[str, Form(max_length=1000)],
) -> Response:
    """Change the caller's own password (signs out their other browsers)."""
    users_service.change_own_password(
        db, user=user, current_password=current_password, new_password=new_password
    )
    db.commit()
    sign_in_session(request, user)  # this browser stays signed in with the new epoch
    flash(request, "Password changed; your other browsers are signed out.", "success")
    return RedirectResponse("/account", status_code=303)
