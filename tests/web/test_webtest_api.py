"""Web test API: one photo through a few versions; bad input is refused; saving needs QA."""

import io
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from ganstudio.db.tables import Job, Sample
from ganstudio.roles import Role
from tests import imagegen
from tests.factories import bearer
from tests.web.compare_helpers import make_bench


def post_webtest(
    client: TestClient, token: str, data: bytes, versions: str | list[str], **form: str
):
    return client.post(
        "/api/v1/webtest",
        files={"image": ("selfie.png", data, "image/png")},
        data={"versions": versions, **form},
        headers=bearer(token),
    )


def sample_count(app: FastAPI) -> int:
    with app.state.sessions() as session:
        return session.scalar(select(func.count()).select_from(Sample)) or 0


def test_a_photo_is_rendered_by_each_version_and_kept_out_of_the_library(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path, labels=("v1", "v2", "v3"))
    before = sample_count(app)
    photo = imagegen.distinct_png(42, size=(90, 60))
    token = tokens[Role.VIEWER]
    response = post_webtest(client, token, photo, "v3,v1", filter="toon")
    assert response.status_code == 201, response.text
    started = response.json()
    assert started["job"]["kind"] == "webtest" and started["job"]["status"] == "queued"
    assert [r["label"] for r in started["renders"]] == ["v1", "v3"]  # oldest first
    assert {r["state"] for r in started["renders"]} == {"queued"}
    assert started["filename"] == "selfie.png" and started["filter"] == "toon"

    assert app.state.worker.run_until_idle() == 2
    result = client.get(started["url"], headers=bearer(token)).json()
    assert result["job"]["status"] == "done" and result["job"]["done"] == 2
    for render in result["renders"]:
        assert render["state"] == "done" and render["error"] is None
        image = client.get(render["render_url"], headers=bearer(token))
        assert Image.open(io.BytesIO(image.content)).size == (64, 43)  # fitted to input 64
    assert client.get(result["photo_url"], headers=bearer(token)).content == photo
    assert sample_count(app) == before  # not a sample
    job = client.get(f"/api/v1/jobs/{started['job']['id']}", headers=bearer(token)).json()
    assert job["status"] == "done"

    by_id = post_webtest(client, token, photo, [str(bench.versions["v2"])])
    assert by_id.status_code == 201 and [r["label"] for r in by_id.json()["renders"]] == ["v2"]
    defaults = post_webtest(client, token, photo, [], filter="toon")
    # The one default rule: newest of each branch (main: v3), topped up to two with the newest.
    assert [r["label"] for r in defaults.json()["renders"]] == ["v2", "v3"]  # oldest first
    states = {r["label"]: r["state"] for r in defaults.json()["renders"]}
    assert states["v3"] == "done"  # same photo and version: rendered once, ever


