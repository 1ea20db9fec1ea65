"""Agreement of metrics with people: direction rule, ranks with ties, Kendall's tau."""

import math

import pytest

from ganstudio.services import agreement as ag


def ranks(*places: int) -> dict[int, float]:
    return {version_id: float(p) for version_id, p in enumerate(places, start=1)}


def test_tau_of_identical_rankings_is_one_and_of_reversed_is_minus_one() -> None:
    assert ag.kendall_tau(ranks(1, 2, 3, 4), ranks(1, 2, 3, 4)) == pytest.approx(1.0)
    assert ag.kendall_tau(ranks(1, 2, 3, 4), ranks(4, 3, 2, 1)) == pytest.approx(-1.0)


def test_tau_with_one_swap_is_hand_computed() -> None:
    # 6 pairs; swapping the first two makes 1 discordant, 5 concordant: (5 - 1) / 6.
    assert ag.kendall_tau(ranks(1, 2, 3, 4), ranks(2, 1, 3, 4)) == pytest.approx(2 / 3)


def test_tau_b_with_a_tie_is_hand_computed() -> None:
    # y ties versions 2 and 3: 5 concordant, 0 discordant, 1 pair tied in y only.
    # tau-b = (5 - 0) / sqrt((6 - 0) * (6 - 1)) = 5 / sqrt(30).
    assert ag.kendall_tau(ranks(1, 2, 3, 4), ranks(1, 2, 2, 3)) == pytest.approx(5 / math.sqrt(30))


def test_tau_is_undefined_below_two_versions_or_when_one_side_is_all_ties() -> None:
    assert ag.kendall_tau({1: 1.0}, {1: 1.0}) is None
    assert ag.kendall_tau({1: 1.0, 2: 2.0}, {2: 1.0, 3: 2.0}) is None  # one shared id
    assert ag.kendall_tau(ranks(1, 2, 3), ranks(1, 1, 1)) is None


def test_ranks_share_the_best_place_and_follow_the_direction() -> None:
    values = {10: 31.2, 11: 28.0, 12: 31.2, 13: 40.0}
    assert ag.rank(values, higher_is_better=False) == {11: 1, 10: 2, 12: 2, 13: 4}
    assert ag.rank(values, higher_is_better=True) == {13: 1, 10: 2, 12: 2, 11: 4}


@pytest.mark.parametrize(
    ("name", "higher", "known"),
    [
        ("fid", False, True),
        ("FID_val", False, True),
        ("loss_g", False, True),
        ("lossG", False, True),
        ("val/lpips", False, True),
        ("psnr", True, True),
        ("ssim", True, True),
        ("step_fid", False, True),
        ("psnr_loss", False, True),  # a loss is a loss, whatever it is a loss of
        ("sharpness", False, False),  # unknown: assumed lower is better
    ],
)
def test_direction_rule(name: str, higher: bool, known: bool) -> None:
    way = ag.direction(name)
    assert (way.higher_is_better, way.known) == (higher, known)
    assert ("assumed" in way.words) is (not known)


def test_agreement_respects_the_metric_direction() -> None:
    people = {1: 1, 2: 2, 3: 3}  # version 1 is people's favourite
    games = {(1, 2): 4, (2, 3): 3, (1, 3): 2}
    fid = ag.agreement(
        metric="fid", source="training", values={1: 20.0, 2: 30.0, 3: 40.0},
        people_ranks=people, games=games,
    )  # fmt: skip
    assert fid.ranks == {1: 1, 2: 2, 3: 3} and fid.tau == pytest.approx(1.0)
    psnr = ag.agreement(
        metric="psnr", source="reference", values={1: 20.0, 2: 30.0, 3: 40.0},
        people_ranks=people, games=games,
    )  # fmt: skip
    assert psnr.ranks == {3: 1, 2: 2, 1: 3} and psnr.tau == pytest.approx(-1.0)
    assert (fid.versions, fid.votes) == (3, 9)


def test_agreement_without_two_voted_versions_says_why() -> None:
    result = ag.agreement(
        metric="fid", source="training", values={1: 20.0, 4: 10.0},
        people_ranks={1: 1, 2: 2}, games={(1, 2): 5},
    )  # fmt: skip
    assert result.tau is None and result.versions == 1 and result.votes == 0
    assert "only one version has both votes and this metric" in result.reason
    assert result.ranks == {4: 1, 1: 2}  # ranked even without votes


@pytest.mark.parametrize("name", ["step", "Step", "global_step", "epoch", "iteration", "kimg"])
def test_training_progress_is_not_a_quality_metric(name: str) -> None:
    from ganstudio.db.tables import Version
    from ganstudio.services import metric_sources, training_metrics

    assert training_metrics.is_progress(name)
    versions = [Version(id=1, training_metrics={name: 10, "fid": 30.0})]
    versions.append(Version(id=2, training_metrics={name: 20, "fid": 20.0}))
    assert metric_sources.training_values(None, versions) == {"fid": {1: 30.0, 2: 20.0}}  # type: ignore[arg-type]
    rows = training_metrics.table_rows({name: 10, "fid": 30.0})
    assert (name, 10, "training progress") in rows
    assert not training_metrics.is_progress("fid") and not training_metrics.is_progress("steps_fid")
