"""Do the numbers agree with people? Metric direction, ranks with ties, Kendall's tau.

Pure functions (no database): `metric_sources` feeds them from the database. `rank` is
`ranking.rank`, the one rule the leaderboard's people's ranks use too.

Direction, in one place: a metric's name is split into words ("loss_g" → loss, g; "val/FID" →
val, fid). A word in `LOWER_IS_BETTER` (fid, loss, lpips …) makes it lower-is-better; else a word
in `HIGHER_IS_BETTER` (psnr, ssim, accuracy …) makes it higher-is-better; a name with neither is
*assumed* lower-is-better (most numbers a training run logs are losses or distances), and pages
say "assumed".
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from scipy.stats import kendalltau

from ganstudio.services.ranking import rank as rank  # one rule for people and metrics

LOWER_IS_BETTER = frozenset(
    {"fid", "kid", "fvd", "lpips", "dists", "loss", "mse", "mae", "rmse", "l1", "l2", "error",
     "err", "niqe", "brisque", "distance", "dist", "nll", "perplexity"}
)  # fmt: skip
HIGHER_IS_BETTER = frozenset(
    {"psnr", "ssim", "msssim", "ms_ssim", "accuracy", "acc", "precision", "recall", "f1", "iou",
     "dice", "is", "inception", "clip", "score"}
)  # fmt: skip
# Words that are names of their own inside longer words ("lossG", "g_loss_total", "psnr_val").
_EMBEDDED = ("loss", "lpips", "fid", "psnr", "ssim", "error")
DIRECTION_RULE = (
    "Lower is better for names with fid, kid, lpips, loss, mse, mae, l1, l2, error, distance …; "
    "higher is better for psnr, ssim, accuracy, inception score …; any other name is assumed "
    "lower-is-better (most training numbers are losses or distances). The training step (or "
    "epoch) is progress, not quality: it has no better side and is not ranked."
)


@dataclass(frozen=True)
class Direction:
    higher_is_better: bool
    known: bool  # False: the rule for unknown names decided it

    @property
    def words(self) -> str:
        """E.g. "lower is better (assumed)"."""
        side = "higher is better" if self.higher_is_better else "lower is better"
        return side if self.known else f"{side} (assumed)"


def direction(name: str) -> Direction:
    """Return which way a metric named `name` is better (see the module docstring)."""
    lowered = name.lower()
    words = set(re.split(r"[^a-z0-9]+", lowered)) - {""}
    words |= {w.replace("_", "") for w in words}
    if words & LOWER_IS_BETTER or _embedded(lowered, LOWER_IS_BETTER):
        return Direction(higher_is_better=False, known=True)
    if words & HIGHER_IS_BETTER or _embedded(lowered, HIGHER_IS_BETTER):
        return Direction(higher_is_better=True, known=True)
    return Direction(higher_is_better=False, known=False)


def _embedded(lowered: str, table: frozenset[str]) -> bool:
    return any(word in lowered for word in _EMBEDDED if word in table)


def kendall_tau(first: Mapping[int, float], second: Mapping[int, float]) -> float | None:
    """Kendall's tau-b between two rankings (1 = best) over their shared ids; None if undefined.

    Undefined with fewer than two shared ids, or when one side ranks them all equal.
    """
    shared = sorted(first.keys() & second.keys())
    if len(shared) < 2:
        return None
    result = kendalltau([first[i] for i in shared], [second[i] for i in shared], variant="b")
    tau = float(result.statistic)
    return None if math.isnan(tau) else tau


@dataclass(frozen=True)
class MetricAgreement:
    """How one metric's ranking of versions agrees with the blind votes' ranking."""

    metric: str
    source: str  # where the numbers come from, e.g. "training"
    direction: Direction
    values: dict[int, float]  # version id → value (every version on the board that has one)
    ranks: dict[int, int]  # version id → rank by this metric among them, 1 = best
    tau: float | None
    versions: int  # versions with both a value and votes: what tau compares
    votes: int  # blind votes between those versions
    reason: str  # why tau is missing ("" when it is given)


def agreement(
    *,
    metric: str,
    source: str,
    values: Mapping[int, float],
    people_ranks: Mapping[int, int],
    games: Mapping[tuple[int, int], int],
) -> MetricAgreement:
    """Compare a metric with people's ranking (1 = best) of the versions that have votes.

    `values` may hold versions without votes (they get a rank, not a say in tau); `games` counts
    votes per unordered pair of version ids (a < b).
    """
    way = direction(metric)
    ranks = rank(values, higher_is_better=way.higher_is_better)
    compared = sorted(ranks.keys() & people_ranks.keys())
    inside = set(compared)
    votes = sum(n for (a, b), n in games.items() if a in inside and b in inside and a < b)
    tau = kendall_tau({i: ranks[i] for i in compared}, people_ranks)
    if len(compared) < 2:
        have = "no version has" if not compared else "only one version has"
        reason = f"{have} both votes and this metric; tau needs two"
    elif votes == 0:
        tau, reason = None, "no blind votes between the versions that have this metric"
    elif tau is None:
        reason = "every compared version ranks equal on one side"
    else:
        reason = ""
    return MetricAgreement(
        metric=metric,
        source=source,
        direction=way,
        values=dict(values),
        ranks=ranks,
        tau=tau,
        versions=len(compared),
        votes=votes,
        reason=reason,
    )