def test_bad_input_is_refused_with_the_reason(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    make_bench(app, tmp_path)
    token = tokens[Role.VIEWER]
    photo = imagegen.distinct_png(1)
    cases = [
        (
            post_webtest(client, token, b"%PDF-1.4 not an image", "v1", filter="toon"),
            422,
            "is not an image GAN Studio can read",
        ),
        (
            post_webtest(client, token, imagegen.truncated_jpeg(), "v1", filter="toon"),
            422,
            "truncated",
        ),
        (
            post_webtest(client, token, imagegen.huge_declared_png(), "v1", filter="toon"),
            422,
            "decompression",
        ),
        (post_webtest(client, token, b"", "v1", filter="toon"), 422, "is empty"),
        (post_webtest(client, token, photo, "v9", filter="toon"), 422, "'v9' is not a version"),
        (post_webtest(client, token, photo, "v1"), 422, "'v1' is not a version id"),
        (post_webtest(client, token, photo, "99999"), 422, "'99999' is not a version id"),
        (post_webtest(client, token, photo, "v1", filter="nope"), 404, "No filter"),
        (post_webtest(client, token, photo, [], filter=""), 422, "Choose versions"),
        (client.get("/api/v1/webtest/99999", headers=bearer(token)), 404, "No web test"),
    ]
    for response, status, reason in cases:
        assert response.status_code == status, response.text
        assert reason in response.json()["detail"], response.json()
    with app.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0  # nothing queued


def test_more_than_eight_versions_are_refused(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    labels = tuple(f"v{n}" for n in range(1, 10))
    make_bench(app, tmp_path, labels=labels, filenames=("a.png",))
    response = post_webtest(
        client, tokens[Role.VIEWER], imagegen.distinct_png(3), ",".join(labels), filter="toon"
    )
    assert response.status_code == 422
    assert "1 to 8 versions; 9 were given" in response.json()["detail"]


def test_only_qa_may_save_the_photo_to_a_set(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    make_bench(app, tmp_path)
    photo = imagegen.distinct_png(77)
    started = post_webtest(client, tokens[Role.QA], photo, "v1,v2", filter="toon").json()
    save = f"/api/v1/webtest/{started['id']}/save"
    refused = client.post(save, json={"set": "Faces"}, headers=bearer(tokens[Role.VIEWER]))
    assert refused.status_code == 403 and "needs the 'qa' role" in refused.json()["detail"]
    before = sample_count(app)

    saved = client.post(save, json={"set": "Faces"}, headers=bearer(tokens[Role.QA]))
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["created"] and body["set_name"] == "Faces" and body["filename"] == "selfie.png"
    assert sample_count(app) == before + 1
    members = client.get("/api/v1/samples?set=Faces", headers=bearer(tokens[Role.QA])).json()
    assert body["sample_id"] in [s["id"] for s in members["items"]]
    again = client.post(save, json={"set": "New set"}, headers=bearer(tokens[Role.QA])).json()
    assert not again["created"] and again["sample_id"] == body["sample_id"]
    assert again["set_name"] == "New set"


def test_web_test_page_offers_saving_to_qa_only(app: FastAPI, signed_in, tmp_path: Path) -> None:
    make_bench(app, tmp_path, labels=("v1", "v2"))
    viewer, _ = signed_in(Role.VIEWER)
    page = viewer.get("/webtest").text
    assert 'data-testid="webtest-dropzone"' in page and "data-save-form" not in page
    assert page.count('name="versions"') == 2 and page.count("checked>") == 2  # topped up to two
    qa, _ = signed_in(Role.QA)
    assert "data-save-form" in qa.get("/webtest").text


def test_a_web_tests_status_comes_from_the_same_rows_as_its_renders(
    client: TestClient, app: FastAPI, tokens: dict, role_users: dict, tmp_path: Path
) -> None:
    """A render finishing between the two reads of a web test (its renders, then its status)
    must not make it say "done" beside a render still running, with no render_url."""
    from sqlalchemy import update

    from ganstudio.db.tables import Render, User
    from ganstudio.services import webtests as webtests_service
    from ganstudio.vocabulary import RenderState
    from ganstudio.web.schemas.webtests import webtest_public

    make_bench(app, tmp_path, labels=("v1",))
    started = post_webtest(
        client, tokens[Role.VIEWER], imagegen.distinct_png(7), "v1", filter="toon"
    ).json()
    render_id = started["renders"][0]["render_id"]
    with app.state.sessions() as reader:
        owner = reader.scalar(select(User).where(User.name == role_users[Role.VIEWER]))
        assert owner is not None
        webtest = webtests_service.get_webtest(reader, public_id=started["id"], reader=owner)
        # Meanwhile a worker finishes the render (another session, committed).
        with app.state.sessions.begin() as worker:
            worker.execute(
                update(Render)
                .where(Render.id == render_id)
                .values(state=RenderState.DONE, output_sha256="0" * 64, thumb_sha256="0" * 64)
            )
        shown = webtest_public(webtest, webtests_service.progress(webtest))
    assert shown.renders[0].state == RenderState.QUEUED and shown.renders[0].render_url is None
    assert shown.job.status == "queued"  # as the render it shows, not "done"


def test_a_long_poll_answers_when_a_render_changes_not_after_a_fixed_sleep(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    import threading

    make_bench(app, tmp_path, labels=("v1",))
    token = tokens[Role.VIEWER]
    started = post_webtest(client, token, imagegen.distinct_png(8), "v1", filter="toon").json()
    first = client.get(started["url"], headers=bearer(token)).json()
    assert first["revision"] == started["revision"]  # nothing changed: the same revision
    # Nothing changes during a short wait: the same answer comes back when it ends.
    unchanged = client.get(
        started["url"], params={"wait": 0.3, "after": first["revision"]}, headers=bearer(token)
    ).json()
    assert unchanged["revision"] == first["revision"] and unchanged["job"]["status"] == "queued"
    # While a request waits (up to 30 s), the worker renders: the answer is the new state.
    answers: list[dict] = []
    waiting = threading.Thread(
        target=lambda: answers.append(
            client.get(
                started["url"],
                params={"wait": 30, "after": first["revision"]},
                headers=bearer(token),
            ).json()
        )
    )
    waiting.start()
    assert app.state.worker.run_until_idle() == 1
    waiting.join(60)
    assert answers, "the long-poll did not answer"
    assert answers[0]["revision"] != first["revision"]
    assert answers[0]["renders"][0]["state"] in ("running", "done")
    done = client.get(
        started["url"], params={"wait": 30, "after": answers[0]["revision"]}, headers=bearer(token)
    ).json()
    assert done["job"]["status"] == "done" and done["renders"][0]["render_url"]
    too_long = client.get(started["url"], params={"wait": 31}, headers=bearer(token))
    assert too_long.status_code == 422


def test_this_servers_worker_wakes_a_waiting_long_poll_the_moment_it_records(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path, monkeypatch
) -> None:
    import threading

    from ganstudio.web.routes import api_webtest

    # A server with its own worker thread looks again only when woken (or after this very long
    # fallback): an answer well inside the wait can only come from the worker's signal.
    monkeypatch.setattr(app.state.settings, "worker", "thread")
    monkeypatch.setattr(api_webtest, "LOOK_EVERY_WITH_LOCAL_WORKER_SECONDS", 1000)
    make_bench(app, tmp_path, labels=("v1",))
    token = tokens[Role.VIEWER]
    started = post_webtest(client, token, imagegen.distinct_png(9), "v1", filter="toon").json()
    answers: list[dict] = []
    waiting = threading.Thread(
        target=lambda: answers.append(
            client.get(
                started["url"],
                params={"wait": 30, "after": started["revision"]},
                headers=bearer(token),
            ).json()
        )
    )
    waiting.start()
    assert app.state.worker.run_until_idle() == 1
    waiting.join(20)  # a liveness bound, 10 s short of the wait: not a timing claim
    assert not waiting.is_alive(), "the worker's record did not wake the long-poll"
    assert answers[0]["revision"] != started["revision"]


def test_changes_wake_waiters_and_never_miss_a_notification_between_look_and_wait() -> None:
    import asyncio

    from ganstudio.inference.changes import Changes

    changes = Changes()

    async def scenario() -> tuple[bool, bool, bool]:
        seen = changes.count
        changes.notify()  # recorded after the look, before the wait began
        missed = await changes.wait(seen, 5)
        quiet = await changes.wait(changes.count, 0.01)
        seen = changes.count
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, lambda: threading_notify())
        woken = await changes.wait(seen, 30)
        return missed, quiet, woken

    def threading_notify() -> None:
        import threading

        threading.Thread(target=changes.notify).start()  # as the worker thread does

    assert asyncio.run(scenario()) == (True, False, True)
