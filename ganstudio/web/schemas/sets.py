"""JSON shapes of sample sets."""

from datetime import datetime

from pydantic import BaseModel, Field

from ganstudio.services.sample_sets import SetSummary
from ganstudio.web.params import RowId
from ganstudio.web.schemas import shaped
from ganstudio.web.urls import blob_url


class SetCreate(BaseModel):
    name: str = Field(max_length=200, examples=["closed eyes"])
    description: str = Field("", max_length=5_000)


class SetUpdate(BaseModel):
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=5_000)
    archived: bool | None = None


class SetMembers(BaseModel):
    sample_ids: list[RowId] = Field(max_length=100_000, description="the set's samples, in order")


class SetAdd(BaseModel):
    sample_ids: list[RowId] = Field(default_factory=list, max_length=100_000)
    tag: str | None = Field(None, max_length=200, description="add every live sample with it")


class SetPublic(BaseModel):
    id: int
    name: str
    description: str
    archived: bool
    sample_count: int
    cover_urls: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, summary: SetSummary) -> "SetPublic":
        return shaped(
            SetPublic,
            summary.sample_set,
            sample_count=summary.count,
            cover_urls=[blob_url(sha) for sha in summary.covers],
        )


class SetDetail(SetPublic):
    sample_ids: list[int] = Field(description="in the set's order")

    @classmethod
    def of(cls, summary: SetSummary) -> "SetDetail":
        return cls(**SetPublic.of(summary).model_dump(), sample_ids=summary.sample_ids)


class SetMove(BaseModel):
    sample_id: RowId
    position: int = Field(ge=1, le=10_000_000, description="1 is first")


class SetReorder(BaseModel):
    moves: list[SetMove] = Field(
        min_length=1,
        max_length=100_000,
        description="where samples go; the others keep their order around them",
    )
