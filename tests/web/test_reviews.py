"""Comments, picks, the blind arena and leaderboards through the API, and their bad inputs."""

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ganstudio.db.tables import ArenaPair, Comment, Pick
from ganstudio.roles import Role
from tests import checkpoints as ck
from tests import imagegen
from tests.factories import bearer, make_filter, make_sample, make_token, make_user, make_version


@pytest.fixture
def rendered(client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path) -> dict:
    """A filter with 3 versions rendered on 3 samples through a comparison."""
    slug = make_filter(app)
    ids = [
        make_version(
            app,
            filter_slug=slug,
            label=f"v{n}",
            checkpoint=ck.safetensors_file(tmp_path / f"v{n}.st", seed=n),
        )
        for n in (1, 2, 3)
    ]
    samples = [
        make_sample(app, imagegen.distinct_png(n), f"s{n}.png", tags=["face"] if n else [])
        for n in range(3)
    ]
    created = client.post(
        "/api/v1/comparisons",
        headers=bearer(tokens[Role.VIEWER]),
        json={"filter": slug, "versions": ["v1", "v2"], "samples": samples},
    ).json()
    client.post(
        "/api/v1/comparisons",
        headers=bearer(tokens[Role.VIEWER]),
        json={"filter": slug, "versions": ["v2", "v3"], "samples": samples},
    )
    app.state.worker.run_until_idle()
    return {"slug": slug, "versions": ids, "samples": samples, "comparison": created["id"]}


def count(app: FastAPI, table: type) -> int:
    with app.state.sessions() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_comments_on_comparison_row_and_cell_with_ownership(
    client: TestClient, app: FastAPI, tokens: dict, rendered: dict
) -> None:
    viewer, qa = bearer(tokens[Role.VIEWER]), bearer(tokens[Role.QA])
    url = f"/api/v1/comparisons/{rendered['comparison']}/comments"
    sample, version = rendered["samples"][0], rendered["versions"][0]
    for place in ({}, {"sample_id": sample}, {"sample_id": sample, "version_id": version}):
        response = client.post(url, json={"body": "eyes look *odd*", **place}, headers=viewer)
        assert response.status_code == 201, response.text
    listed = client.get(url, headers=viewer).json()
    assert [(c["sample_id"], c["version_id"]) for c in listed] == [
        (None, None),
        (sample, None),
        (sample, version),
    ]
    cid = listed[2]["id"]
    assert (
        client.patch(f"/api/v1/comments/{cid}", json={"body": "fixed"}, headers=qa).status_code
        == 403
    )
    assert client.delete(f"/api/v1/comments/{cid}", headers=qa).status_code == 403
    assert (
        client.patch(f"/api/v1/comments/{cid}", json={"body": "fixed"}, headers=viewer).json()[
            "body"
        ]
        == "fixed"
    )
    assert client.delete(f"/api/v1/comments/{cid}", headers=viewer).status_code == 204
    assert count(app, Comment) == 2


def test_bad_comments_change_nothing(
    client: TestClient, app: FastAPI, tokens: dict, rendered: dict, tmp_path: Path
) -> None:
    viewer = bearer(tokens[Role.VIEWER])
    url = f"/api/v1/comparisons/{rendered['comparison']}/comments"
    other = make_sample(app, imagegen.distinct_png(99), "other.png")
    v3 = rendered["versions"][2]  # not a column of this comparison
    cases = [
        ({"body": "   "}, 422, "empty"),
        ({"body": "x" * 5001}, 422, "under 5000"),
        ({"body": "hi", "sample_id": other}, 422, "not a row"),
        (
            {"body": "hi", "sample_id": rendered["samples"][0], "version_id": v3},
            422,
            "not a column",
        ),
        ({"body": "hi", "version_id": rendered["versions"][0]}, 422, "needs its sample"),
    ]
    for body, status, words in cases:
        response = client.post(url, json=body, headers=viewer)
        assert response.status_code == status, response.text
        assert words in response.json()["detail"]
    assert (
        client.post(
            "/api/v1/comparisons/nope/comments", json={"body": "x"}, headers=viewer
        ).status_code
        == 404
    )
    assert count(app, Comment) == 0


