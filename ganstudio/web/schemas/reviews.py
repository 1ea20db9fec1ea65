"""JSON shapes of comments, picks and preferred versions."""

from datetime import datetime

from pydantic import BaseModel, Field

from ganstudio.web.params import RowId


class CommentCreate(BaseModel):
    body: str = Field(max_length=20_000, description="Markdown; shown sanitised")
    sample_id: RowId | None = Field(None, description="a row; with version_id, a cell")
    version_id: RowId | None = None


class CommentUpdate(BaseModel):
    body: str = Field(max_length=20_000)


class CommentPublic(BaseModel):
    id: int
    comparison_id: int
    sample_id: int | None
    version_id: int | None
    body: str
    author: str | None
    created_at: datetime
    updated_at: datetime


class PickSet(BaseModel):
    sample_id: RowId
    version_ids: list[RowId] = Field(description="your best version(s) on this row; [] clears")


class PickPublic(BaseModel):
    sample_id: int
    version_ids: list[int]


class PreferredPublic(BaseModel):
    version_id: int
    label: str
    preferred: int = Field(description="rows where someone picked it")
    of: int = Field(description="rows where anyone picked")
