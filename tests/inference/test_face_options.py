"""A face filter's own options (which faces, margin, alignment): kept by the API and the page,
refused when they cannot crop, and deciding which faces its renders convert."""

from pathlib import Path

import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data

from ganstudio.roles import Role
from tests import checkpoints as ck
from tests.conftest import csrf_from
from tests.factories import bearer, make_sample, make_version
from tests.inference.test_face_pipeline import SIZE, _grid, _png, _render


def test_face_options_are_kept_checked_and_shown(client: TestClient, tokens: dict) -> None:
    dev = bearer(tokens[Role.DEVELOPER])
    made = client.post(
        "/api/v1/filters",
        json={"name": "Anime face", "pipeline": "face", "faces": "largest", "margin": 1.5},
        headers=dev,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["faces"], body["margin"], body["align"]) == ("largest", 1.5, True)
    slug = body["slug"]
    for bad in ({"margin": 0}, {"faces": "some"}, {"margin": -2}):
        refused = client.patch(f"/api/v1/filters/{slug}", json=bad, headers=dev)
        assert refused.status_code == 422, (bad, refused.text)
    changed = client.patch(f"/api/v1/filters/{slug}", json={"align": False}, headers=dev).json()
    assert (changed["faces"], changed["margin"], changed["align"]) == ("largest", 1.5, False)
    full = client.post("/api/v1/filters", json={"name": "Whole"}, headers=dev).json()
    assert (full["faces"], full["margin"], full["align"]) == ("all", 1.8, True)  # the defaults


def test_the_filter_page_saves_face_options(signed_in, client: TestClient, tokens: dict) -> None:
    dev = bearer(tokens[Role.DEVELOPER])
    slug = client.post(
        "/api/v1/filters", json={"name": "Toon face", "pipeline": "face"}, headers=dev
    ).json()["slug"]
    browser, _ = signed_in(Role.DEVELOPER)
    page = browser.get(f"/filters/{slug}")
    assert 'data-testid="face-options"' in page.text
    form = {"csrf_token": csrf_from(page.text), "faces": "largest", "margin": "1.2"}
    form["align_sent"] = "1"  # the checkbox left unticked: eyes not levelled
    assert browser.post(f"/filters/{slug}", data=form).status_code in (200, 303)
    shown = client.get(f"/api/v1/filters/{slug}", headers=dev).json()
    assert (shown["faces"], shown["margin"], shown["align"]) == ("largest", 1.2, False)


def test_a_largest_face_filter_converts_only_the_largest_face(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    dev = bearer(tokens[Role.DEVELOPER])
    slug = client.post(
        "/api/v1/filters",
        json={"name": "One face", "pipeline": "face", "input_size": SIZE, "faces": "largest"},
        headers=dev,
    ).json()["slug"]
    make_version(app, filter_slug=slug, label="a", checkpoint=ck.safetensors_file(tmp_path / "a"))
    make_version(
        app, filter_slug=slug, label="b", checkpoint=ck.safetensors_file(tmp_path / "b", seed=2)
    )
    head = Image.fromarray(data.astronaut()).crop((110, 0, 350, 260))
    photo = Image.new("RGB", (1000, 420), (200, 200, 210))
    photo.paste(head.resize((180, 195)), (20, 60))
    photo.paste(head.resize((330, 357)), (330, 30))  # the largest, in the middle
    photo.paste(head.resize((180, 195)), (780, 60))
    sample = make_sample(app, _png(photo), "three.png")
    token = tokens[Role.VIEWER]
    grid = _grid(client, app, token, slug, [sample])
    before = np.asarray(photo).astype(int)
    after = _render(client, token, grid["cells"][0]).astype(int)
    changed = np.abs(before - after).max(axis=2) > 8
    assert changed[:, 330:660].mean() > 0.2  # the largest face was converted
    assert not changed[:, :320].any() and not changed[:, 670:].any()  # the others untouched
