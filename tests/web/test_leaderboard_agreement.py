"""The leaderboard's agreement with metrics: ranks per metric and Kendall's tau with the votes."""

import itertools
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ganstudio.db.tables import Version
from ganstudio.roles import Role
from ganstudio.services import reference_metrics
from tests.factories import bearer
from tests.web.agreement_helpers import seed_tree, seed_votes

PEOPLE = ["e2", "e1", "v3", "v2", "v1"]  # people's order, best first: every vote agrees with it


def seeded(app: FastAPI) -> tuple[str, dict[str, int]]:
    slug, ids = seed_tree(app)
    votes = []
    for better, worse in itertools.combinations(PEOPLE, 2):
        votes += [(better, worse, "left"), (worse, better, "right")]  # 2 votes per pair
    seed_votes(app, slug, ids, votes)
    return slug, ids


def reference_psnr(session: Session, version_ids: list[int]) -> dict[int, dict[str, float]]:
    """Stand-in reference means (services/reference_metrics.version_means, which the
    "reference" source reads): PSNR that orders the versions the wrong way round."""
    psnr = {"v1": 30.0, "v2": 29.0, "v3": 28.0, "e1": 27.0, "e2": 26.0}
    versions = [session.get(Version, version_id) for version_id in version_ids]
    return {v.id: {"psnr": psnr[v.label], "count": 4.0} for v in versions if v and v.label in psnr}


