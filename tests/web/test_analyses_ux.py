"""Finding analyses again and reading them plainly: the list (API and page), the link between
an analysis and its comparison, a photo without a face as a note (not a failure), polling until
nothing runs, the layer dropdown, and the face an analysis explains (part of the cache key)."""

import io
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from ganstudio.db.tables import Analysis, AnalysisItem
from ganstudio.faces.crops import cut, face_crop
from ganstudio.inference import networks
from ganstudio.roles import Role
from ganstudio.services import analyses as analyses_service
from ganstudio.vocabulary import AnalysisState
from tests.factories import bearer, make_sample
from tests.web.faces_helpers import face_photo, fake_analyse, fake_faces  # noqa: F401
from tests.web.test_analyses import SIZE, FakeEngine, _analysed, _filter, _run, _start

pytestmark = pytest.mark.usefixtures("fake_faces")


@pytest.fixture
def engine(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """The stand-in engine of tests/web/test_analyses.py, without an executor process."""
    fake = FakeEngine()
    monkeypatch.setattr(networks, "attention_of", fake.attention_of, raising=False)
    monkeypatch.setattr(networks, "features_of", fake.features_of, raising=False)
    monkeypatch.setattr(app.state.worker.pool, "get", lambda spec, read: object())
    return fake


def _comparison(client: TestClient, token: str, slug: str, samples: list[int]) -> str:
    made = client.post(
        "/api/v1/comparisons",
        json={"filter": slug, "versions": ["a", "b"], "samples": samples},
        headers=bearer(token),
    )
    assert made.status_code == 201, made.text
    return str(made.json()["slug"])


def _start_page(browser, csrf: str, comparison: str, **form: str) -> str:
    started = browser.post(
        "/analyses",
        data={"csrf_token": csrf, "comparison": comparison, "region": "eyes", **form},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    return str(started.headers["location"])


class Started(NamedTuple):
    browser: TestClient
    csrf: str
    url: str  # the analysis page
    slug: str  # the filter
    comparison: str
    samples: list[int]


def _started(
    app: FastAPI, client: TestClient, token: str, tmp_path: Path, signed_in, seed: int
) -> Started:
    """A filter, two face photos, their comparison, and an analysis of it started from the page
    by a signed-in viewer."""
    slug = _filter(app, tmp_path)
    samples = [make_sample(app, face_photo(1, seed=seed + n), f"p{n}.png") for n in range(2)]
    comparison = _comparison(client, token, slug, samples)
    browser, csrf = signed_in(Role.VIEWER)
    url = _start_page(browser, csrf, comparison)
    return Started(browser, csrf, url, slug, comparison, samples)


def test_analyses_are_listed_newest_first_filtered_by_filter_and_comparison(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine, signed_in
) -> None:
    token = tokens[Role.VIEWER]
    toon = _filter(app, tmp_path, name="Toon")
    other = _filter(app, tmp_path, name="Other")
    samples = [make_sample(app, face_photo(1, seed=300 + n), f"p{n}.png") for n in range(2)]
    comparison = _comparison(client, token, toon, samples)
    browser, csrf = signed_in(Role.VIEWER)
    from_page = _start_page(browser, csrf, comparison, region="face")
    by_api = _start(client, token, filter=other, versions=["a"], samples=samples, region="image")
    assert by_api.status_code == 201
    why = _start(client, token, filter=toon, versions=["a"], samples=samples[:1])  # the viewer's
    assert why.status_code == 201
    _run(app)

    listed = client.get("/api/v1/analyses", headers=bearer(token)).json()
    assert listed["total"] == 2 and listed["page"] == 1  # the one-sample Why is left out
    first, second = listed["items"]
    assert first["id"] == by_api.json()["id"] and f"/analyses/{second['slug']}" == from_page
    assert second["comparison"] == comparison and first["comparison"] is None
    assert second["versions"] == ["a", "b"] and second["samples"] == 2
    assert second["region_words"] == "the face" and second["progress"]["status"] == "done"
    assert second["progress"]["done"] == 4 and second["progress"]["failed"] == 0
    only = client.get(f"/api/v1/analyses?filter={toon}", headers=bearer(token)).json()
    assert [a["slug"] for a in only["items"]] == [second["slug"]]
    of_comparison = client.get(
        f"/api/v1/analyses?comparison={comparison}", headers=bearer(token)
    ).json()
    assert [a["slug"] for a in of_comparison["items"]] == [second["slug"]]
    paged = client.get("/api/v1/analyses?per_page=1&page=2", headers=bearer(token)).json()
    assert [a["id"] for a in paged["items"]] == [second["id"]] and paged["total"] == 2
    with_why = client.get("/api/v1/analyses?why=true", headers=bearer(token)).json()
    assert with_why["total"] == 3
    unknown = client.get("/api/v1/analyses?filter=nope", headers=bearer(token))
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]

    # The page: the same list, newest first, with its filter.
    page = browser.get("/analyses")
    assert page.status_code == 200
    assert page.text.index(first["slug"]) < page.text.index(second["slug"])
    assert page.text.count('data-testid="analyses-row"') == 2
    filtered = browser.get(f"/analyses?filter={other}").text
    assert filtered.count('data-testid="analyses-row"') == 1 and first["slug"] in filtered


def test_an_analysis_and_its_comparison_link_to_each_other(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine, signed_in
) -> None:
    token = tokens[Role.VIEWER]
    browser, _csrf, url, slug, comparison, samples = _started(
        app, client, token, tmp_path, signed_in, seed=320
    )
    _run(app)
    with app.state.sessions() as session:
        analysis = session.query(Analysis).one()
        assert analysis.comparison_id is not None
    grid = browser.get(f"/c/{comparison}").text
    assert 'data-testid="comparison-analyses"' in grid
    assert f'href="{url}"' in grid and "Attention on the eyes · 2 samples" in grid
    page = browser.get(url).text
    assert f'href="/c/{comparison}" data-testid="analysis-comparison"' in page
    assert f'href="/analyses?filter={slug}" data-testid="crumb-analyses"' in page
    # Each row and its thumbnails open the viewer's Why mode on that sample, same region.
    why = f"/c/{comparison}/view?sample={samples[0]}&amp;mode=why&amp;region=eyes"
    assert page.count(f'href="{why}"') == 3  # the row's link and its two thumbnails
    assert "/blobs/" not in page.split('data-testid="analysis-thumb-link"')[0][-300:]


def test_a_photo_without_a_face_is_a_note_counted_apart_from_failures(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine, signed_in
) -> None:
    token = tokens[Role.VIEWER]
    slug = _filter(app, tmp_path, pipeline="face", name="Face toon")
    samples = [
        make_sample(app, face_photo(1, seed=340), "face.png"),
        make_sample(app, face_photo(0, seed=341), "cat.png"),
    ]
    comparison = _comparison(client, token, slug, samples)
    browser, csrf = signed_in(Role.VIEWER)
    url = _start_page(browser, csrf, comparison, region="image")
    _run(app)
    read = client.get(f"/api/v1{url}", headers=bearer(token)).json()
    cat = [i for i in read["items"] if i["sample_id"] == samples[1]]
    # The API stays truthful: failed, with its error, and a reason code.
    assert {i["state"] for i in cat} == {"failed"} and all("no face" in i["error"] for i in cat)
    assert {i["reason"] for i in cat} == {analyses_service.NO_FACE}
    assert [s["failed"] for s in read["summary"]] == [0, 0]
    assert [s["no_face"] for s in read["summary"]] == [1, 1]
    assert read["region_words"] == "the whole crop"  # a face filter sees only the face crop
    page = browser.get(url).text
    assert page.count('data-testid="analysis-no-face-note"') == 2
    assert (
        'data-testid="analysis-error"' not in page and 'data-testid="analysis-failed"' not in page
    )
    assert "2 without a face: skipped" in page
    assert "<strong>the whole crop</strong>" in page
    listed = client.get("/api/v1/analyses", headers=bearer(token)).json()["items"][0]
    assert listed["progress"]["failed"] == 0 and listed["progress"]["no_face"] == 2
    assert listed["progress"]["status"] == "done"


def test_after_cancel_the_page_polls_until_the_running_item_finishes(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine, signed_in
) -> None:
    token = tokens[Role.VIEWER]
    browser, csrf, url, *_ = _started(app, client, token, tmp_path, signed_in, seed=360)
    with app.state.sessions.begin() as session:  # a worker has claimed one item
        claimed = analyses_service.claim_next_item(session, worker_id="w1")
    assert claimed is not None
    browser.post(f"{url}/cancel", data={"csrf_token": csrf})
    live = browser.get(f"{url}/live").text
    assert 'data-state="running"' in live
    assert f'hx-get="{url}/live"' in live and 'data-finished="false"' in live
    from ganstudio.inference import analysis_runner

    analysis_runner.run_item(app.state.worker, claimed)  # the running one finishes
    done = browser.get(f"{url}/live").text
    assert 'data-state="running"' not in done and "hx-get" not in done
    assert 'data-finished="true"' in done


def test_the_page_never_says_finished_beside_a_cell_still_queued(
    client: TestClient,
    app: FastAPI,
    tokens: dict,
    tmp_path: Path,
    engine: FakeEngine,
    signed_in,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The items finish while the page is being read (a worker committing between its
    queries, as in CI): the page either shows them queued and polls on, or shows them done;
    never "done" and stopped polling over a cell still "queued"."""
    token = tokens[Role.VIEWER]
    browser, _csrf, url, *_ = _started(app, client, token, tmp_path, signed_in, seed=370)
    read = analyses_service.read_analysis

    def read_then_finish(session, *, analysis):
        view = read(session, analysis=analysis)
        with app.state.sessions.begin() as other:  # the worker finishes every item now
            for item in other.scalars(
                select(AnalysisItem).where(AnalysisItem.analysis_id == analysis.id)
            ):
                item.state = AnalysisState.DONE
                item.region_share = 0.5
        return view

    monkeypatch.setattr(analyses_service, "read_analysis", read_then_finish)
    live = browser.get(f"{url}/live").text
    queued = live.count('data-state="queued"')
    assert queued == 4, live  # the page read them queued…
    assert 'data-finished="false"' in live and f'hx-get="{url}/live"' in live  # …so it polls on
    monkeypatch.setattr(analyses_service, "read_analysis", read)
    done = browser.get(f"{url}/live").text
    assert 'data-state="queued"' not in done and 'data-finished="true"' in done


def test_the_new_analysis_form_lists_the_layers_default_first(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine, signed_in
) -> None:
    token = tokens[Role.VIEWER]
    slug = _filter(app, tmp_path)
    samples = [make_sample(app, face_photo(1, seed=380), "p.png")]
    comparison = _comparison(client, token, slug, samples)
    browser, csrf = signed_in(Role.VIEWER)
    form = browser.get(f"/analyses/new?comparison={comparison}").text
    assert '<select name="layer" data-testid="analysis-layer">' in form
    assert 'type="text" name="layer"' not in form
    layers = client.get("/api/v1/versions/1/layers", headers=bearer(token)).json()
    options = form.split('data-testid="analysis-layer">')[1].split("</select>")[0]
    assert options.count("<option") == len(layers) > 1
    assert '<option value="">' + layers[0]["name"] in options and "· default" in options
    chosen = layers[1]["name"]
    url = _start_page(browser, csrf, comparison, layer=chosen)
    _run(app)
    read = client.get(f"/api/v1{url}", headers=bearer(token)).json()
    assert {i["layer"] for i in read["items"]} == {chosen}


def test_the_face_an_analysis_explains_is_chosen_and_keyed(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine
) -> None:
    token = tokens[Role.VIEWER]
    slug = _filter(app, tmp_path, pipeline="face", name="Face toon")
    photo_bytes = face_photo(2, seed=400)
    sample = make_sample(app, photo_bytes, "two.png")
    body = {"filter": slug, "versions": ["a"], "samples": [sample], "region": "image"}
    first = _analysed(client, app, token, **body)
    second = _analysed(client, app, token, **body, face=1)
    assert first["face"] == 0 and second["face"] == 1
    assert [i["state"] for i in first["items"] + second["items"]] == ["done", "done"]
    photo = Image.open(io.BytesIO(photo_bytes)).convert("RGB")
    faces = fake_analyse(photo).faces
    fed = [call["image"] for call in engine.calls]
    assert len(fed) == 2  # face 1 is not face 0's cached result
    assert np.array_equal(np.asarray(fed[1]), np.asarray(cut(photo, face_crop(faces[1]), SIZE)))
    assert not np.array_equal(np.asarray(fed[0]), np.asarray(fed[1]))
    with app.state.sessions() as session:
        keys = {i.cache_key for i in session.query(AnalysisItem)}
    assert len(keys) == 2
    # A face the photo does not have: the item says which faces there are.
    third = _analysed(client, app, token, **body, face=4)
    item = third["items"][0]
    assert item["state"] == AnalysisState.FAILED.value and "2 faces" in item["error"]
    refused = _start(client, token, **body, face=-1)
    assert refused.status_code == 422
