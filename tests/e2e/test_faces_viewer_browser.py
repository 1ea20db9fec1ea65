"""In a real browser, with the real face detector (mediapipe, offline): a planner opens a face
filter's comparison in face-crop mode and sees what each version saw and made, at the network's
input size, with the landmarks drawn; a whole-image filter's viewer offers no such mode."""

import io
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data

from ganstudio import faces
from ganstudio.roles import Role
from tests import checkpoints as ck
from tests.e2e.conftest import LiveServer, sign_in_page
from tests.factories import bearer, make_filter, make_sample, make_token, make_version
from tests.waiting import job_done
from tests.web.compare_helpers import make_set

pytestmark = pytest.mark.browser

SIZE = 96  # the face filter's input size: each crop's side
SHOTS = Path(os.environ.get("GANSTUDIO_SHOTS", "/tmp/shots-faces-viewer"))


def _astronaut_png() -> bytes:
    photo = Image.new("RGB", (900, 760), (70, 120, 60))
    photo.paste(Image.fromarray(data.astronaut()), (300, 180))
    buffer = io.BytesIO()
    photo.save(buffer, "PNG")
    return buffer.getvalue()


def _compare(live_server: LiveServer, slug: str, labels: list[str], set_id: int) -> str:
    token = bearer(make_token(live_server.app, name=live_server.users[Role.VIEWER]))
    with TestClient(live_server.app) as api:
        created = api.post(
            "/api/v1/comparisons",
            headers=token,
            json={"filter": slug, "versions": labels, "set": set_id},
        )
        assert created.status_code == 201, created.text
        job_done(api, created.json()["job"]["id"], token)
    return str(created.json()["slug"])


def _filter(
    live_server: LiveServer, tmp_path: Path, name: str, pipeline: str
) -> tuple[str, dict[str, int]]:
    """A filter with two tiny versions, v1 and v2; return its slug and their ids."""
    slug = make_filter(live_server.app, name=name, input_size=SIZE, pipeline=pipeline)
    versions = {}
    for seed, label in enumerate(("v1", "v2")):
        checkpoint = ck.safetensors_file(tmp_path / f"{name}-{label}.safetensors", seed)
        versions[label] = make_version(
            live_server.app, filter_slug=slug, label=label, checkpoint=checkpoint
        )
    return slug, versions


def test_a_planner_sees_what_each_version_saw_and_made_of_the_face(
    page, live_server: LiveServer, tmp_path: Path
) -> None:
    app = live_server.app
    try:
        faces.analyse_image(Image.new("RGB", (64, 64)))
    except faces.FaceAnalysisUnavailableError as exc:  # `make install` puts it in
        pytest.fail(f"the face detector is not installed: {exc}")
    sample = make_sample(app, _astronaut_png(), "astronaut.png")
    set_id = make_set(app, "Portraits", [sample])
    face_filter, face_versions = _filter(live_server, tmp_path, "Anime face", "face")
    full_filter, _ = _filter(live_server, tmp_path, "Webtoon", "full")
    face_slug = _compare(live_server, face_filter, ["v1", "v2"], set_id)
    full_slug = _compare(live_server, full_filter, ["v1", "v2"], set_id)
    while app.state.worker.analyse_next():  # the background analysis, now (races are harmless)
        pass

    sign_in_page(page, live_server.users[Role.VIEWER])
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"/c/{face_slug}/view?sample={sample}")
    page.get_by_test_id("mode-crop").click()
    crops = page.get_by_test_id("face-crops")
    crops.wait_for()
    images = crops.get_by_test_id("crop-image")
    assert images.count() == 3  # the input crop, then each version's
    keys = [images.nth(i).get_attribute("data-key") for i in range(3)]
    assert keys == ["input", str(face_versions["v1"]), str(face_versions["v2"])]
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=crop-image]')]"
        ".every((img) => img.complete && img.naturalWidth > 0)"
    )
    sizes = images.evaluate_all("(all) => all.map((img) => [img.naturalWidth, img.naturalHeight])")
    assert sizes == [[SIZE, SIZE]] * 3
    # The landmarks are drawn on the input crop, in its pixels: both eyes, level, in the upper half.
    overlay = crops.locator("[data-key=input] [data-testid=crop-landmarks]")
    assert overlay.get_attribute("data-faces") == "1"
    assert overlay.locator("polygon.face-left_eye").count() == 1
    assert overlay.locator("polygon.face-right_eye").count() == 1
    assert overlay.locator("polygon.face-mouth").count() == 1
    centres = overlay.evaluate(
        "(svg) => ['left_eye', 'right_eye'].map((name) => {"
        "  const box = svg.querySelector(`polygon.face-${name}`).getBBox();"
        "  return [box.x + box.width / 2, box.y + box.height / 2]; })"
    )
    (lx, ly), (rx, ry) = centres
    assert abs(ly - ry) < SIZE * 0.03 and ly < SIZE / 2 and rx < lx
    # The mode is kept in the link.
    assert "mode=crop" in page.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "face-crop-1440x900.png"))

    # The overlays of the whole photo: faces over the input and both outputs.
    page.get_by_test_id("mode-side").click()
    page.get_by_test_id("viewer-toggle-faces").check()
    page.wait_for_selector("[data-testid=viewer-face-overlay][data-faces='1']")
    assert page.get_by_test_id("viewer-face-overlay").count() == 3
    page.get_by_test_id("viewer-toggle-mask").check()
    assert page.get_by_test_id("viewer-mask-overlay").count() == 3
    page.screenshot(path=str(SHOTS / "overlays-1440x900.png"))

    # A whole-image filter's viewer has no face-crop mode (its overlays are still there).
    page.goto(f"/c/{full_slug}/view?sample={sample}&mode=crop")
    assert page.get_by_test_id("mode-side").get_attribute("aria-pressed") == "true"
    assert page.get_by_test_id("mode-crop").count() == 0
    assert page.get_by_test_id("viewer-toggle-faces").is_enabled()
