"""Leaderboard intervals stay finite and sensible with few, one-sided votes (the prior's job)."""

import numpy as np

from ganstudio.services.ranking import Vote, leaderboard


def few_lopsided_votes() -> list[Vote]:
    """12 votes among 4 versions where the lower id always wins: 1 never loses, 4 never wins."""
    rng = np.random.default_rng(3)
    votes = []
    for _ in range(12):
        a, b = (int(x) for x in rng.choice([1, 2, 3, 4], 2, replace=False))
        votes.append(Vote(a, b, "left" if a < b else "right"))
    return votes


def test_a_version_that_never_loses_gets_a_finite_balanced_interval():
    board = leaderboard([1, 2, 3, 4], few_lopsided_votes(), bootstrap=200, seed=0)
    top = board.standings[0]
    assert top.version_id == 1
    # Before the prior: 3236 with an interval of -69585–76056 (or 1083 shown as 930–2431).
    assert top.score < 1600
    above, below = top.upper - top.score, top.score - top.lower
    assert 0.5 < above / below < 2.0, (top.lower, top.score, top.upper)
    for s in board.standings:
        assert s.upper - s.lower < 1000  # hundreds of points: few votes, honestly uncertain


def test_few_one_sided_votes_do_not_give_a_falsely_narrow_interval():
    # 7 wins of 7: every bootstrap resample is 7 of 7 too; the interval must not collapse.
    votes = [Vote(1, 2, "left")] * 7
    board = leaderboard([1, 2], votes, bootstrap=100, seed=0)
    for s in board.standings:
        assert s.upper - s.lower > 200
        assert s.lower <= s.score <= s.upper
