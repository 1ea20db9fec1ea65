"""Bradley–Terry leaderboard and pair choice: checked against simulated votes with known truth."""

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from ganstudio.services.ranking import (
    ELO_PER_LOG_UNIT,
    PRIOR_L2,
    Vote,
    fit_bradley_terry,
    leaderboard,
    next_pair,
    to_score,
)

# Ids deliberately out of strength order, so id order cannot pass for strength order.
IDS = [7, 3, 9, 1, 5]
TRUE = dict(zip(IDS, np.linspace(0.0, 2.0, len(IDS)).tolist(), strict=True))


def simulate(truth: dict[int, float], n: int, rng: np.random.Generator) -> list[Vote]:
    """n votes on random pairs, random sides, winner drawn from the Bradley–Terry model."""
    ids = list(truth)
    strength = np.array([truth[i] for i in ids])
    pairs = np.array([rng.choice(len(ids), size=2, replace=False) for _ in range(n)])
    p_left = 1.0 / (1.0 + np.exp(strength[pairs[:, 1]] - strength[pairs[:, 0]]))
    left_wins = rng.random(n) < p_left
    return [
        Vote(ids[a], ids[b], "left" if won else "right")
        for (a, b), won in zip(pairs, left_wins, strict=True)
    ]


def centred(values: dict[int, float]) -> dict[int, float]:
    mean = sum(values.values()) / len(values)
    return {k: v - mean for k, v in values.items()}


def wald_standard_errors(votes: list[Vote], fitted: dict[int, float]) -> dict[int, float]:
    """Elo-scale standard errors from the Fisher information (pseudo-inverse: mean-zero scores)."""
    ids = list(fitted)
    index = {v: i for i, v in enumerate(ids)}
    games = np.zeros((len(ids), len(ids)))
    for vote in votes:
        games[index[vote.left], index[vote.right]] += 1
        games[index[vote.right], index[vote.left]] += 1
    s = np.array([fitted[i] for i in ids])
    p = 1.0 / (1.0 + np.exp(s[None, :] - s[:, None]))
    hessian = -games * p * (1.0 - p)
    np.fill_diagonal(hessian, -hessian.sum(axis=1))
    se = np.sqrt(np.diag(np.linalg.pinv(hessian))) * ELO_PER_LOG_UNIT
    return dict(zip(ids, se.tolist(), strict=True))


# --- fitting -------------------------------------------------------------------------------


def test_recovers_order_of_known_strengths():
    votes = simulate(TRUE, 3000, np.random.default_rng(42))
    fitted = fit_bradley_terry(IDS, votes)

    assert sorted(IDS, key=fitted.__getitem__) == IDS  # weakest first, exactly
    rho = spearmanr([TRUE[i] for i in IDS], [fitted[i] for i in IDS]).statistic
    assert rho == pytest.approx(1.0)
    board = leaderboard(IDS, votes, bootstrap=20)
    assert [s.version_id for s in board.standings] == IDS[::-1]
    assert [s.rank for s in board.standings] == [1, 2, 3, 4, 5]


def test_fitted_differences_close_to_truth():
    votes = simulate(TRUE, 3000, np.random.default_rng(7))
    fitted = fit_bradley_terry(IDS, votes)
    truth = centred(TRUE)

    assert sum(fitted.values()) == pytest.approx(0.0, abs=1e-9)  # mean-zero identifiability
    for i in IDS:
        assert fitted[i] == pytest.approx(truth[i], abs=0.2)  # ~3 standard errors at 3000 votes
    # The leaderboard fits with its weak prior (PRIOR_L2): at 3000 votes it moves scores by
    # ~0.2 points, so compare with the fit under the same prior.
    regularised = fit_bradley_terry(IDS, votes, l2=PRIOR_L2)
    board = leaderboard(IDS, votes, bootstrap=0)
    for s in board.standings:
        assert s.score == pytest.approx(1000 + 400 * math.log10(math.e) * regularised[s.version_id])
        assert abs(regularised[s.version_id] - fitted[s.version_id]) * ELO_PER_LOG_UNIT < 1.0
    assert np.mean([s.score for s in board.standings]) == pytest.approx(1000.0)


