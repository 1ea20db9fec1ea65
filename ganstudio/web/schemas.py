"""JSON shapes of the API (named ThingCreate / ThingUpdate / ThingPublic)."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ganstudio.roles import Role
from ganstudio.vocabulary import Pipeline, VersionStatus
from ganstudio.web.params import Int64

Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    """One page of a list: `?page=1&per_page=50`."""

    items: list[Item]
    total: int
    page: int
    per_page: int


def page_of(items: list, *, page: int, per_page: int, shape: Callable) -> Page:
    """Return one page of an in-memory list, each item shaped for the API."""
    chunk = items[(page - 1) * per_page : page * per_page]
    return Page(items=[shape(i) for i in chunk], total=len(items), page=page, per_page=per_page)


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


class FilterCreate(BaseModel):
    name: str = Field(max_length=120, examples=["Anime face"])
    slug: str | None = Field(None, max_length=63, description="made from the name when omitted")
    description: str = Field("", max_length=5000)
    pipeline: Pipeline = Pipeline.FULL
    input_size: Int64 = Field(512, description="longest side, in pixels, fed to the network")


class FilterUpdate(BaseModel):
    name: str | None = Field(None, max_length=120)
    description: str | None = Field(None, max_length=5000)
    pipeline: Pipeline | None = None
    input_size: Int64 | None = None


class FilterPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str
    description: str
    pipeline: Pipeline
    input_size: int
    created_at: datetime
    version_count: int = 0
    production: str | None = Field(None, description="label of the production version")
    url: str = ""


class CheckpointInfo(BaseModel):
    sha256: str
    filename: str
    size: int
    format: str
    url: str


class VersionStats(BaseModel):
    param_count: int
    gflops_512: float | None
    latency_ms_512: float = Field(description="median CPU latency at 512×512 on the server")


class VersionRef(BaseModel):
    id: int
    label: str


class VersionPublic(BaseModel):
    id: int
    filter: str
    label: str
    parent: VersionRef | None
    branch: str
    notes: str
    status: VersionStatus
    architecture: str | None
    config: dict[str, Any]
    input_channels: int
    checkpoint: CheckpointInfo
    stats: VersionStats
    created_at: datetime
    created_by: str | None
    url: str


class VersionUpdate(BaseModel):
    notes: str | None = Field(None, max_length=20_000)
    status: VersionStatus | None = None
    reason: str = Field("", max_length=500, description="why the status changed")


class StatusChangePublic(BaseModel):
    from_status: VersionStatus | None
    to_status: VersionStatus
    at: datetime
    by: str | None
    reason: str
