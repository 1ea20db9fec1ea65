"""The arena is blind: its pairs name no render file, so nothing maps a side to its version."""

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ganstudio.db.tables import ArenaPair, Render
from ganstudio.roles import Role
from tests.factories import bearer
from tests.web.compare_helpers import make_bench


@pytest.fixture
def rendered(client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path) -> dict:
    """A filter whose 3 versions have rendered 3 samples, through a comparison."""
    bench = make_bench(app, tmp_path, labels=("v1", "v2", "v3"))
    created = client.post(
        "/api/v1/comparisons",
        headers=bearer(tokens[Role.VIEWER]),
        json={"filter": bench.slug, "versions": ["v1", "v2", "v3"], "set": bench.set_id},
    )
    assert created.status_code == 201, created.text
    app.state.worker.run_until_idle()
    return {"slug": bench.slug}


def render_hashes(app: FastAPI) -> set[str]:
    with app.state.sessions() as session:
        renders = session.scalars(select(Render)).all()
        return {sha for r in renders for sha in (r.output_sha256, r.thumb_sha256) if sha}


def test_pair_json_and_page_name_no_render_file(
    client: TestClient,
    app: FastAPI,
    tokens: dict,
    rendered: dict,
    signed_in,
) -> None:
    hashes = render_hashes(app)
    assert len(hashes) >= 4  # outputs and thumbnails of 3 versions on 3 samples
    viewer = bearer(tokens[Role.VIEWER])
    pair = client.get(f"/api/v1/filters/{rendered['slug']}/arena/next", headers=viewer)
    assert not any(sha in pair.text for sha in hashes), pair.text  # was /blobs/<render sha256>
    body = pair.json()
    assert body["left"]["render_url"] == f"/api/v1/arena/pairs/{body['pair_id']}/left"
    assert body["right"]["render_url"] == f"/api/v1/arena/pairs/{body['pair_id']}/right"
    browser, _ = signed_in(Role.VIEWER)
    page = browser.get(f"/filters/{rendered['slug']}/arena")
    assert page.status_code == 200 and not any(sha in page.text for sha in hashes)


def test_pair_images_go_only_to_their_voter_uncached_and_unnamed(
    client: TestClient,
    app: FastAPI,
    tokens: dict,
    rendered: dict,
) -> None:
    hashes = render_hashes(app)
    viewer = bearer(tokens[Role.VIEWER])
    pair = client.get(f"/api/v1/filters/{rendered['slug']}/arena/next", headers=viewer).json()
    with app.state.sessions() as session:
        served = session.scalar(select(ArenaPair).where(ArenaPair.token == pair["pair_id"]))
        left = session.get(Render, served.left_render_id)
        right = session.get(Render, served.right_render_id)
    for side, render in (("left", left), ("right", right)):
        image = client.get(pair[side]["render_url"], headers=viewer)
        assert image.status_code == 200
        assert image.content == app.state.blobs.read_bytes(render.output_sha256)
        assert image.headers["content-type"] == "image/png"
        assert image.headers["cache-control"] == "private, no-store"
        assert "etag" not in image.headers and "last-modified" not in image.headers
        assert not any(sha in str(image.headers) for sha in hashes)
        thumb = client.get(pair[side]["thumb_url"], headers=viewer)
        assert thumb.content == app.state.blobs.read_bytes(render.thumb_sha256)
    stranger = client.get(pair["left"]["render_url"], headers=bearer(tokens[Role.QA]))
    assert stranger.status_code == 404 and "not served to you" in stranger.json()["detail"]
    unknown = client.get("/api/v1/arena/pairs/nope/left", headers=viewer)
    assert unknown.status_code == 404
    wrong_side = client.get(f"/api/v1/arena/pairs/{pair['pair_id']}/middle", headers=viewer)
    assert wrong_side.status_code == 422
    assert client.get(pair["left"]["render_url"]).status_code == 401
