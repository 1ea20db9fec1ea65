"""Blind pairwise votes → Bradley–Terry leaderboard with bootstrap intervals, and the next pair.

Model: P(a beats b) = 1 / (1 + exp(s_b - s_a)) with log-strengths s fitted by maximum likelihood.
A tie counts as half a win for each side; "both_bad" counts as a tie for ranking and is also
reported on its own. Scores use the Chatbot Arena (Elo-like) scale: score = 1000 + 400·log10(e)·s,
so a 400-point gap means 10:1 odds, and the scores of each connected group of versions (versions
linked by votes, directly or through others) average 1000. Scores of versions that were never
compared, directly or indirectly, with each other are not comparable; a version with no votes
scores 1000 with a zero-width interval.

Ranks (`rank`, one rule for people's ranks and every metric's): 1 = best, equal values share the
best of their places (1, 1, 3). On the leaderboard, the versions with votes are ranked by score
(rounded to 6 decimals, so float noise cannot split equal scores); versions without votes come
last, all sharing the place after them: they have no rank from people yet.

The leaderboard fits with a weak Gaussian prior on log-strengths (`PRIOR_L2`, a standard deviation
of about 2 log units, ~900 points). Without it a version that never loses — in the votes, or in one
bootstrap resample of few votes — has no finite maximum-likelihood score: the fit runs off towards
+∞ until the optimiser stops, which showed as a 1083 with an interval of 930–2431. With it every
score and interval is finite, and with a few hundred votes the prior moves scores by well under a
point (its weight is that of a fraction of one game).

Pure numpy/scipy on purpose: no database, no ganstudio imports.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import norm, rankdata

OUTCOMES = ("left", "right", "tie", "both_bad")
BASE_SCORE = 1000.0
ELO_PER_LOG_UNIT = 400.0 / math.log(10.0)
_LEFT_SHARE = {"left": 1.0, "right": 0.0, "tie": 0.5, "both_bad": 0.5}
PRIOR_L2 = 0.25  # 1 / σ² for a N(0, σ = 2) prior on each log-strength; see the module docstring


@dataclass(frozen=True)
class Vote:
    """One blind judgement between two versions (ids) on one sample."""

    left: int
    right: int
    outcome: str

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")
        if self.left == self.right:
            raise ValueError("a vote compares two different versions")


@dataclass(frozen=True)
class Standing:
    """One version's row: Elo-scale score with its interval, votes taken part in and wins."""

    version_id: int
    score: float
    lower: float
    upper: float
    votes: int
    wins: float
    rank: int


@dataclass(frozen=True)
class Leaderboard:
    """Standings best first; win_matrix[(a, b)] = (a's wins incl. half ties vs b, games)."""

    standings: list[Standing]
    win_matrix: dict[tuple[int, int], tuple[float, int]]
    both_bad: int
    total_votes: int


def rank(values: Mapping[int, float], *, higher_is_better: bool) -> dict[int, int]:
    """Rank ids by value, 1 = best; equal values share the best of their places (1, 2, 2, 4)."""
    ids = list(values)
    if not ids:
        return {}
    signed = [-values[i] if higher_is_better else values[i] for i in ids]
    places = rankdata(signed, method="min")
    return {i: int(p) for i, p in zip(ids, places, strict=True)}


def fit_bradley_terry(
    version_ids: list[int], votes: list[Vote], *, l2: float = 1e-6
) -> dict[int, float]:
    """Return maximum-likelihood log-strengths (natural log, mean 0 per connected group)."""
    ids = _unique_ids(version_ids)
    left, right, share = _encode(ids, votes)
    wins = _win_counts(len(ids), left, right, share)
    return dict(zip(ids, _fit(wins, l2=l2).tolist(), strict=True))


def to_score(log_strength: float) -> float:
    """Map a log-strength to the Elo-like scale (0 → 1000, +400 → 10:1 odds)."""
    return BASE_SCORE + ELO_PER_LOG_UNIT * log_strength


