"""Comparisons with references: cells carry PSNR/SSIM once the worker ran; the grid sorts by the
worst; version_means ranks versions over the samples they all have metrics for."""

import io
import re
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select, update

from ganstudio.db.tables import Render, Sample
from ganstudio.inference.render_spec import NO_FACE
from ganstudio.roles import Role
from ganstudio.services import reference_metrics
from tests.factories import bearer
from tests.web.compare_helpers import make_bench


def reference_png(seed: int, size: tuple[int, int] = (96, 72)) -> bytes:
    """A smooth target twice the samples' size (same aspect): metrics resize it with Lanczos."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    colour = rng.uniform(0.2, 1.0, 3)
    pixels = (np.stack([x * colour[0], y * colour[1], (x + y) * colour[2] / 2], -1) * 2) % 256
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def attach(client: TestClient, token: str, sample_id: int, data: bytes) -> None:
    answer = client.put(
        f"/api/v1/samples/{sample_id}/reference",
        files={"reference": ("t.png", data)},
        headers=bearer(token),
    )
    assert answer.status_code == 200, answer.text


def compare(client: TestClient, token: str, versions: list[str], samples: list[int]) -> dict:
    answer = client.post(
        "/api/v1/comparisons",
        json={"filter": "toon", "versions": versions, "samples": samples},
        headers=bearer(token),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def run_worker(app: FastAPI) -> None:
    """What the server's worker does: renders first, then background steps until none is left."""
    app.state.worker.run_until_idle()
    while reference_metrics.metrics_step(app.state.sessions, app.state.blobs, app.state.settings):
        pass


def expected(client: TestClient, token: str, render_url: str, reference: bytes):
    render = Image.open(io.BytesIO(client.get(render_url, headers=bearer(token)).content))
    return reference_metrics.measure(render, Image.open(io.BytesIO(reference)))


def test_cells_carry_metrics_once_the_worker_ran_and_version_means_use_common_samples(
    client: TestClient, app: FastAPI, tokens: dict[Role, str], tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path, labels=("v1", "v2", "v3"))
    qa = tokens[Role.QA]
    a, b, c = bench.samples
    references = {a: reference_png(1), b: reference_png(2)}  # c has none
    for sample_id, data in references.items():
        attach(client, qa, sample_id, data)
    made = compare(client, qa, ["v1", "v2"], [a, b, c])
    url = f"/api/v1/comparisons/{made['id']}"

    pending = client.get(url, headers=bearer(qa)).json()
    for cell in pending["cells"]:
        if cell["sample_id"] == c:
            assert cell["metrics"] is None
        else:
            assert cell["metrics"] == {
                "state": "pending",
                "psnr": None,
                "ssim": None,
                "error": None,
            }

    app.state.worker.run_until_idle()
    rendered = client.get(url, headers=bearer(qa)).json()
    assert all(
        cell["metrics"]["state"] == "pending"
        for cell in rendered["cells"]
        if cell["sample_id"] != c
    )  # renders done, metrics not yet: they are a background step, never a page's work
    assert rendered["metric_means"] == {}

    run_worker(app)
    body = client.get(url, headers=bearer(qa)).json()
    values = {}
    for cell in body["cells"]:
        if cell["sample_id"] == c:
            assert cell["metrics"] is None
            continue
        psnr, ssim = expected(client, qa, cell["render_url"], references[cell["sample_id"]])
        assert cell["metrics"]["state"] == "done"
        assert cell["metrics"]["psnr"] == pytest.approx(psnr)
        assert cell["metrics"]["ssim"] == pytest.approx(ssim)
        values[(cell["version_id"], cell["sample_id"])] = (psnr, ssim)
    v1, v2, v3 = (bench.versions[label] for label in ("v1", "v2", "v3"))
    for version_id in (v1, v2):
        mean = body["metric_means"][str(version_id)]
        assert mean["count"] == 2
        assert mean["psnr"] == pytest.approx(
            (values[(version_id, a)][0] + values[(version_id, b)][0]) / 2
        )

    # v3 has rendered only sample a: the means of all three are over a alone.
    compare(client, qa, ["v1", "v3"], [a])
    run_worker(app)
    with app.state.sessions() as session:
        two = reference_metrics.version_means(session, [v1, v2])
        three = reference_metrics.version_means(session, [v1, v2, v3])
        assert reference_metrics.version_means(session, []) == {}
    assert set(two) == {v1, v2} and two[v1]["count"] == 2
    assert two[v2]["ssim"] == pytest.approx((values[(v2, a)][1] + values[(v2, b)][1]) / 2)
    assert set(three) == {v1, v2, v3} and all(m["count"] == 1 for m in three.values())
    assert three[v1]["psnr"] == pytest.approx(values[(v1, a)][0])
    assert three[v2]["ssim"] == pytest.approx(values[(v2, a)][1])

    # The version page shows its mean per set (the bench's set "Faces" holds a, b and c).
    with app.state.sessions() as session:
        per_set = reference_metrics.set_means(session, version_id=v2)
    assert [(m.sample_set.name, m.count, m.with_reference) for m in per_set] == [("Faces", 2, 2)]
    assert per_set[0].psnr == pytest.approx(two[v2]["psnr"])


