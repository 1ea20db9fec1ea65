"""JSON shapes of comments, picks, arena pairs, votes and leaderboards."""

from datetime import datetime

from pydantic import BaseModel, Field

from ganstudio.vocabulary import VoteOutcome
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


class ArenaSide(BaseModel):
    render_url: str
    thumb_url: str | None


class ArenaPairPublic(BaseModel):
    pair_id: str | None = Field(description="null when you have judged every available pair")
    message: str = ""
    sample_id: int | None = None
    input_url: str | None = None
    left: ArenaSide | None = None
    right: ArenaSide | None = None


class VoteCreate(BaseModel):
    pair_id: str = Field(max_length=64)
    outcome: str = Field(description="left, right, tie or both_bad", max_length=20)


class RevealedSide(BaseModel):
    version_id: int
    label: str
    branch: str


class VoteResult(BaseModel):
    pair_id: str
    outcome: VoteOutcome
    left: RevealedSide
    right: RevealedSide


class StandingPublic(BaseModel):
    rank: int
    version_id: int
    label: str
    branch: str
    status: str
    score: float
    lower: float
    upper: float
    votes: int
    wins: float


class LeaderboardPublic(BaseModel):
    filter: str
    tags: list[str]
    total_votes: int
    both_bad: int
    standings: list[StandingPublic]
    win_matrix: list[dict[str, object]] = Field(
        description="row version, column version, wins (ties half), games"
    )