def leaderboard(
    version_ids: list[int],
    votes: list[Vote],
    *,
    bootstrap: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
    prior: float = PRIOR_L2,
) -> Leaderboard:
    """Rank versions by Bradley–Terry score with percentile bootstrap intervals over votes.

    `prior` is the L2 weight on log-strengths, used for the scores and every bootstrap fit.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie strictly between 0 and 1")
    if bootstrap < 0:
        raise ValueError("bootstrap must be >= 0")
    ids = _unique_ids(version_ids)
    k = len(ids)
    left, right, share = _encode(ids, votes)
    wins = _win_counts(k, left, right, share)
    strengths = _fit(wins, l2=prior)
    scores = BASE_SCORE + ELO_PER_LOG_UNIT * strengths

    lower, upper = scores.copy(), scores.copy()
    n = len(left)
    if bootstrap and n:
        rng = np.random.default_rng(seed)
        samples = np.empty((bootstrap, k))
        for r in range(bootstrap):
            pick = rng.integers(0, n, size=n)
            resampled = _win_counts(k, left[pick], right[pick], share[pick])
            samples[r] = _fit(resampled, l2=prior, x0=strengths)
        tail = 100.0 * (1.0 - confidence) / 2.0
        samples = BASE_SCORE + ELO_PER_LOG_UNIT * samples
        lo, hi = np.percentile(samples, [tail, 100.0 - tail], axis=0)
        # With few, one-sided votes every resample is one-sided too and the percentile interval
        # collapses (7 wins of 7 gave ±60 points); never report less than the curvature
        # (Laplace) interval of the penalised fit. With many votes the two agree.
        z = float(norm.ppf(1.0 - (1.0 - confidence) / 2.0))
        spread = z * ELO_PER_LOG_UNIT * _standard_errors(wins, strengths, l2=prior)
        lo, hi = np.minimum(lo, scores - spread), np.maximum(hi, scores + spread)
        # A percentile interval can miss its own point estimate in odd samples; widen to show it.
        lower, upper = np.minimum(lo, scores), np.maximum(hi, scores)

    games = wins + wins.T
    played = np.bincount(left, minlength=k) + np.bincount(right, minlength=k)
    # Voted versions by score (rounded, so float noise cannot split equal scores), then by id;
    # versions without votes last. Equal scores share a rank; unvoted ones share the last place.
    rounded = {ids[i]: round(float(scores[i]), 6) for i in range(k) if played[i]}
    ranks = rank(rounded, higher_is_better=True)
    order = sorted(range(k), key=lambda i: (not played[i], -round(float(scores[i]), 6), ids[i]))
    standings = [
        Standing(
            version_id=ids[i],
            score=float(scores[i]),
            lower=float(lower[i]),
            upper=float(upper[i]),
            votes=int(played[i]),
            wins=float(wins[i].sum()),
            rank=ranks.get(ids[i], len(ranks) + 1),
        )
        for i in order
    ]
    win_matrix = {
        (ids[i], ids[j]): (float(wins[i, j]), round(float(games[i, j])))
        for i in range(k)
        for j in range(k)
        if i != j
    }
    both_bad = sum(1 for vote in votes if vote.outcome == "both_bad")
    return Leaderboard(standings, win_matrix, both_bad=both_bad, total_votes=len(votes))


def next_pair(
    version_ids: list[int],
    votes: list[Vote],
    *,
    already_judged: set[tuple[int, int]] | None = None,
    rng: np.random.Generator | None = None,
    intervals: dict[int, tuple[float, float]] | None = None,
) -> tuple[int, int] | None:
    """Pick the unjudged pair with fewest votes, then widest intervals, sides in random order."""
    rng = rng if rng is not None else np.random.default_rng()
    ids = sorted(set(version_ids))
    judged = {(min(pair), max(pair)) for pair in already_judged or ()}
    counts: dict[tuple[int, int], int] = {}
    for vote in votes:
        key = (min(vote.left, vote.right), max(vote.left, vote.right))
        counts[key] = counts.get(key, 0) + 1
    pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :] if (a, b) not in judged]
    if not pairs:
        return None
    fewest = min(counts.get(pair, 0) for pair in pairs)
    candidates = [pair for pair in pairs if counts.get(pair, 0) == fewest]
    if intervals is not None:
        widths = [_width(intervals, a) + _width(intervals, b) for a, b in candidates]
        widest = max(widths)
        slack = 0.0 if math.isinf(widest) else 1e-9 * max(1.0, abs(widest))
        candidates = [p for p, w in zip(candidates, widths, strict=True) if w >= widest - slack]
    a, b = candidates[int(rng.integers(len(candidates)))]
    return (a, b) if rng.random() < 0.5 else (b, a)


def _width(intervals: dict[int, tuple[float, float]], version_id: int) -> float:
    """Interval width; a version without one is maximally uncertain."""
    if version_id not in intervals:
        return math.inf
    low, high = intervals[version_id]
    return float(high - low)


def _unique_ids(version_ids: list[int]) -> list[int]:
    """Return the ids as a list, refusing duplicates."""
    ids = list(version_ids)
    if len(set(ids)) != len(ids):
        raise ValueError("version_ids contains duplicates")
    return ids


def _encode(ids: list[int], votes: list[Vote]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Votes as index arrays (left, right) and the left side's share of the win."""
    index = {version_id: i for i, version_id in enumerate(ids)}
    unknown = {v for vote in votes for v in (vote.left, vote.right)} - index.keys()
    if unknown:
        raise ValueError(f"votes mention versions not in version_ids: {sorted(unknown)}")
    left = np.array([index[vote.left] for vote in votes], dtype=np.intp)
    right = np.array([index[vote.right] for vote in votes], dtype=np.intp)
    share = np.array([_LEFT_SHARE[vote.outcome] for vote in votes], dtype=float)
    return left, right, share


