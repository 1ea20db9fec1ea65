"""Web tests expire: their jobs go, then the renders and photos only they used (and the bytes)."""

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ganstudio.app import create_app, run_blob_sweep
from ganstudio.db.base import utcnow
from ganstudio.db.tables import ArenaPair, Filter, Job, Render, User
from ganstudio.roles import Role
from ganstudio.services import retention
from tests import imagegen
from tests.conftest import make_settings
from tests.factories import bearer, make_token, make_user
from tests.web.compare_helpers import make_bench
from tests.web.test_webtest_api import post_webtest


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(make_settings(tmp_path / "data", blob_grace_seconds=0))


def age(app: FastAPI, webtests: list[dict], days: int) -> None:
    """Make web tests look `days` old."""
    with app.state.sessions.begin() as session:
        session.execute(
            update(Job)
            .where(Job.public_id.in_([w["id"] for w in webtests]))
            .values(created_at=utcnow() - timedelta(days=days))
        )


def renders_of(webtest: dict) -> dict[str, int]:
    return {r["label"]: r["render_id"] for r in webtest["renders"]}


def test_expired_web_tests_go_with_what_only_they_use(
    client: TestClient, app: FastAPI, tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path, size=(48, 36))
    ann = make_token(app, name=make_user(app, role=Role.VIEWER, name="ann").name)
    bob = make_token(app, name=make_user(app, role=Role.VIEWER, name="bob").name)
    compared = client.post(
        "/api/v1/comparisons",
        json={"filter": "toon", "versions": ["v1", "v2"], "samples": [bench.samples[0]]},
        headers=bearer(ann),
    )
    assert compared.status_code == 201

    def webtest(token: str, photo: bytes, versions: str) -> dict:
        response = post_webtest(client, token, photo, versions, filter="toon")
        assert response.status_code == 201, response.text
        return response.json()

    sample_a, sample_b = (imagegen.distinct_png(n, size=(48, 36)) for n in (0, 1))
    alone = webtest(ann, imagegen.distinct_png(100), "v1,v2")  # nothing else uses these
    like_comparison = webtest(ann, sample_a, "v1")  # the comparison's very render
    of_a_sample = webtest(ann, sample_b, "v1")  # a render of its own; the photo is a sample
    shared = webtest(ann, imagegen.distinct_png(101), "v1,v2")
    live = webtest(bob, imagegen.distinct_png(101), "v1")  # bob's recent one shares v1
    in_arena = webtest(ann, imagegen.distinct_png(102), "v1")
    app.state.worker.run_until_idle()
    with app.state.sessions.begin() as session:
        session.add(
            ArenaPair(
                token="t" * 32,
                filter_id=session.scalar(select(Filter.id).where(Filter.slug == bench.slug)),
                voter_id=session.scalar(select(User.id).where(User.name == "bob")),
                sample_id=bench.samples[2],
                left_version_id=bench.versions["v1"],
                right_version_id=bench.versions["v2"],
                left_render_id=renders_of(in_arena)["v1"],
                right_render_id=renders_of(like_comparison)["v1"],
            )
        )
    expired = [alone, like_comparison, of_a_sample, shared, in_arena]
    age(app, expired, days=31)
    blobs = app.state.blobs
    with app.state.sessions() as session:
        outputs = {r.id: r.output_sha256 for r in session.scalars(select(Render))}
    assert all(outputs.values())

    report = run_blob_sweep(app)

    assert report.startswith("Web-test expiry deleted 5 web test(s) and 4 render(s).")
    with app.state.sessions() as session:
        left = set(session.scalars(select(Render.id)))
        jobs = set(session.scalars(select(Job.public_id).where(Job.kind == "webtest")))
    assert jobs == {live["id"]}
    gone = {*renders_of(alone).values(), renders_of(of_a_sample)["v1"], renders_of(shared)["v2"]}
    kept = {
        renders_of(like_comparison)["v1"],  # a comparison's cell
        renders_of(shared)["v1"],  # bob's live web test
        renders_of(in_arena)["v1"],  # an arena pair
    }
    assert not gone & left and kept <= left
    still_named = {outputs[render_id] for render_id in left}  # tiny networks repeat outputs
    freed = {outputs[render_id] for render_id in gone} - still_named
    assert freed and not any(blobs.exists(sha256) for sha256 in freed)  # the sweep freed them
    assert all(blobs.exists(sha256) for sha256 in still_named)
    assert not blobs.exists(alone["photo_sha256"])
    assert blobs.exists(of_a_sample["photo_sha256"])  # still a sample
    assert blobs.exists(shared["photo_sha256"]) and blobs.exists(in_arena["photo_sha256"])
    missing = client.get(alone["url"], headers=bearer(ann))
    assert missing.status_code == 404 and "expire" in missing.json()["detail"]
    assert client.get(live["url"], headers=bearer(bob)).status_code == 200


def test_recent_web_tests_and_a_zero_setting_keep_everything(
    client: TestClient, app: FastAPI, tmp_path: Path
) -> None:
    make_bench(app, tmp_path)
    ann = make_token(app, name=make_user(app, role=Role.VIEWER, name="ann").name)
    sent = post_webtest(client, ann, imagegen.distinct_png(7), "v1", filter="toon").json()
    age(app, [sent], days=29)
    with app.state.sessions() as session:
        assert retention.expire_webtests(session, retention_days=30).jobs == 0
        age(app, [sent], days=400)
        assert retention.expire_webtests(session, retention_days=0).jobs == 0
        session.commit()
    assert client.get(sent["url"], headers=bearer(ann)).status_code == 200


def test_expiry_goes_in_batches(client: TestClient, app: FastAPI, tmp_path: Path) -> None:
    make_bench(app, tmp_path)
    ann = make_token(app, name=make_user(app, role=Role.VIEWER, name="ann").name)
    sent = [
        post_webtest(client, ann, imagegen.distinct_png(n), "v1", filter="toon").json()
        for n in range(3)
    ]
    age(app, sent, days=31)
    with app.state.sessions() as session:
        first = retention.expire_webtests(session, retention_days=30, limit=2)
        second = retention.expire_webtests(session, retention_days=30, limit=2)
        session.commit()
    assert (first.jobs, second.jobs, first.renders + second.renders) == (2, 1, 3)


def test_a_web_test_being_rendered_waits_for_the_next_run(
    client: TestClient, app: FastAPI, tmp_path: Path
) -> None:
    make_bench(app, tmp_path)
    ann = make_token(app, name=make_user(app, role=Role.VIEWER, name="ann").name)
    sent = post_webtest(client, ann, imagegen.distinct_png(3), "v1", filter="toon").json()
    age(app, [sent], days=31)
    render_id = app.state.worker.claim_next()  # a worker is on it
    with app.state.sessions() as session:
        assert retention.expire_webtests(session, retention_days=30).jobs == 0
    app.state.worker.run_one(render_id)
    with app.state.sessions() as session:
        assert retention.expire_webtests(session, retention_days=30) == (
            retention.ExpiryReport(jobs=1, renders=1)
        )
