"""JSON shapes of users, API tokens and sign-in sessions."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ganstudio.db.tables import UserSession
from ganstudio.roles import Role


class Me(BaseModel):
    name: str
    role: Role
    authenticated_via: str = Field(description="'session' (browser) or 'token' (API)")


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    role: Role
    active: bool
    created_at: datetime
    last_sign_in_at: datetime | None


class UserCreate(BaseModel):
    name: str = Field(max_length=40, examples=["alice"])
    role: Role
    password: str | None = Field(None, max_length=1000, description="generated when omitted")


class UserCreated(UserPublic):
    password: str | None = Field(description="the generated password, shown only this once")


class UserUpdate(BaseModel):
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(None, max_length=1000)


class TokenCreate(BaseModel):
    label: str = Field("token", max_length=80, examples=["nightly comparison script"])


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    label: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="send as 'Authorization: Bearer <token>'; shown only once")


class SessionPublic(BaseModel):
    """A signed-in browser (never its token)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    last_seen_at: datetime
    user_agent: str
    address: str
    current: bool = Field(False, description="whether this is the caller's own session")


def session_public(row: UserSession, current: UserSession | None) -> SessionPublic:
    """Shape a signed-in browser; `current` is the caller's own session (None for a token)."""
    is_current = current is not None and current.id == row.id
    return SessionPublic.model_validate(row).model_copy(update={"current": is_current})