def test_a_photo_without_a_face_is_left_out_of_the_means(
    client: TestClient, app: FastAPI, tokens: dict[Role, str], tmp_path: Path, signed_in
) -> None:
    """A face filter returns a photo without a face unchanged: its PSNR/SSIM are the photo's,
    the same for every version, so the means leave it out (and say so); its cells keep them."""
    bench = make_bench(app, tmp_path)
    qa = tokens[Role.QA]
    a, b, _c = bench.samples
    for seed, sample_id in enumerate((a, b), start=1):
        attach(client, qa, sample_id, reference_png(seed))
    made = compare(client, qa, ["v1", "v2"], [a, b])
    run_worker(app)
    with app.state.sessions.begin() as session:  # as the face pipeline records one
        session.execute(
            update(Render)
            .where(
                Render.input_sha256 == select(Sample.sha256).where(Sample.id == b).scalar_subquery()
            )
            .values(note=NO_FACE)
        )
    url = f"/api/v1/comparisons/{made['id']}"
    body = client.get(url, headers=bearer(qa)).json()
    assert all(cell["metrics"]["state"] == "done" for cell in body["cells"])  # still shown
    v1 = bench.versions["v1"]
    (psnr_of_a,) = [
        cell["metrics"]["psnr"]
        for cell in body["cells"]
        if cell["sample_id"] == a and cell["version_id"] == v1
    ]
    assert body["metric_means"][str(v1)]["count"] == 1
    assert body["metric_means"][str(v1)]["psnr"] == pytest.approx(psnr_of_a)
    browser, _ = signed_in(Role.VIEWER)
    foot = browser.get(f"/c/{made['slug']}").text
    assert "Mean of 1 sample" in foot and "1 photo without a face left out" in foot
    # The offline report says the same, with each cell's numbers and note.
    report = browser.get(f"/c/{made['slug']}/report.html").text
    assert 'data-testid="report-metric-means"' in report
    assert "1 photo without a face left out" in report
    assert report.count('data-testid="report-metrics"') == 4
    assert report.count(f'data-testid="report-note">{NO_FACE}<') == 2
    with app.state.sessions() as session:
        assert reference_metrics.version_means(session, [v1])[v1]["count"] == 1
        (faces,) = reference_metrics.set_means(session, version_id=v1)
    assert (faces.count, faces.with_reference) == (1, 2)


def test_a_rerendered_reference_is_measured_again_not_confused(
    client: TestClient, app: FastAPI, tokens: dict[Role, str], tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path)
    qa = tokens[Role.QA]
    a = bench.samples[0]
    attach(client, qa, a, reference_png(1))
    made = compare(client, qa, ["v1", "v2"], [a])
    run_worker(app)
    url = f"/api/v1/comparisons/{made['id']}"
    first = [
        cell["metrics"]["psnr"] for cell in client.get(url, headers=bearer(qa)).json()["cells"]
    ]
    attach(client, qa, a, reference_png(7))  # another reference: the stored numbers are not its
    again = client.get(url, headers=bearer(qa)).json()["cells"]
    assert all(cell["metrics"]["state"] == "pending" for cell in again)
    run_worker(app)
    second = client.get(url, headers=bearer(qa)).json()["cells"]
    assert all(cell["metrics"]["state"] == "done" for cell in second)
    assert [cell["metrics"]["psnr"] for cell in second] != first


def test_grid_page_shows_metrics_means_and_sorts_rows_by_the_worst(
    app: FastAPI, signed_in, tokens: dict[Role, str], tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path, filenames=("a.png", "b.png", "c.png", "d.png"))
    browser, _csrf = signed_in(Role.QA)
    for seed, sample_id in enumerate(bench.samples[:3]):
        attach(browser, tokens[Role.QA], sample_id, reference_png(seed + 3))
    made = compare(browser, tokens[Role.QA], ["v1", "v2"], bench.samples)
    run_worker(app)
    page = browser.get(f"/c/{made['slug']}").text
    assert page.count('data-testid="cell-metrics"') == 6  # d has no reference
    assert page.count('data-testid="metric-mean"') == 2 and 'data-testid="metric-foot"' in page
    assert "LPIPS is off: its network weights are not on this server" in page
    assert "aspect ratio (width ÷ height) within 2%" in page  # the size rule is stated

    v1 = bench.versions["v1"]
    body = browser.get(f"/api/v1/comparisons/{made['id']}", headers=bearer(tokens[Role.QA]))
    ssim = {
        c["sample_id"]: c["metrics"]["ssim"]
        for c in body.json()["cells"]
        if c["version_id"] == v1 and c["metrics"]
    }
    worst_first = sorted(ssim, key=ssim.get)
    assert worst_first != bench.samples[:3]  # the test would not tell a sort from no sort
    sorted_page = browser.get(f"/c/{made['slug']}", params={"sort": f"ssim:{v1}"}).text
    rows = [int(r) for r in re.findall(r'<tr id="row-(\d+)"', sorted_page)]
    assert rows == [*worst_first, bench.samples[3]]  # rows without the number come last
    unsorted = browser.get(f"/c/{made['slug']}", params={"sort": "nonsense"}).text
    assert [int(r) for r in re.findall(r'<tr id="row-(\d+)"', unsorted)] == bench.samples


def test_version_page_shows_its_means_per_set(
    app: FastAPI, signed_in, tokens: dict[Role, str], tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path)
    browser, _csrf = signed_in(Role.VIEWER)
    v1 = bench.versions["v1"]
    assert "No metrics yet" in browser.get(f"/versions/{v1}").text
    attach(browser, tokens[Role.QA], bench.samples[0], reference_png(1))
    compare(browser, tokens[Role.QA], ["v1", "v2"], bench.samples)
    run_worker(app)
    with app.state.sessions() as session:
        mean = reference_metrics.version_means(session, [v1])[v1]
    page = browser.get(f"/versions/{v1}").text
    row = re.search(r'data-testid="reference-mean-row">(.*?)</tr>', page).group(1)
    assert "Faces" in row and f"{mean['psnr']:.2f} dB" in row and f"{mean['ssim']:.3f}" in row
    assert "1 of 1 sample with a reference" in row