def test_bootstrap_intervals_cover_the_truth_about_95_percent():
    truth = {i: to_score(v) for i, v in centred(TRUE).items()}
    inside = total = 0
    width_ratios = []
    for dataset in range(40):
        votes = simulate(TRUE, 400, np.random.default_rng(1000 + dataset))
        board = leaderboard(IDS, votes, bootstrap=100, seed=dataset)
        se = wald_standard_errors(votes, fit_bradley_terry(IDS, votes))
        for s in board.standings:
            total += 1
            inside += s.lower <= truth[s.version_id] <= s.upper
            width_ratios.append((s.upper - s.lower) / (2 * 1.96 * se[s.version_id]))
    coverage = inside / total

    assert 0.80 <= coverage <= 1.0, coverage
    # Coverage alone would pass with huge intervals. Bootstrap widths should match the asymptotic
    # ±1.96 SE (measured ratio 0.98; a 90% or 99% interval gives 0.83 or 1.22).
    assert 0.9 < float(np.mean(width_ratios)) < 1.1


def test_bootstrap_is_reproducible_with_a_seed():
    votes = simulate(TRUE, 300, np.random.default_rng(3))
    assert leaderboard(IDS, votes, bootstrap=30, seed=5) == leaderboard(
        IDS, votes, bootstrap=30, seed=5
    )
    assert leaderboard(IDS, votes, bootstrap=30, seed=5) != leaderboard(
        IDS, votes, bootstrap=30, seed=6
    )


def test_only_ties_give_equal_scores():
    votes = [Vote(1, 2, "tie"), Vote(2, 1, "tie"), Vote(1, 2, "tie")]
    fitted = fit_bradley_terry([1, 2], votes)
    assert fitted[1] == pytest.approx(fitted[2], abs=1e-9)

    board = leaderboard([2, 1], votes, bootstrap=50)
    # Equal scores share a rank (listed by id), as the agreement's ranks do.
    assert [(s.version_id, s.rank) for s in board.standings] == [(1, 1), (2, 1)]
    assert all(s.score == pytest.approx(1000.0) for s in board.standings)
    assert all(s.wins == 1.5 and s.votes == 3 for s in board.standings)


def test_ties_count_half_a_win():
    # 2 wins + 2 ties out of 4 for version 1 is the same evidence as 3 wins out of 4.
    with_ties = [Vote(1, 2, "left")] * 2 + [Vote(1, 2, "tie")] * 2
    as_wins = [Vote(1, 2, "left")] * 3 + [Vote(1, 2, "right")]
    a, b = fit_bradley_terry([1, 2], with_ties), fit_bradley_terry([1, 2], as_wins)
    assert a[1] - a[2] == pytest.approx(b[1] - b[2], abs=1e-5)
    assert a[1] - a[2] == pytest.approx(math.log(3.0), abs=1e-5)  # 3:1 odds


def test_both_bad_counts_as_a_tie_and_is_reported():
    base = simulate({1: 0.0, 2: 1.0, 3: 0.5}, 60, np.random.default_rng(0))
    with_bad = [*base, Vote(1, 2, "both_bad"), Vote(3, 2, "both_bad")]
    with_tie = [*base, Vote(1, 2, "tie"), Vote(3, 2, "tie")]

    bad = leaderboard([1, 2, 3], with_bad, bootstrap=0)
    tie = leaderboard([1, 2, 3], with_tie, bootstrap=0)
    assert bad.both_bad == 2 and tie.both_bad == 0
    assert bad.total_votes == tie.total_votes == 62
    assert bad.standings == tie.standings
    assert bad.win_matrix == tie.win_matrix