def test_leaderboard_json_has_each_metrics_ranks_and_tau(
    client: TestClient, app: FastAPI, tokens: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug, ids = seeded(app)
    monkeypatch.setattr(reference_metrics, "version_means", reference_psnr)
    board = client.get(
        f"/api/v1/filters/{slug}/leaderboard", headers=bearer(tokens[Role.VIEWER])
    ).json()
    assert [s["label"] for s in board["standings"] if s["votes"]] == PEOPLE
    found = {(a["source"], a["metric"]): a for a in board["agreement"]}
    assert list(found) == [  # those with a tau first; the step is progress, not a metric
        ("training", "fid"),
        ("reference", "psnr"),
        ("training", "loss_g"),
    ]
    fid = found["training", "fid"]
    # FID (lower is better) orders the five voted versions exactly as people do.
    assert fid["tau"] == pytest.approx(1.0) and fid["higher_is_better"] is False
    assert (fid["versions"], fid["votes"]) == (5, 20)
    assert fid["ranks"] == {str(ids[label]): n for n, label in enumerate(PEOPLE, start=1)}
    # PSNR is higher-is-better: these values rank the versions exactly backwards.
    psnr = found["reference", "psnr"]
    assert psnr["tau"] == pytest.approx(-1.0) and psnr["ranks"][str(ids["v1"])] == 1
    loss = found["training", "loss_g"]
    assert loss["tau"] is None and loss["versions"] == 1 and loss["votes"] == 0
    assert "only one version has both votes and this metric" in loss["reason"]
    assert "lower is better" in board["direction_rule"].lower()


def test_leaderboard_page_shows_the_agreement_table(
    client: TestClient, app: FastAPI, tokens: dict
) -> None:
    slug, _ids = seeded(app)
    page = client.get(f"/filters/{slug}/leaderboard", headers=bearer(tokens[Role.VIEWER])).text
    table = page.split('data-testid="agreement-table"')[1].split("</table>")[0]
    heads = re.findall(
        r'<th class="version-head" scope="col"[^>]*>#(\d+)<br><a href="[^"]+">([^<]+)<', table
    )
    assert [label for _rank, label in heads if label != "bare"] == PEOPLE  # bare: no votes
    rows = dict(
        re.findall(r'<tr data-metric="([^"]+)".*?data-testid="tau">(.*?)</td>', table, re.S)
    )
    assert "+1.00" in rows["fid"] and "step" not in rows  # the step is progress, not quality
    assert "—" in rows["loss_g"] and "only one version has both" in rows["loss_g"]
    assert 'data-testid="direction-rule"' in page and "assumed lower-is-better" in page
    # Number columns line up with their headers: both sides right-aligned (class "num").
    head = table.split("</thead>")[0]
    assert '<th class="num" scope="col">Versions</th>' in head
    assert '<th class="num" scope="col">Votes</th>' in head
    assert re.search(r'<td class="num">\d+</td><td class="num">\d+</td>', table)


def test_leaderboard_without_metrics_or_votes_says_so(
    client: TestClient, app: FastAPI, tokens: dict
) -> None:
    slug, _ids = seed_tree(app, rows=[("a", None, "main", {}), ("b", "a", "main", {})])
    page = client.get(f"/filters/{slug}/leaderboard", headers=bearer(tokens[Role.VIEWER])).text
    assert 'data-testid="no-agreement"' in page
    board = client.get(
        f"/api/v1/filters/{slug}/leaderboard", headers=bearer(tokens[Role.VIEWER])
    ).json()
    assert board["agreement"] == []
    unvoted, ids = seed_tree(app, name="Unvoted")
    fid = next(
        a
        for a in client.get(
            f"/api/v1/filters/{unvoted}/leaderboard", headers=bearer(tokens[Role.VIEWER])
        ).json()["agreement"]
        if a["metric"] == "fid"
    )
    assert fid["tau"] is None and "no version has both votes" in fid["reason"]
    assert fid["ranks"][str(ids["e2"])] == 1  # ranked by the metric all the same


HEAD = r'<th class="version-head" scope="col" data-testid="people-rank-head"[^>]*>(.*?)</th>'


def agreement_heads(page: str) -> list[tuple[str, str]]:
    """(people's rank as shown, version label) per column of the agreement table."""
    table = page.split('data-testid="agreement-table"')[1].split("</thead>")[0]
    heads = []
    for cell in re.findall(HEAD, table, re.S):
        shown = re.sub(r"<[^>]+>", " ", cell.split("<br>")[0]).strip()
        label = re.search(r'<a href="[^"]+">([^<]+)</a>', cell)
        assert label is not None
        heads.append((shown, label.group(1)))
    return heads


def main_ranks(page: str) -> dict[str, str]:
    """Version label → the '#' the main leaderboard table shows for it."""
    table = page.split('data-testid="leaderboard"')[1].split("</table>")[0]
    rows = re.findall(
        r'<tr data-label="([^"]+)".*?data-testid="people-rank">(.*?)</td>', table, re.S
    )
    return {label: re.sub(r"<[^>]+>", "", shown).strip() for label, shown in rows}


def test_people_ranks_share_equal_scores_and_skip_versions_without_votes(
    client: TestClient, app: FastAPI, tokens: dict
) -> None:
    rows = [
        ("a", None, "main", {"fid": 30.0}),
        ("b", "a", "main", {"fid": 20.0}),
        ("c", "b", "main", {"fid": 10.0}),
        ("d", "c", "main", {"fid": 5.0}),  # never voted on
    ]
    slug, ids = seed_tree(app, rows=rows, name="Ties")
    page = client.get(f"/filters/{slug}/leaderboard", headers=bearer(tokens[Role.VIEWER])).text
    heads = agreement_heads(page)
    assert [shown for shown, _label in heads] == ["—"] * 4  # no votes: nobody has a rank yet
    assert page.count("no votes yet</span>") == 4

    votes = [("a", "b", "tie"), ("a", "c", "left"), ("b", "c", "left")] * 2
    seed_votes(app, slug, ids, votes)
    page = client.get(f"/filters/{slug}/leaderboard", headers=bearer(tokens[Role.VIEWER])).text
    # a and b tie (equal Bradley–Terry scores): both #1; c #3; d has no votes: "—", last.
    assert agreement_heads(page) == [("#1", "a"), ("#1", "b"), ("#3", "c"), ("—", "d")]
    assert main_ranks(page) == {"a": "1", "b": "1", "c": "3", "d": "—"}  # the same numbering
    board = client.get(
        f"/api/v1/filters/{slug}/leaderboard", headers=bearer(tokens[Role.VIEWER])
    ).json()
    assert [(s["label"], s["rank"]) for s in board["standings"]] == [
        ("a", 1),
        ("b", 1),
        ("c", 3),
        ("d", 4),
    ]
    fid = next(a for a in board["agreement"] if a["metric"] == "fid")
    # Metric ranks c (10) over b (20) over a (30): tau-b against people's 1, 1, 3 is negative.
    assert fid["versions"] == 3 and fid["tau"] < 0