def test_picks_count_each_reviewer_once_per_row_and_can_change(
    client: TestClient, app: FastAPI, tokens: dict, rendered: dict
) -> None:
    url = f"/api/v1/comparisons/{rendered['comparison']}/picks"
    v1, v2, v3 = rendered["versions"]
    s0, s1, _ = rendered["samples"]
    viewer, qa = bearer(tokens[Role.VIEWER]), bearer(tokens[Role.QA])
    client.post(url, json={"sample_id": s0, "version_ids": [v1]}, headers=viewer)
    client.post(url, json={"sample_id": s0, "version_ids": [v2]}, headers=viewer)  # changed
    client.post(url, json={"sample_id": s0, "version_ids": [v2]}, headers=qa)
    client.post(url, json={"sample_id": s1, "version_ids": [v1, v2]}, headers=qa)
    summary = {p["label"]: (p["preferred"], p["of"]) for p in client.get(url, headers=qa).json()}
    assert summary == {"v1": (1, 2), "v2": (2, 2)}
    bad = client.post(url, json={"sample_id": s0, "version_ids": [v3]}, headers=qa)
    assert bad.status_code == 422 and "not a column" in bad.json()["detail"]
    assert count(app, Pick) == 4


def test_arena_serves_blind_pairs_and_refuses_bad_votes(
    client: TestClient, app: FastAPI, tokens: dict, rendered: dict
) -> None:
    viewer, qa = bearer(tokens[Role.VIEWER]), bearer(tokens[Role.QA])
    nxt = f"/api/v1/filters/{rendered['slug']}/arena/next"
    pair = client.get(nxt, headers=viewer).json()
    names = str(pair).replace("/api/v1/", "/api/")
    assert pair["pair_id"] and "label" not in names and "v1" not in names
    assert pair["left"]["render_url"] != pair["right"]["render_url"]
    bad = [
        ({"pair_id": "not-served", "outcome": "left"}, viewer, 404, "not served to you"),
        ({"pair_id": pair["pair_id"], "outcome": "left"}, qa, 404, "not served to you"),
        ({"pair_id": pair["pair_id"], "outcome": "sideways"}, viewer, 422, "not an outcome"),
    ]
    for body, who, status, words in bad:
        response = client.post("/api/v1/arena/votes", json=body, headers=who)
        assert response.status_code == status, response.text
        assert words in response.json()["detail"]
    voted = client.post(
        "/api/v1/arena/votes", json={"pair_id": pair["pair_id"], "outcome": "left"}, headers=viewer
    )
    assert voted.status_code == 201
    assert {voted.json()["left"]["label"], voted.json()["right"]["label"]} <= {"v1", "v2", "v3"}
    twice = client.post(
        "/api/v1/arena/votes", json={"pair_id": pair["pair_id"], "outcome": "right"}, headers=viewer
    )
    assert twice.status_code == 409
    with app.state.sessions() as session:
        voted_pairs = session.scalars(select(ArenaPair).where(ArenaPair.voted_at.is_not(None)))
        assert [p.outcome.value for p in voted_pairs] == ["left"]


def test_a_voter_judges_each_sample_and_pair_once_then_runs_out(
    client: TestClient, app: FastAPI, tokens: dict, rendered: dict
) -> None:
    viewer = bearer(tokens[Role.VIEWER])
    nxt = f"/api/v1/filters/{rendered['slug']}/arena/next"
    seen = set()
    for _ in range(20):
        pair = client.get(nxt, headers=viewer).json()
        if pair["pair_id"] is None:
            assert "judged every pair" in pair["message"]
            break
        result = client.post(
            "/api/v1/arena/votes",
            headers=viewer,
            json={"pair_id": pair["pair_id"], "outcome": "tie"},
        ).json()
        key = (pair["sample_id"], *sorted((result["left"]["label"], result["right"]["label"])))
        assert key not in seen
        seen.add(key)
    # v1–v2, v2–v3 and v1–v3 are all rendered on 3 samples: 9 (sample, pair) judgements.
    assert len(seen) == 9