def _win_counts(k: int, left: np.ndarray, right: np.ndarray, share: np.ndarray) -> np.ndarray:
    """k×k matrix: wins[i, j] = i's wins over j, ties counting half."""
    flat = np.bincount(left * k + right, weights=share, minlength=k * k)
    flat += np.bincount(right * k + left, weights=1.0 - share, minlength=k * k)
    return flat.reshape(k, k)


def _fit(wins: np.ndarray, *, l2: float = 1e-6, x0: np.ndarray | None = None) -> np.ndarray:
    """Penalised ML log-strengths from a win matrix, centred to mean 0 per connected group."""
    k = wins.shape[0]
    if k == 0 or not wins.any():
        return np.zeros(k)

    def objective(s: np.ndarray) -> tuple[float, np.ndarray]:
        diff = s[:, None] - s[None, :]
        value = float(np.sum(wins * np.logaddexp(0.0, -diff))) + 0.5 * l2 * float(s @ s)
        pull = wins * expit(-diff)  # d/d(s_i) of wins[i, j]·log σ(s_i - s_j)
        return value, pull.sum(axis=0) - pull.sum(axis=1) + l2 * s

    start = np.zeros(k) if x0 is None else np.asarray(x0, dtype=float)
    options = {"ftol": 1e-12, "gtol": 1e-8}
    strengths = minimize(objective, start, jac=True, method="L-BFGS-B", options=options).x
    for members in _groups(wins + wins.T > 0):
        strengths[members] -= strengths[members].mean()
    return strengths


def _standard_errors(wins: np.ndarray, strengths: np.ndarray, *, l2: float) -> np.ndarray:
    """Standard errors of the centred log-strengths from the penalised fit's curvature."""
    games = wins + wins.T
    p = expit(strengths[:, None] - strengths[None, :])
    hessian = -games * p * (1.0 - p)
    np.fill_diagonal(hessian, 0.0)
    np.fill_diagonal(hessian, -hessian.sum(axis=1) + max(l2, 1e-9))
    covariance = np.linalg.inv(hessian)
    variance = np.zeros(len(strengths))
    for members in _groups(games > 0):
        # Scores are centred per group: remove the common shift the prior alone pins down.
        block = covariance[np.ix_(members, members)]
        centred = block - block.mean(0) - block.mean(1)[:, None] + block.mean()
        variance[members] = np.clip(np.diag(centred), 0.0, None)
    return np.sqrt(variance)


def _groups(linked: np.ndarray) -> list[np.ndarray]:
    """Connected groups (index arrays) of a symmetric boolean adjacency matrix."""
    unseen = np.ones(len(linked), dtype=bool)
    groups = []
    for start in range(len(linked)):
        if not unseen[start]:
            continue
        members, frontier = [start], [start]
        unseen[start] = False
        while frontier:
            reached = np.flatnonzero(linked[frontier].any(axis=0) & unseen)
            unseen[reached] = False
            members.extend(reached.tolist())
            frontier = reached.tolist()
        groups.append(np.array(members))
    return groups
