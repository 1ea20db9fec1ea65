"""JSON shapes of arena pairs, votes and leaderboards."""

from pydantic import BaseModel, Field

from ganstudio.vocabulary import VoteOutcome


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
