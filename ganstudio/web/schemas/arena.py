"""JSON shapes of arena pairs, votes and leaderboards."""

import csv
import io

from pydantic import BaseModel, Field

from ganstudio.db.tables import ArenaPair, Version
from ganstudio.services.agreement import DIRECTION_RULE, MetricAgreement
from ganstudio.services.arena import MIN_VOTES_PER_VERSION, LeaderboardView
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
    skipped_no_face: int = Field(
        0,
        description="with pair_id null: your unjudged pairs not served because no face was "
        "found in the sample (a face filter's render is then the unchanged photo)",
    )
    skipped_identical: int = Field(
        0,
        description="with pair_id null: your unjudged pairs not served because both renders "
        "are identical (the same output bytes)",
    )


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
    votes_needed: int = Field(
        0, description="more votes this version needs before its rank counts (see min_votes)"
    )
    distinct_from_above: bool = Field(
        True, description="false when its interval overlaps the one ranked above"
    )


class AgreementPublic(BaseModel):
    metric: str
    source: str = Field(description="where the numbers come from, e.g. training")
    higher_is_better: bool
    direction_known: bool = Field(description="false: the rule for unknown names decided it")
    tau: float | None = Field(
        description="Kendall's tau-b between this metric's ranking and the Bradley–Terry one, "
        "over the versions with both; null when undefined (see reason)"
    )
    versions: int = Field(description="versions compared: with both votes and this metric")
    votes: int = Field(description="blind votes between the compared versions")
    ranks: dict[int, int] = Field(description="version id → rank by this metric, 1 = best")
    values: dict[int, float] = Field(description="version id → the metric's value")
    reason: str = Field("", description="why tau is missing")


class LeaderboardPublic(BaseModel):
    filter: str
    tags: list[str]
    total_votes: int
    both_bad: int
    standings: list[StandingPublic]
    win_matrix: list[dict[str, object]] = Field(
        description="row version, column version, wins (ties half), games"
    )
    min_votes: int = Field(
        MIN_VOTES_PER_VERSION, description="votes each version needs before the ranking counts"
    )
    votes_needed: int = Field(0, description="the fewest more votes that could meet min_votes")
    agreement: list[AgreementPublic] = Field(
        [], description="each metric's ranking of the versions and Kendall's tau with the votes"
    )
    direction_rule: str = Field(DIRECTION_RULE, description="which way each metric is better")


def agreement_public(found: MetricAgreement) -> AgreementPublic:
    return AgreementPublic(
        metric=found.metric,
        source=found.source,
        higher_is_better=found.direction.higher_is_better,
        direction_known=found.direction.known,
        tau=None if found.tau is None else round(found.tau, 4),
        versions=found.versions,
        votes=found.votes,
        ranks=found.ranks,
        values=found.values,
        reason=found.reason,
    )


def arena_side(token: str, side: str) -> ArenaSide:
    # Per-pair URLs: a render's content URL is what the comparison API maps to its version.
    url = f"/api/v1/arena/pairs/{token}/{side}"
    return ArenaSide(render_url=url, thumb_url=f"{url}?size=thumb")


def revealed_side(version: Version) -> RevealedSide:
    return RevealedSide(version_id=version.id, label=version.label, branch=version.branch)


def vote_result_public(pair: ArenaPair, left: Version, right: Version) -> VoteResult:
    assert pair.outcome is not None
    return VoteResult(
        pair_id=pair.token,
        outcome=pair.outcome,
        left=revealed_side(left),
        right=revealed_side(right),
    )


def leaderboard_public(
    view: LeaderboardView, tags: list[str], agreement: list[MetricAgreement] | None = None
) -> LeaderboardPublic:
    versions = view.versions
    return LeaderboardPublic(
        filter=view.filter.slug,
        tags=tags,
        total_votes=view.board.total_votes,
        both_bad=view.board.both_bad,
        standings=[
            StandingPublic(
                rank=row.standing.rank,
                version_id=row.version.id,
                label=row.version.label,
                branch=row.version.branch,
                status=row.version.status.value,
                score=round(row.standing.score, 1),
                lower=round(row.standing.lower, 1),
                upper=round(row.standing.upper, 1),
                votes=row.standing.votes,
                wins=row.standing.wins,
                votes_needed=row.votes_needed,
                distinct_from_above=not row.overlaps_above,
            )
            for row in view.rows
        ],
        win_matrix=[
            {"row": versions[a].label, "column": versions[b].label, "wins": wins, "games": games}
            for (a, b), (wins, games) in sorted(view.board.win_matrix.items())
            if games
        ],
        min_votes=view.min_votes,
        votes_needed=view.votes_needed,
        agreement=[agreement_public(a) for a in agreement or []],
    )


LEADERBOARD_CSV_COLUMNS = (
    "rank",
    "version",
    "branch",
    "status",
    "score",
    "lower_95",
    "upper_95",
    "votes",
    "wins",
)


def leaderboard_csv(public: LeaderboardPublic) -> str:
    """The leaderboard as CSV, one row per standing."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(LEADERBOARD_CSV_COLUMNS)
    for s in public.standings:
        writer.writerow(
            [s.rank, s.label, s.branch, s.status, s.score, s.lower, s.upper, s.votes, s.wins]
        )
    return buffer.getvalue()
