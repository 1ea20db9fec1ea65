"""The comparison viewer's faces (fake face library, tests/web/faces_helpers.py): the face-crop
payload and images of a face filter, cut with the renderer's own crop rule; overlays' URLs; and
a clear 404 where there is nothing to crop."""

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from ganstudio.faces.crops import cut, face_crop
from ganstudio.roles import Role
from tests import checkpoints as ck
from tests.factories import bearer, make_filter, make_sample, make_version
from tests.inference.test_renders import compare
from tests.web.faces_helpers import face_photo, fake_analyse, fake_faces  # noqa: F401

pytestmark = pytest.mark.usefixtures("fake_faces")
SIZE = 32


def _filter(app: FastAPI, tmp_path: Path, pipeline: str) -> str:
    slug = make_filter(app, name=f"F {pipeline}", input_size=SIZE, pipeline=pipeline)
    for n, label in ((1, "a"), (2, "b")):
        checkpoint = ck.safetensors_file(tmp_path / f"{pipeline}-{label}.st", seed=n)
        make_version(app, filter_slug=slug, label=label, checkpoint=checkpoint)
    return slug


def _viewer(client: TestClient, app: FastAPI, token: str, slug: str, sample: int) -> dict:
    created = compare(client, token, slug, ["a", "b"], [sample])
    app.state.worker.run_until_idle()
    while app.state.worker.analyse_next():
        pass
    row = client.get(f"/c/{created['slug']}/row?sample={sample}", headers=bearer(token))
    assert row.status_code == 200, row.text
    return {"slug": created["slug"], **row.json()}


def _png(response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return Image.open(io.BytesIO(response.content)).convert("RGB")


def test_face_crops_are_what_the_network_saw_and_made(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    photo_bytes = face_photo(2, seed=5)
    sample = make_sample(app, photo_bytes, "two.png")
    token = tokens[Role.VIEWER]
    row = _viewer(client, app, token, _filter(app, tmp_path, "face"), sample)
    faces = row["faces"]
    assert faces["state"] == "done" and faces["count"] == 2 and faces["crop_size"] == SIZE
    assert faces["mask_url"] == f"/c/{row['slug']}/faces/{sample}/eye-mask.png"
    assert [c["index"] for c in faces["crops"]] == [0, 1]

    photo = Image.open(io.BytesIO(photo_bytes)).convert("RGB")
    found = fake_analyse(photo).faces
    for index, face in enumerate(found):
        crop = face_crop(face)
        payload = faces["crops"][index]
        # The landmarks in crop pixels: the eye centres land where the crop put them (level).
        (lx, ly), (rx, ry) = (payload["landmarks"][f"{e}_eye_centre"][0] for e in ("left", "right"))
        assert abs(ly - ry) < 0.2 and 0 < lx < SIZE and 0 < rx < SIZE
        seen = _png(client.get(payload["input_url"], headers=bearer(token)))
        assert seen.size == (SIZE, SIZE)
        assert np.array_equal(np.asarray(seen), np.asarray(cut(photo, crop, SIZE)))
        for column in row["columns"][1:]:
            made = _png(client.get(payload["output_urls"][column["key"]], headers=bearer(token)))
            output = _png(client.get(column["url"], headers=bearer(token)))
            assert np.array_equal(np.asarray(made), np.asarray(cut(output, crop, SIZE)))
            assert not np.array_equal(np.asarray(made), np.asarray(seen))  # it converted

    # Cached by content: the browser revalidates and gets a 304.
    url = faces["crops"][0]["input_url"]
    first = client.get(url, headers=bearer(token))
    again = client.get(url, headers={**bearer(token), "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304

    mask = client.get(faces["mask_url"], headers=bearer(token))
    assert _png(mask).size == photo.size

    missing = client.get(f"/c/{row['slug']}/faces/{sample}/2/input.png", headers=bearer(token))
    assert missing.status_code == 404 and "there is no face 2" in missing.text
    stranger = client.get(f"/c/{row['slug']}/faces/{sample}/0/999.png", headers=bearer(token))
    assert stranger.status_code == 404 and "not a column" in stranger.text
    for bad in ("output", "0", "-1"):  # neither `input` nor a version id: a 422 that says so
        odd = client.get(f"/c/{row['slug']}/faces/{sample}/0/{bad}.png", headers=bearer(token))
        assert odd.status_code == 422, (bad, odd.text)


def test_no_face_crops_for_a_whole_image_filter_or_a_photo_without_faces(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    token = tokens[Role.VIEWER]
    one = make_sample(app, face_photo(1, seed=7), "one.png")
    full = _viewer(client, app, token, _filter(app, tmp_path, "full"), one)
    assert full["faces"]["crop_size"] is None and full["faces"]["crops"] == []
    assert full["faces"]["count"] == 1  # the overlays are there all the same
    refused = client.get(f"/c/{full['slug']}/faces/{one}/0/input.png", headers=bearer(token))
    assert refused.status_code == 404 and "only face filters" in refused.text

    nobody = make_sample(app, face_photo(0, seed=8), "nobody.png")
    row = _viewer(client, app, token, _filter(app, tmp_path, "face"), nobody)
    assert row["faces"]["crops"] == [] and row["faces"]["mask_url"] is None
    empty = client.get(f"/c/{row['slug']}/faces/{nobody}/0/input.png", headers=bearer(token))
    assert empty.status_code == 404 and "No face was found" in empty.text
    no_mask = client.get(f"/c/{row['slug']}/faces/{nobody}/eye-mask.png", headers=bearer(token))
    assert no_mask.status_code == 404 and "No face was found" in no_mask.text
    page = client.get(f"/c/{row['slug']}/view?sample={nobody}", headers=bearer(token))
    assert page.status_code == 200 and '"crop_size":' in page.text