def test_always_winning_version_gets_finite_top_score():
    rng = np.random.default_rng(1)
    votes = [Vote(4, 5, "left"), Vote(6, 4, "right")] * 10 + simulate({5: 0.0, 6: 0.5}, 40, rng)
    fitted = fit_bradley_terry([4, 5, 6], votes)
    assert all(math.isfinite(v) for v in fitted.values())
    assert fitted[4] > max(fitted[5], fitted[6])
    assert fitted[4] < 30.0  # the L2 term keeps it finite; a stronger one pulls it in further
    assert fit_bradley_terry([4, 5, 6], votes, l2=1e-2)[4] < fitted[4] - 1.0

    board = leaderboard([4, 5, 6], votes, bootstrap=50)
    top = board.standings[0]
    assert top.version_id == 4 and top.rank == 1 and top.wins == 20.0
    for s in board.standings:
        assert all(math.isfinite(x) for x in (s.score, s.lower, s.upper))
        assert s.lower <= s.score <= s.upper


# --- degenerate inputs ---------------------------------------------------------------------


def test_no_votes_one_version_and_no_versions():
    assert fit_bradley_terry([], []) == {}
    assert fit_bradley_terry([3], []) == {3: 0.0}
    assert fit_bradley_terry([3, 1, 2], []) == {3: 0.0, 1: 0.0, 2: 0.0}

    board = leaderboard([3, 1, 2], [])
    assert [(s.version_id, s.rank, s.score, s.lower, s.upper) for s in board.standings] == [
        (1, 1, 1000.0, 1000.0, 1000.0),  # no votes: none is ranked above another
        (2, 1, 1000.0, 1000.0, 1000.0),
        (3, 1, 1000.0, 1000.0, 1000.0),
    ]
    assert board.total_votes == 0 and board.both_bad == 0
    assert leaderboard([], []).standings == []


def test_unvoted_version_scores_1000_beside_voted_ones():
    votes = [Vote(1, 2, "left")] * 3 + [Vote(1, 2, "right")]
    fitted = fit_bradley_terry([1, 2, 3], votes)
    assert fitted[3] == 0.0
    assert fitted[1] == pytest.approx(-fitted[2])
    assert fitted[1] - fitted[2] == pytest.approx(math.log(3.0), abs=1e-5)


def test_versions_without_votes_come_last_and_equal_scores_share_a_rank():
    # 1 and 2 tie each other and both beat 3; 4 has no votes (it scores 1000, between them).
    votes = [Vote(1, 2, "tie"), Vote(1, 3, "left"), Vote(2, 3, "left")] * 2
    board = leaderboard([4, 3, 2, 1], votes, bootstrap=0)
    assert [(s.version_id, s.rank, s.votes) for s in board.standings] == [
        (1, 1, 4),
        (2, 1, 4),
        (3, 3, 4),
        (4, 4, 0),  # after every voted version, whatever its score
    ]
    assert board.standings[0].score == pytest.approx(board.standings[1].score)
    assert board.standings[2].score < 1000.0 < board.standings[0].score


def test_disconnected_groups_are_each_centred():
    votes = [Vote(1, 2, "left")] * 3 + [Vote(2, 1, "left")] + [Vote(3, 4, "right")] * 2
    votes += [Vote(3, 4, "left")]
    fitted = fit_bradley_terry([1, 2, 3, 4], votes)
    assert all(math.isfinite(v) for v in fitted.values())
    assert fitted[1] + fitted[2] == pytest.approx(0.0, abs=1e-9)
    assert fitted[3] + fitted[4] == pytest.approx(0.0, abs=1e-9)
    assert fitted[1] - fitted[2] == pytest.approx(math.log(3.0), abs=1e-5)
    assert fitted[4] - fitted[3] == pytest.approx(math.log(2.0), abs=1e-5)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="outcome"):
        Vote(1, 2, "draw")
    with pytest.raises(ValueError, match="different"):
        Vote(1, 1, "left")
    with pytest.raises(ValueError, match="not in version_ids"):
        fit_bradley_terry([1, 2], [Vote(1, 3, "left")])
    with pytest.raises(ValueError, match="duplicates"):
        leaderboard([1, 1], [])
    with pytest.raises(ValueError, match="confidence"):
        leaderboard([1, 2], [], confidence=1.0)


# --- counts and the win matrix -------------------------------------------------------------


