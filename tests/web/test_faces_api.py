"""Faces through the API, with a fake face library (tests/web/faces_helpers.py): analyses made
by the worker once per image and detector, system tags, eye masks, set mask jobs, renders."""

import io
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from ganstudio import faces
from ganstudio.db.tables import FaceAnalysis, Render
from ganstudio.roles import Role
from ganstudio.storage.blobs import BlobStoreUnavailableError
from tests import checkpoints as ck
from tests.factories import bearer, make_filter, make_sample, make_version
from tests.inference.test_render_blob_faults import fail_once
from tests.inference.test_renders import MaskOnly, compare
from tests.web.faces_helpers import FAKE_DETECTOR, face_photo, fake_faces  # noqa: F401

pytestmark = pytest.mark.usefixtures("fake_faces")


def analyse_all(app: FastAPI) -> int:
    ran = 0
    while app.state.worker.analyse_next():
        ran += 1
    return ran


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def get(client: TestClient, token: str, url: str) -> dict:
    response = client.get(url, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_worker_analyses_each_photo_once_and_faces_go_from_pending_to_done(
    client: TestClient, app: FastAPI, tokens: dict
) -> None:
    one = make_sample(app, face_photo(1, seed=1), "one.png")
    make_sample(app, face_photo(0, seed=2), "none.png")
    viewer = tokens[Role.VIEWER]
    pending = get(client, viewer, f"/api/v1/samples/{one}/faces")
    assert pending == {"state": "pending", "detector": FAKE_DETECTOR, "faces": [], "error": ""}

    assert analyse_all(app) == 2
    assert analyse_all(app) == 0  # once per image and detector
    with app.state.sessions() as session:
        rows = session.scalars(select(FaceAnalysis)).all()
    assert sorted((r.detector, r.state) for r in rows) == [(FAKE_DETECTOR, "done")] * 2

    done = get(client, viewer, f"/api/v1/samples/{one}/faces")
    assert done["state"] == "done" and len(done["faces"]) == 1
    face = done["faces"][0]
    assert face["box"] == [10, 10, 20, 20] and face["score"] == 0.9
    assert {"left_eye", "right_eye", "nose", "mouth"} <= set(face["landmarks"])
    assert face["landmarks"]["left_eye"][0] == [13, 16]
    assert face["eyes_open"] == {"left": 0.3, "right": 0.3}


def test_a_failing_detector_is_recorded_once_not_retried(
    app: FastAPI, client: TestClient, tokens: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(image, *, max_faces=10):
        raise faces.FaceAnalysisUnavailableError("the detector's model files are missing")

    monkeypatch.setattr(faces, "analyse_image", unavailable)
    sample = make_sample(app, face_photo(1, seed=3))
    assert analyse_all(app) == 1
    view = get(client, tokens[Role.VIEWER], f"/api/v1/samples/{sample}/faces")
    assert view["state"] == "unavailable" and "model files are missing" in view["error"]
    response = client.post("/api/v1/faces/reanalyse", json={}, headers=bearer(tokens[Role.VIEWER]))
    assert response.status_code == 403
    response = client.post("/api/v1/faces/reanalyse", headers=bearer(tokens[Role.QA]))
    assert response.json() == {"dropped": 1}  # unfinished analyses are run again
    assert analyse_all(app) == 1


def test_an_unreachable_blob_store_is_not_recorded_as_the_photos_failure(
    app: FastAPI, client: TestClient, tokens: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's outage is not the photo's fault: nothing is recorded (a stored "not
    decoded" would stay for good), and the photo is analysed once the store answers."""
    sample = make_sample(app, face_photo(1, seed=4))
    calls = fail_once(monkeypatch, app.state.worker.blobs, "read_bytes")
    with pytest.raises(BlobStoreUnavailableError):
        app.state.worker.analyse_next()
    assert calls
    with app.state.sessions() as session:
        assert session.scalars(select(FaceAnalysis)).all() == []
    assert get(client, tokens[Role.VIEWER], f"/api/v1/samples/{sample}/faces")["state"] == "pending"
    assert analyse_all(app) == 1
    done = get(client, tokens[Role.VIEWER], f"/api/v1/samples/{sample}/faces")
    assert done["state"] == "done" and len(done["faces"]) == 1


def test_system_tags_follow_the_analysis_and_filter_the_grid(
    client: TestClient, app: FastAPI, tokens: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    none = make_sample(app, face_photo(0, seed=1), "none.png")
    one = make_sample(app, face_photo(1, seed=2), "one.png")
    several = make_sample(app, face_photo(3, seed=3), "several.png")
    closed = make_sample(app, face_photo(1, closed=True, seed=4), "closed.png")
    qa = tokens[Role.QA]
    client.patch(f"/api/v1/samples/{closed}", json={"add_tags": ["smile"]}, headers=bearer(qa))
    analyse_all(app)

    def tags(sample_id: int) -> list[str]:
        return get(client, qa, f"/api/v1/samples/{sample_id}")["tags"]

    assert tags(none) == ["face:no face"]
    assert tags(one) == ["face:one face"]
    assert tags(several) == ["face:several faces"]
    assert tags(closed) == ["face:eyes closed", "face:one face", "smile"]

    listed = get(client, qa, "/api/v1/samples?tag=face:eyes closed")
    assert [s["id"] for s in listed["items"]] == [closed]
    made = client.post("/api/v1/sets", json={"name": "hard cases"}, headers=bearer(qa)).json()
    added = client.post(
        f"/api/v1/sets/{made['id']}/samples", json={"tag": "face:eyes closed"}, headers=bearer(qa)
    )
    assert added.status_code == 200, added.text
    in_set = get(client, qa, f"/api/v1/samples?set={made['id']}")
    assert [s["id"] for s in in_set["items"]] == [closed]

    # A new detector revision analyses again, and its tags replace the old ones.
    monkeypatch.setattr(faces, "DETECTOR", "fake-faces 2 r1")
    monkeypatch.setattr(
        faces, "analyse_image", lambda image, *, max_faces=10: faces.FaceAnalysis("x", 1, 1, [])
    )
    assert analyse_all(app) == 4
    assert tags(closed) == ["face:no face", "smile"]
    dropped = client.post("/api/v1/faces/reanalyse", json={}, headers=bearer(qa)).json()
    assert dropped == {"dropped": 4}  # the first detector's rows


def test_qa_cannot_make_or_remove_system_tags_but_may_send_them_back(
    client: TestClient, app: FastAPI, tokens: dict
) -> None:
    sample = make_sample(app, face_photo(1, seed=5))
    analyse_all(app)
    qa = bearer(tokens[Role.QA])
    for body in ({"add_tags": ["Face:eyes closed"]}, {"remove_tags": ["face:one face"]}):
        response = client.patch(f"/api/v1/samples/{sample}", json=body, headers=qa)
        assert response.status_code == 422
        assert "face:" in response.json()["detail"] and "choose" in response.json()["detail"]
    upload = client.post(
        "/api/v1/samples",
        files=[("files", ("a.png", face_photo(2, seed=6), "image/png"))],
        data={"tags": "face:mine"},
        headers=qa,
    )
    assert upload.status_code == 422 and "face:" in upload.json()["detail"]
    # A read-modify-write of the tags keeps the system tags as they are.
    response = client.patch(
        f"/api/v1/samples/{sample}", json={"tags": ["face:one face", "glasses"]}, headers=qa
    )
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == ["face:one face", "glasses"]
    response = client.patch(f"/api/v1/samples/{sample}", json={"tags": []}, headers=qa)
    assert response.json()["tags"] == ["face:one face"]


def test_the_tags_page_offers_no_rename_of_a_system_tag(app: FastAPI, signed_in) -> None:
    """Renaming one would be refused (the analysis owns the "face:" names): no form for it."""
    sample = make_sample(app, face_photo(1, seed=7))
    browser, csrf = signed_in(Role.QA)
    browser.post(f"/samples/{sample}/tags", data={"csrf_token": csrf, "tags": "glasses"})
    analyse_all(app)
    page = browser.get("/tags").text
    rows = {row.split("</a>")[0].rsplit(">", 1)[-1]: row for row in page.split("<tr>")[2:]}
    assert set(rows) == {"face:one face", "glasses"}, rows
    assert 'data-testid="system-tag"' in rows["face:one face"]
    assert 'name="new_name"' not in rows["face:one face"]
    assert 'name="new_name"' in rows["glasses"]


def test_generating_a_mask_from_landmarks(client: TestClient, app: FastAPI, tokens: dict) -> None:
    one = make_sample(app, face_photo(1, seed=7), "one.png")
    none = make_sample(app, face_photo(0, seed=8), "none.png")
    qa = bearer(tokens[Role.QA])
    url = f"/api/v1/samples/{one}/mask/generate"
    assert client.post(url, headers=bearer(tokens[Role.VIEWER])).status_code == 403
    pending = client.post(url, headers=qa)
    assert pending.status_code == 409 and "pending" in pending.json()["detail"]
    analyse_all(app)

    no_face = client.post(f"/api/v1/samples/{none}/mask/generate", headers=qa)
    assert no_face.status_code == 422
    assert "No face" in no_face.json()["detail"] and "upload a mask" in no_face.json()["detail"]

    made = client.post(url, headers=qa)
    assert made.status_code == 200, made.text
    assert made.json()["mask_source"] == "landmarks" and made.json()["mask_url"]
    mask = Image.open(io.BytesIO(client.get(made.json()["mask_url"], headers=qa).content))
    assert mask.mode == "L" and mask.size == (160, 48)
    assert mask.getpixel((15, 17)) == 255 and mask.getpixel((25, 17)) == 255  # the eyes
    assert mask.getpixel((20, 26)) == 0 and mask.getpixel((100, 40)) == 0  # mouth, elsewhere
    assert client.post(url, headers=qa).status_code == 200  # generated masks: regenerated

    uploaded = client.put(
        f"/api/v1/samples/{one}/mask",
        files={"mask": ("m.png", png(Image.new("L", (160, 48), 90)), "image/png")},
        headers=qa,
    )
    assert uploaded.json()["mask_source"] == "uploaded"
    kept = client.post(url, headers=qa)
    assert kept.status_code == 409 and "overwrite=true" in kept.json()["detail"]
    assert get(client, tokens[Role.QA], f"/api/v1/samples/{one}")["mask_source"] == "uploaded"
    replaced = client.post(f"{url}?overwrite=true", headers=qa)
    assert replaced.status_code == 200 and replaced.json()["mask_source"] == "landmarks"
    assert client.post(f"{url}?overwrite=maybe", headers=qa).status_code == 422
    assert client.post("/api/v1/samples/999999/mask/generate", headers=qa).status_code == 404
    assert client.get("/api/v1/samples/999999/faces", headers=qa).status_code == 404


def test_a_set_mask_job_reports_progress_and_keeps_hand_made_masks(
    client: TestClient, app: FastAPI, tokens: dict, signed_in
) -> None:
    qa = bearer(tokens[Role.QA])
    ids = [
        make_sample(app, face_photo(1, seed=10), "a.png"),
        make_sample(app, face_photo(0, seed=11), "b.png"),
        make_sample(app, face_photo(2, seed=12), "c.png"),
    ]
    client.put(
        f"/api/v1/samples/{ids[2]}/mask",
        files={"mask": ("m.png", png(Image.new("L", (160, 48), 90)), "image/png")},
        headers=qa,
    )
    made = client.post("/api/v1/sets", json={"name": "masks"}, headers=qa).json()
    client.put(f"/api/v1/sets/{made['id']}/samples", json={"sample_ids": ids}, headers=qa)
    started = client.post(f"/api/v1/sets/{made['id']}/masks", json={"overwrite": False}, headers=qa)
    assert started.status_code == 200, started.text
    job = started.json()["job"]
    assert (job["status"], job["total"], job["done"], job["failed"]) == ("queued", 3, 0, 0)

    assert app.state.worker.mask_step()  # one sample per step (analysed on the way)
    progress = get(client, tokens[Role.VIEWER], f"/api/v1/mask-jobs/{job['id']}")
    assert (progress["status"], progress["done"]) == ("running", 1)
    while app.state.worker.mask_step():
        pass
    progress = get(client, tokens[Role.VIEWER], f"/api/v1/mask-jobs/{job['id']}")
    assert (progress["status"], progress["done"], progress["kept"], progress["failed"]) == (
        "done",
        1,
        1,
        1,
    )
    assert progress["errors"][0]["sample_id"] == ids[1]
    assert "No face" in progress["errors"][0]["error"]
    sources = [get(client, tokens[Role.QA], f"/api/v1/samples/{i}")["mask_source"] for i in ids]
    assert sources == ["landmarks", None, "uploaded"]

    again = client.post(f"/api/v1/sets/{made['id']}/masks", json={"overwrite": True}, headers=qa)
    while app.state.worker.mask_step():
        pass
    final = get(client, tokens[Role.VIEWER], f"/api/v1/mask-jobs/{again.json()['job']['id']}")
    assert (final["done"], final["kept"], final["failed"]) == (2, 0, 1)
    assert client.post("/api/v1/sets/999999/masks", headers=qa).status_code == 404
    assert client.get("/api/v1/mask-jobs/999999", headers=qa).status_code == 404
    assert (
        client.post(
            f"/api/v1/sets/{made['id']}/masks", headers=bearer(tokens[Role.VIEWER])
        ).status_code
        == 403
    )
    # The activity feed says what happened in words, like every other event.
    browser, _ = signed_in(Role.VIEWER)
    home = browser.get("/").text
    assert "started making eye masks for the set masks" in home
    assert "made the eye mask of a.png from its landmarks" in home
    assert "mask_job" not in home and "mask_generate" not in home


def test_a_four_channel_version_uses_the_landmarks_mask_when_the_photo_has_none(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    slug = make_filter(app, input_size=160)
    make_version(app, filter_slug=slug, label="rgb", checkpoint=ck.safetensors_file(tmp_path / "a"))
    eyes = make_version(
        app,
        filter_slug=slug,
        label="eyes",
        input_channels=4,
        checkpoint=ck.torchscript_file(tmp_path / "m.pt", MaskOnly()),
    )
    one = make_sample(app, face_photo(1, seed=20), "one.png")
    none = make_sample(app, face_photo(0, seed=21), "none.png")
    viewer = tokens[Role.VIEWER]
    created = compare(client, viewer, slug, ["rgb", "eyes"], [one, none])
    app.state.worker.run_until_idle()  # the photos were never analysed: the worker does it
    grid = get(client, viewer, f"/api/v1/comparisons/{created['id']}")
    cells = {c["sample_id"]: c for c in grid["cells"] if c["version_id"] == eyes}
    assert cells[none]["state"] == "failed" and "No face" in cells[none]["error"]
    assert cells[one]["state"] == "done", cells[one]
    pixels = Image.open(
        io.BytesIO(client.get(cells[one]["render_url"], headers=bearer(viewer)).content)
    ).convert("L")
    assert pixels.getpixel((15, 17)) == 255 and pixels.getpixel((100, 40)) == 0
    with app.state.sessions() as session:
        render = session.scalar(
            select(Render).where(Render.version_id == eyes, Render.state == "done")
        )
        assert render is not None and render.mask_sha256 is None
        assert FAKE_DETECTOR in render.settings["eye_mask"]  # the key depends on the detector
        analysed = session.scalar(select(func.count()).select_from(FaceAnalysis))
    assert analysed == 2


def test_pages_show_system_tags_generate_masks_and_follow_a_set_job(
    signed_in, client: TestClient, app: FastAPI, tokens: dict
) -> None:
    browser, csrf = signed_in(Role.QA)
    one = make_sample(app, face_photo(1, closed=True, seed=30), "one.png")
    none = make_sample(app, face_photo(0, seed=31), "none.png")
    page = browser.get(f"/samples/{one}").text
    assert "Face analysis pending" in page and 'data-testid="system-tag"' not in page
    analyse_all(app)
    page = browser.get(f"/samples/{one}").text
    assert 'data-testid="system-tag"' in page and "eyes closed" in page
    assert "1 face found by " + FAKE_DETECTOR in page
    # The Faces overlay can be switched on where there are faces to draw, and only there.
    toggle = re.compile(r'<input type="checkbox" data-toggle-faces[^>]*>')
    assert "disabled" not in toggle.findall(page)[0]
    faceless = browser.get(f"/samples/{none}").text
    assert "0 faces found" in faceless and "disabled" in toggle.findall(faceless)[0]
    generate = re.compile(r'<button type="submit"[^>]*>Generate eye mask from landmarks')
    assert "disabled" not in generate.findall(page)[0]
    assert "No face was found" in generate.findall(faceless)[0]  # off, and says why

    refused = browser.post(f"/samples/{none}/mask/generate", data={"csrf_token": csrf})
    assert "No face was found" in refused.text  # flashed on the sample page
    made = browser.post(f"/samples/{one}/mask/generate", data={"csrf_token": csrf})
    assert "Eye mask generated" in made.text and "generated from landmarks" in made.text
    assert 'data-testid="mask-overlay"' in made.text

    set_id = client.post("/api/v1/sets", json={"name": "p"}, headers=bearer(tokens[Role.QA]))
    set_id = set_id.json()["id"]
    client.put(
        f"/api/v1/sets/{set_id}/samples",
        json={"sample_ids": [one, none]},
        headers=bearer(tokens[Role.QA]),
    )
    started = browser.post(f"/sets/{set_id}/masks", data={"csrf_token": csrf})
    assert "Generating eye masks" in started.text and 'data-status="queued"' in started.text
    assert "hx-get" in browser.get(f"/sets/{set_id}/mask-job").text  # polls while running
    while app.state.worker.mask_step():
        pass
    finished = browser.get(f"/sets/{set_id}/mask-job").text
    assert 'data-status="done"' in finished and "hx-get" not in finished
    assert "1 generated" in finished and "1 failed" in finished and "none.png" in finished


def test_the_sample_page_lists_qa_tags_before_the_analysis_tags(
    app: FastAPI, signed_in, tokens: dict
) -> None:
    from ganstudio.services import faces as faces_service

    sample = make_sample(app, face_photo(1, seed=9), "one.png", tags=["smile"])
    with app.state.sessions.begin() as session:
        faces_service.set_system_tags(session, sample_id=sample, names=["face:one face"])
    browser, _ = signed_in(Role.VIEWER)
    page = browser.get(f"/samples/{sample}").text
    tags = page[page.index('data-testid="sample-tags"') :]
    assert tags.index("smile") < tags.index('data-testid="system-tag"')
