"""JSON shapes of comments, picks and preferred versions."""

from datetime import datetime

from pydantic import BaseModel, Field

from ganstudio.db.tables import Comment, Version
from ganstudio.services.reviews import PickSummary
from ganstudio.web.params import RowId
from ganstudio.web.schemas import shaped


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


def comment_public(comment: Comment) -> CommentPublic:
    return shaped(CommentPublic, comment, author=comment.author.name if comment.author else None)


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


def preferred_public(versions: list[Version], summary: PickSummary) -> list[PreferredPublic]:
    return [
        PreferredPublic(
            version_id=v.id,
            label=v.label,
            preferred=summary.preferred.get(v.id, 0),
            of=summary.rows_with_picks,
        )
        for v in versions
    ]


class PickToggled(BaseModel):
    """What the grid's script redraws after a ★: the row's stars and the column heads."""

    mine: list[int] = Field(description="the version ids you picked on this row")
    row: dict[int, int] = Field(description="version id → reviewers who picked it on this row")
    preferred: dict[int, int] = Field(description="version id → rows where someone picked it")
    rows_with_picks: int
    leading: list[int] = Field(description="the version(s) preferred in the most rows")


def pick_toggled_public(summary: PickSummary, sample_id: int) -> PickToggled:
    return PickToggled(
        mine=sorted(summary.mine.get(sample_id, set())),
        row=summary.by_row.get(sample_id, {}),
        preferred=summary.preferred,
        rows_with_picks=summary.rows_with_picks,
        leading=sorted(summary.leading),
    )
