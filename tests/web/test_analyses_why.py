"""The viewer's Why mode is a look, not a person's analysis: opening it again returns the
analyses it made before (no new records, no work queued twice), nothing goes to the activity
feed, and a photo whose face analysis found no face queues nothing. An analysis a person starts
(the API without `why`, or the Analyses form) still goes to the feed, and a new one each time."""

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ganstudio.db.tables import Analysis, AnalysisItem, AuditEvent
from ganstudio.roles import Role
from ganstudio.services import analyses as analyses_service
from tests.factories import bearer, make_sample
from tests.web.faces_helpers import face_photo, fake_analyse, fake_faces  # noqa: F401
from tests.web.test_analyses import FakeEngine, _filter, _read, _run, _start
from tests.web.test_analyses import engine as engine  # the stand-in engine (a fixture)
from tests.web.test_analyses_ux import _comparison, _start_page

pytestmark = pytest.mark.usefixtures("fake_faces")
FEED_WORDS = "analysed the attention"


def _look(client: TestClient, token: str, slug: str, sample: int, **body: Any) -> list[int]:
    """What why.js asks when Why mode opens: one analysis per version, `why: true`."""
    ids = []
    for label in ("a", "b"):
        response = _start(
            client, token, filter=slug, versions=[label], samples=[sample], why=True, **body
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def _counts(app: FastAPI) -> tuple[int, int]:
    """How many analyses there are, and how many analysis events the feed has."""
    with app.state.sessions() as session:
        analyses = session.scalar(select(func.count()).select_from(Analysis)) or 0
        events = (
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "analysis.create")
            )
            or 0
        )
    return analyses, events


def _faces_analysed(app: FastAPI) -> None:
    while app.state.worker.analyse_next():
        pass


def test_opening_why_again_reuses_its_analyses_and_logs_nothing(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine, signed_in
) -> None:
    token = tokens[Role.VIEWER]
    slug = _filter(app, tmp_path)
    sample = make_sample(app, face_photo(1, seed=400), "astronaut.png")
    first = _look(client, token, slug, sample)
    assert len(set(first)) == 2 and _counts(app) == (2, 0)
    # Looked at again while the worker has not started: the same records, nothing more queued.
    assert _look(client, token, slug, sample) == first and _counts(app) == (2, 0)
    assert _run(app) == 2  # each version's map is made once
    # And once the maps are there (another viewer, another day): the same records again.
    other = tokens[Role.ADMIN]
    assert _look(client, other, slug, sample) == first and _counts(app) == (2, 0)
    assert _run(app) == 0
    read = _read(client, token, {"id": first[0]})
    assert [i["state"] for i in read["items"]] == ["done"]
    # Another region is another question: its own records, reused in turn.
    faces = _look(client, token, slug, sample, region="face")
    assert not set(faces) & set(first)
    assert _look(client, token, slug, sample, region="face") == faces
    features = _look(client, token, slug, sample, kind="features", region="image")
    assert _look(client, token, slug, sample, kind="features", region="image") == features
    assert _counts(app) == (6, 0)
    # No activity: the home page's feed does not mention them.
    browser, _csrf = signed_in(Role.VIEWER)
    assert FEED_WORDS not in browser.get("/").text


def test_why_asks_again_after_a_failure_or_a_cancel(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine
) -> None:
    token = tokens[Role.VIEWER]
    slug = _filter(app, tmp_path)
    sample = make_sample(app, face_photo(1, seed=410), "p.png")
    engine.fail = RuntimeError("out of memory")
    failed = _look(client, token, slug, sample)
    _run(app)
    engine.fail = None
    again = _look(client, token, slug, sample)  # a real failure is not a result to keep
    assert not set(again) & set(failed)
    assert _run(app) == 2
    read = _read(client, token, {"id": again[1]})
    assert [i["state"] for i in read["items"]] == ["done"]
    assert _look(client, token, slug, sample) == again  # the retry's maps are kept
    # Cancelled (its maps never made): asked again, it is queued anew.
    cancelled = _look(client, token, slug, sample, region="face")
    for analysis_id in cancelled:
        job = _read(client, token, {"id": analysis_id})["job"]["id"]
        assert client.post(f"/api/v1/jobs/{job}/cancel", headers=bearer(token)).status_code == 200
    fresh = _look(client, token, slug, sample, region="face")
    assert not set(fresh) & set(cancelled) and _run(app) == 2


def test_a_photo_without_a_face_queues_nothing(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine
) -> None:
    token = tokens[Role.VIEWER]
    face_filter = _filter(app, tmp_path, pipeline="face", name="Face toon")
    whole = _filter(app, tmp_path, name="Toon")
    cat = make_sample(app, face_photo(0, seed=420), "cat.png")
    _faces_analysed(app)  # the photo's face analysis: no face (what the viewer shows)
    ids = _look(client, token, face_filter, cat, region="image")
    ids += _look(client, token, whole, cat, region="eyes")
    for analysis_id in ids:  # skipped at once, as the worker would have said
        item = _read(client, token, {"id": analysis_id})["items"][0]
        assert item["state"] == "failed" and item["reason"] == analyses_service.NO_FACE
        assert "no face" in item["error"]
    assert _run(app) == 0 and engine.calls == []  # nothing was queued
    assert _look(client, token, face_filter, cat, region="image") == ids[:2]
    # The whole image of a whole-image filter needs no face: that one is queued.
    anything = _look(client, token, whole, cat, region="image")
    assert _run(app) == 2
    assert _read(client, token, {"id": anything[0]})["items"][0]["state"] == "done"
    with app.state.sessions() as session:
        queued = session.scalars(select(AnalysisItem.state).where(AnalysisItem.attempts > 0))
        assert len(list(queued)) == 2  # only the whole image's items were ever worked on


def test_a_person_started_analysis_still_goes_to_the_feed(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, engine: FakeEngine, signed_in
) -> None:
    token = tokens[Role.VIEWER]
    slug = _filter(app, tmp_path)
    samples = [make_sample(app, face_photo(1, seed=430 + n), f"p{n}.png") for n in range(2)]
    comparison = _comparison(client, token, slug, samples)
    browser, csrf = signed_in(Role.VIEWER)
    looked = _look(client, token, slug, samples[0])
    assert _counts(app) == (2, 0)
    _start_page(browser, csrf, comparison)  # the Analyses form
    by_api = _start(client, token, filter=slug, versions=["a"], samples=samples[:1])
    again = _start(client, token, filter=slug, versions=["a"], samples=samples[:1])
    assert by_api.status_code == again.status_code == 201
    # A person's analysis is a new record each time, each in the feed; Why's are not in it.
    assert by_api.json()["id"] != again.json()["id"] and by_api.json()["id"] not in looked
    assert _counts(app) == (5, 3)
    home = browser.get("/").text
    assert home.count(FEED_WORDS) == 3 and f'href="/analyses/{again.json()["id"]}"' in home
    assert not any(f'href="/analyses/{n}"' in home for n in looked)


def test_why_is_one_sample_at_a_time(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    slug = _filter(app, tmp_path)
    samples = [make_sample(app, face_photo(1, seed=440 + n), f"p{n}.png") for n in range(2)]
    response = _start(client, tokens[Role.VIEWER], filter=slug, samples=samples, why=True)
    assert response.status_code == 422
    assert "one sample at a time" in response.json()["detail"]
    assert _counts(app) == (0, 0)
