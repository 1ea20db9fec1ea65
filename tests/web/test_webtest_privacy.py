"""Web tests are private to their owner (and developers up), and each user's use is bounded."""

import threading
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ganstudio.app import create_app
from ganstudio.db.tables import Job, Sample
from ganstudio.roles import Role
from tests import imagegen
from tests.conftest import make_settings
from tests.factories import bearer, make_token, make_user
from tests.web.compare_helpers import make_bench
from tests.web.test_webtest_api import post_webtest


def count(app: FastAPI, table: type) -> int:
    with app.state.sessions() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_only_the_owner_and_developers_up_may_read_or_save_a_web_test(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    make_bench(app, tmp_path)
    other_viewer = make_token(app, name=make_user(app, name="other-viewer").name)
    started = post_webtest(
        client, tokens[Role.VIEWER], imagegen.distinct_png(5), "v1", filter="toon"
    )
    assert started.status_code == 201, started.text
    webtest = started.json()
    job_id = webtest["job"]["id"]
    reads = {
        "web test": f"/api/v1/webtest/{webtest['id']}",
        "job": f"/api/v1/jobs/{job_id}",
    }
    missing = client.get("/api/v1/webtest/no-such-id", headers=bearer(other_viewer)).json()

    # Another viewer and QA: exactly as if it did not exist (404, not 403).
    for token in (other_viewer, tokens[Role.QA]):
        for what, url in reads.items():
            response = client.get(url, headers=bearer(token))
            assert response.status_code == 404, (what, response.text)
        refused = client.get(reads["web test"], headers=bearer(token)).json()
        assert refused["detail"].replace(webtest["id"], "no-such-id") == missing["detail"]
        cancel = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=bearer(token))
        assert cancel.status_code == 404
    samples_before = count(app, Sample)
    save = client.post(
        f"/api/v1/webtest/{webtest['id']}/save",
        json={"set": "Stolen"},
        headers=bearer(tokens[Role.QA]),
    )
    assert save.status_code == 404 and count(app, Sample) == samples_before

    # The owner, developers and admins see it; a developer may save it.
    for role in (Role.VIEWER, Role.DEVELOPER, Role.ADMIN):
        for what, url in reads.items():
            response = client.get(url, headers=bearer(tokens[role]))
            assert response.status_code == 200, (role, what, response.text)
    saved = client.post(
        f"/api/v1/webtest/{webtest['id']}/save",
        json={"set": "Faces"},
        headers=bearer(tokens[Role.DEVELOPER]),
    )
    assert saved.status_code == 200 and count(app, Sample) == samples_before + 1


def test_web_test_ids_are_random_not_sequential(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    make_bench(app, tmp_path)
    token = tokens[Role.VIEWER]
    first, second = (
        post_webtest(client, token, imagegen.distinct_png(n), "v1", filter="toon").json()
        for n in (1, 2)
    )
    for webtest in (first, second):
        assert len(webtest["id"]) >= 20 and not webtest["id"].isdigit()
        assert webtest["url"] == f"/api/v1/webtest/{webtest['id']}"
    assert first["id"] != second["id"]
    by_number = client.get(f"/api/v1/webtest/{first['job']['id']}", headers=bearer(token))
    assert by_number.status_code == 404  # the sequential job id is no address of a web test
    too_long = client.get("/api/v1/webtest/" + "x" * 65, headers=bearer(token))
    assert too_long.status_code == 422


@pytest.fixture
def strict_app(tmp_path: Path) -> FastAPI:
    return create_app(
        make_settings(tmp_path / "data", webtest_per_minute=3, webtest_max_queued_renders=8)
    )


def test_each_user_may_start_a_few_web_tests_a_minute(strict_app: FastAPI, tmp_path: Path) -> None:
    app = strict_app
    make_bench(app, tmp_path)
    ann = make_token(app, name=make_user(app, name="ann").name)
    bob = make_token(app, name=make_user(app, name="bob").name)
    with TestClient(app) as client:
        for n in range(3):
            sent = post_webtest(client, ann, imagegen.distinct_png(n), "v1", filter="toon")
            assert sent.status_code == 201, sent.text
        app.state.worker.run_until_idle()  # the queue is empty: only the rate refuses
        refused = post_webtest(client, ann, imagegen.distinct_png(9), "v1", filter="toon")
        assert refused.status_code == 429
        wait = int(refused.headers["Retry-After"])
        assert 1 <= wait <= 60
        assert refused.json()["detail"] == (
            "You have started 3 web tests in the last minute, and the limit is 3 a minute. "
            f"Try again in {wait} s."
        )
        assert count(app, Job) == 3  # nothing queued for it
        other = post_webtest(client, bob, imagegen.distinct_png(9), "v1", filter="toon")
        assert other.status_code == 201  # per user


def test_parallel_web_tests_cannot_slip_past_the_rate_limit(
    strict_app: FastAPI, tmp_path: Path
) -> None:
    app = strict_app
    make_bench(app, tmp_path)
    ann = make_token(app, name=make_user(app, name="ann").name)
    statuses: list[int] = []
    with TestClient(app) as client:

        def send(n: int) -> None:
            response = post_webtest(client, ann, imagegen.distinct_png(n), "v1", filter="toon")
            statuses.append(response.status_code)

        threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [201] * 3 + [429] * 5
    assert count(app, Job) == 3


def test_one_user_may_have_only_so_many_web_test_renders_waiting(
    strict_app: FastAPI, tmp_path: Path
) -> None:
    app = strict_app
    make_bench(app, tmp_path, labels=("v1", "v2", "v3"))
    ann = make_token(app, name=make_user(app, name="ann").name)
    with TestClient(app) as client:
        for n in range(2):  # 6 renders waiting
            sent = post_webtest(client, ann, imagegen.distinct_png(n), "v1,v2,v3", filter="toon")
            assert sent.status_code == 201
        full = post_webtest(client, ann, imagegen.distinct_png(7), "v1,v2,v3", filter="toon")
        assert full.status_code == 429 and full.headers["Retry-After"] == "15"
        assert full.json()["detail"] == (
            "Your web tests have 6 renders waiting, and at most 8 may wait. "
            "Try again in 15 s, when some have finished."
        )
        app.state.worker.run_until_idle()
        again = post_webtest(client, ann, imagegen.distinct_png(7), "v1,v2,v3", filter="toon")
        assert again.status_code == 201, again.text


def test_the_web_test_page_says_web_tests_are_private_and_uses_their_ids(
    app: FastAPI, signed_in, tmp_path: Path
) -> None:
    make_bench(app, tmp_path)
    viewer, _ = signed_in(Role.VIEWER)
    page = viewer.get("/webtest").text
    assert "only you (and developers) can open them" in page
    assert "deleted after 30 days" in page and "Up to 30 photos a minute" in page
    script = viewer.get("/static/js/webtest.js").text
    assert "photo.result.id" in script and "photo.result.job.id" not in script
    assert "Retry-After" in script
