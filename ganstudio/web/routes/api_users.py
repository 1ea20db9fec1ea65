"""API: who am I, my tokens, and (admins) users."""

from fastapi import APIRouter, Request, status

from ganstudio.services import user_sessions
from ganstudio.services import users as users_service
from ganstudio.web.deps import AdminUser, CurrentCaller, SessionDep, ViewerUser
from ganstudio.web.params import PageNumber, PerPage, RowId
from ganstudio.web.schemas import Page, page_of
from ganstudio.web.schemas.users import (
    Me,
    SessionPublic,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserCreated,
    UserPublic,
    UserUpdate,
    session_public,
)
from ganstudio.web.security import session_limits

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.get("/me")
def read_me(caller: CurrentCaller) -> Me:
    """Return the caller's name and role."""
    return Me(name=caller.user.name, role=caller.user.role, authenticated_via=caller.via)


@router.get("/me/tokens")
def read_my_tokens(db: SessionDep, user: ViewerUser) -> list[TokenPublic]:
    """List the caller's API tokens (never their secret part)."""
    return [TokenPublic.model_validate(t) for t in users_service.list_tokens(db, user=user)]


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED)
def create_my_token(body: TokenCreate, db: SessionDep, user: ViewerUser) -> TokenCreated:
    """Create an API token; the response is the only time its secret is shown."""
    token, plaintext = users_service.create_token(db, user=user, label=body.label, actor=user)
    db.commit()
    return TokenCreated(**TokenPublic.model_validate(token).model_dump(), token=plaintext)


@router.delete("/me/tokens/{token_id}")
def revoke_my_token(token_id: RowId, db: SessionDep, user: ViewerUser) -> TokenPublic:
    """Revoke one of the caller's tokens."""
    token = users_service.revoke_token(db, user=user, token_id=token_id, actor=user)
    db.commit()
    return TokenPublic.model_validate(token)


@router.get("/me/sessions")
def read_my_sessions(
    request: Request, db: SessionDep, _user: ViewerUser, caller: CurrentCaller
) -> list[SessionPublic]:
    """List the browsers signed in as the caller (never their cookies)."""
    limits = session_limits(request.app.state.settings)
    rows = user_sessions.list_live_sessions(db, user=caller.user, limits=limits)
    return [session_public(row, caller.user_session) for row in rows]


@router.delete("/me/sessions/{session_id}")
def end_my_session(
    session_id: RowId,
    db: SessionDep,
    user: ViewerUser,
    caller: CurrentCaller,
) -> SessionPublic:
    """Sign out one of the caller's browsers."""
    row = user_sessions.end_session_of(db, user=user, session_id=session_id)
    db.commit()
    return session_public(row, caller.user_session)


@router.delete("/me/sessions")
def end_my_other_sessions(
    db: SessionDep, user: ViewerUser, caller: CurrentCaller
) -> dict[str, int]:
    """Sign out every browser of the caller but the one sending this (if it is one)."""
    keep = caller.user_session.id if caller.user_session else None
    ended = user_sessions.end_sessions_of(db, user=user, keep_id=keep)
    db.commit()
    return {"ended": ended}


@router.get("/users")
def read_users(
    db: SessionDep,
    admin: AdminUser,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> Page[UserPublic]:
    """List accounts (admins)."""
    return page_of(
        users_service.list_users(db),
        page=page,
        per_page=per_page,
        shape=UserPublic.model_validate,
    )


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, db: SessionDep, admin: AdminUser) -> UserCreated:
    """Add an account (admins); the generated password is returned once."""
    user, plain = users_service.create_user(
        db, name=body.name, role=body.role, password=body.password, actor=admin
    )
    db.commit()
    shown = None if body.password else plain
    return UserCreated(**UserPublic.model_validate(user).model_dump(), password=shown)


@router.patch("/users/{name}")
def update_user(name: str, body: UserUpdate, db: SessionDep, admin: AdminUser) -> UserPublic:
    """Change a user's role, active flag or password (admins)."""
    user = users_service.get_user(db, name=name)
    users_service.update_user(
        db, user=user, actor=admin, role=body.role, active=body.active, password=body.password
    )
    db.commit()
    return UserPublic.model_validate(user)