def test_win_matrix_and_counts_on_a_small_example():
    votes = [
        Vote(1, 2, "left"),  # 1 beats 2
        Vote(2, 1, "left"),  # 2 beats 1
        Vote(2, 1, "right"),  # 1 beats 2
        Vote(1, 2, "tie"),  # half each
        Vote(3, 1, "both_bad"),  # half each
        Vote(2, 3, "right"),  # 3 beats 2
    ]
    board = leaderboard([1, 2, 3], votes, bootstrap=10)
    assert board.win_matrix == {
        (1, 2): (2.5, 4),
        (2, 1): (1.5, 4),
        (1, 3): (0.5, 1),
        (3, 1): (0.5, 1),
        (2, 3): (0.0, 1),
        (3, 2): (1.0, 1),
    }
    by_id = {s.version_id: s for s in board.standings}
    assert {i: (s.votes, s.wins) for i, s in by_id.items()} == {
        1: (5, 3.0),
        2: (5, 1.5),
        3: (2, 1.5),
    }
    assert board.both_bad == 1 and board.total_votes == 6
    # 3 scored 1.5 of 2 (beat 2, tied 1), 1 scored 3 of 5, 2 scored 1.5 of 5.
    assert [s.version_id for s in board.standings] == [3, 1, 2]
    assert pytest.approx(400 / math.log(10)) == ELO_PER_LOG_UNIT


# --- choosing the next pair ----------------------------------------------------------------


def test_next_pair_prefers_fewest_votes():
    votes = [Vote(1, 2, "left")] * 3 + [Vote(3, 1, "tie")] + [Vote(2, 3, "right")] * 2
    for seed in range(20):
        pair = next_pair([1, 2, 3], votes, rng=np.random.default_rng(seed))
        assert pair is not None and set(pair) == {1, 3}


def test_next_pair_breaks_vote_ties_by_widest_intervals():
    intervals = {1: (990.0, 1010.0), 2: (900.0, 1100.0), 3: (950.0, 1050.0), 4: (995.0, 1005.0)}
    for seed in range(20):
        rng = np.random.default_rng(seed)
        pair = next_pair([1, 2, 3, 4], [], rng=rng, intervals=intervals)
        assert pair is not None and set(pair) == {2, 3}  # 200 + 100
        # Fewest votes still comes first: once 2–3 has a vote, the widest unvoted pair is 1–2.
        pair = next_pair([1, 2, 3, 4], [Vote(3, 2, "left")], rng=rng, intervals=intervals)
        assert pair is not None and set(pair) == {1, 2}  # 20 + 200


def test_next_pair_treats_a_version_without_interval_as_widest():
    intervals = {1: (900.0, 1100.0), 2: (900.0, 1100.0)}
    pair = next_pair([1, 2, 3], [], rng=np.random.default_rng(0), intervals=intervals)
    assert pair is not None and 3 in pair


def test_next_pair_breaks_remaining_ties_at_random():
    seen = {
        frozenset(p)
        for seed in range(200)
        if (p := next_pair([1, 2, 3, 4], [], rng=np.random.default_rng(seed))) is not None
    }
    assert len(seen) == 6


def test_next_pair_never_returns_an_already_judged_pair():
    votes = [Vote(2, 3, "left")] * 5  # the only pair left is also the most voted
    judged = {(1, 2), (1, 3)}
    for seed in range(30):
        pair = next_pair([1, 2, 3], votes, already_judged=judged, rng=np.random.default_rng(seed))
        assert pair is not None and set(pair) == {2, 3}


def test_next_pair_returns_none_when_nothing_is_left():
    judged = {(1, 2), (1, 3), (2, 3)}
    assert next_pair([3, 2, 1], [], already_judged=judged) is None
    assert next_pair([], []) is None
    assert next_pair([5], [Vote(5, 6, "left")]) is None
    assert next_pair([5, 5], []) is None
    assert next_pair([1, 2], []) in {(1, 2), (2, 1)}  # default rng works


def test_next_pair_randomises_sides():
    orders = [next_pair([1, 2], [], rng=np.random.default_rng(seed)) for seed in range(200)]
    assert set(orders) == {(1, 2), (2, 1)}
    assert 60 < orders.count((1, 2)) < 140
