"""Where the leaderboard's metrics come from, and their agreement with the blind votes.

A source is a name and a function (session, versions) → {metric: {version id: value}}. Adding one
is one line in `SOURCES`.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ganstudio.db.tables import Version
from ganstudio.services import agreement, arena, reference_metrics
from ganstudio.services.training_metrics import is_progress

MetricValues = dict[str, dict[int, float]]  # metric name → version id → value


@dataclass(frozen=True)
class MetricSource:
    name: str  # shown beside a metric whose name another source uses too
    values: Callable[[Session, list[Version]], MetricValues]


def training_values(_session: Session, versions: list[Version]) -> MetricValues:
    """Each quality number pushed with the versions (their training metrics, not the step)."""
    found: MetricValues = {}
    for version in versions:
        for name, value in (version.training_metrics or {}).items():
            if not is_progress(name):
                found.setdefault(name, {})[version.id] = float(value)
    return found


def by_metric(
    means: Mapping[int, Mapping[str, float]], *, skip: Iterable[str] = ()
) -> MetricValues:
    """Turn {version id: {metric: value}} into {metric: {version id: value}}, minus `skip`."""
    skipped = set(skip)
    found: MetricValues = {}
    for version_id, row in means.items():
        for name, value in row.items():
            if name not in skipped and value is not None:
                found.setdefault(name, {})[version_id] = float(value)
    return found


def reference_values(session: Session, versions: list[Version]) -> MetricValues:
    """Mean PSNR/SSIM against the samples' references, over the samples all of them rendered."""
    means = reference_metrics.version_means(session, [version.id for version in versions])
    return by_metric(means, skip={"count"})


SOURCES: list[MetricSource] = [
    MetricSource("training", training_values),
    MetricSource("reference", reference_values),
]


def leaderboard_agreement(
    session: Session,
    *,
    view: arena.LeaderboardView,
    sources: Iterable[MetricSource] | None = None,
) -> list[agreement.MetricAgreement]:
    """Each metric's ranks of the board's versions and Kendall's tau with the blind votes.

    People's ranking: the leaderboard's ranks (`ranking.Standing.rank`) of the versions with at
    least one vote: by Bradley–Terry score, equal scores sharing a rank. Metrics with a tau
    first, then by name.
    """
    board = view.board
    on_board = [view.versions[s.version_id] for s in board.standings]
    people = {s.version_id: s.rank for s in board.standings if s.votes > 0}
    games = {(a, b): n for (a, b), (_wins, n) in board.win_matrix.items() if a < b}
    results = []
    for source in SOURCES if sources is None else sources:
        values = source.values(session, on_board)
        for name in sorted(values):
            results.append(
                agreement.agreement(
                    metric=name,
                    source=source.name,
                    values=values[name],
                    people_ranks=people,
                    games=games,
                )
            )
    return sorted(results, key=lambda a: (a.tau is None, a.metric.lower()))