def test_leaderboard_follows_the_votes_and_exports(
    client: TestClient, app: FastAPI, tokens: dict, rendered: dict
) -> None:
    slug = rendered["slug"]
    voters = [bearer(tokens[Role.VIEWER]), bearer(tokens[Role.QA]), bearer(tokens[Role.DEVELOPER])]
    strength = {"v1": 1, "v2": 2, "v3": 3}
    for auth in voters:
        while True:
            pair = client.get(f"/api/v1/filters/{slug}/arena/next", headers=auth).json()
            if pair["pair_id"] is None:
                break
            peek = client.post(
                "/api/v1/arena/votes",
                headers=auth,
                json={"pair_id": pair["pair_id"], "outcome": "tie"},
            )
            assert peek.status_code == 201
    board = client.get(f"/api/v1/filters/{slug}/leaderboard", headers=voters[0]).json()
    assert board["total_votes"] == 27
    assert {s["score"] for s in board["standings"]} == {1000.0}  # all ties: all equal
    # A new voter always picks the stronger version (peeking at the sides, as a test may).
    make_user(app, role=Role.VIEWER, name="judge")
    judge = bearer(make_token(app, name="judge"))
    labels = dict(zip(rendered["versions"], ("v1", "v2", "v3"), strict=True))
    while True:
        pair = client.get(f"/api/v1/filters/{slug}/arena/next", headers=judge).json()
        if pair["pair_id"] is None:
            break
        with app.state.sessions() as session:
            served = session.scalar(select(ArenaPair).where(ArenaPair.token == pair["pair_id"]))
            left, right = labels[served.left_version_id], labels[served.right_version_id]
        outcome = "left" if strength[left] > strength[right] else "right"
        reveal = client.post(
            "/api/v1/arena/votes",
            headers=judge,
            json={"pair_id": pair["pair_id"], "outcome": outcome},
        ).json()
        assert (reveal["left"]["label"], reveal["right"]["label"]) == (left, right)
    board = client.get(f"/api/v1/filters/{slug}/leaderboard", headers=judge).json()
    assert board["total_votes"] == 36
    assert [s["label"] for s in board["standings"]] == ["v3", "v2", "v1"]
    for s in board["standings"]:
        assert s["lower"] <= s["score"] <= s["upper"]
    csv_text = client.get(f"/api/v1/filters/{slug}/leaderboard?format=csv", headers=judge).text
    assert csv_text.splitlines()[0].startswith("rank,version,branch")
    assert len(csv_text.splitlines()) == 4
    tagged = client.get(f"/api/v1/filters/{slug}/leaderboard?tag=face", headers=judge).json()
    assert tagged["total_votes"] == 24  # samples 1 and 2 carry the tag: 2/3 of the votes


def test_report_is_one_self_contained_file_with_picks_comments_and_leaderboard(
    client: TestClient, app: FastAPI, tokens: dict, rendered: dict
) -> None:
    viewer = bearer(tokens[Role.VIEWER])
    ref = rendered["comparison"]
    v1 = rendered["versions"][0]
    s0 = rendered["samples"][0]
    client.post(
        f"/api/v1/comparisons/{ref}/picks",
        headers=viewer,
        json={"sample_id": s0, "version_ids": [v1]},
    )
    client.post(
        f"/api/v1/comparisons/{ref}/comments",
        headers=viewer,
        json={"body": "**Ship** v1 <script>alert(1)</script>"},
    )
    client.post(
        f"/api/v1/comparisons/{ref}/comments",
        headers=viewer,
        json={"body": "teeth blur", "sample_id": s0, "version_id": v1},
    )
    response = client.get(f"/api/v1/comparisons/{ref}/report", headers=viewer)
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    html = response.text
    assert html.count("data:image/webp;base64,") == 3 + 6  # 3 inputs, 6 renders
    assert 'src="/' not in html and "http://" not in html and "https://" not in html
    assert "<strong>Ship</strong>" in html and "<script>alert" not in html
    assert "teeth blur" in html and "★ picked by 1" in html
    assert "preferred in 1 of 1 row</li>" in html
