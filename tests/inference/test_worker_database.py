"""A serving worker outlives its database: a PostgreSQL restart or outage costs no render."""

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ganstudio.app import create_app
from ganstudio.db.tables import Render
from ganstudio.inference.runner import RenderWorker
from ganstudio.roles import Role
from ganstudio.vocabulary import RenderState
from tests import checkpoints as ck
from tests import imagegen
from tests.conftest import make_settings
from tests.factories import bearer, make_filter, make_sample, make_token, make_user, make_version
from tests.postgres import PostgresCluster
from tests.waiting import wait_for

pytestmark = pytest.mark.postgresql_only("restarts and stops a PostgreSQL server")


@pytest.fixture
def own_cluster(postgres_cluster: PostgresCluster) -> Iterator[PostgresCluster]:
    """A cluster of this test alone (the session's `postgres_cluster` must not restart)."""
    cluster = PostgresCluster.start()
    yield cluster
    cluster.stop()


def states(app: FastAPI) -> dict[str, int]:
    with app.state.sessions() as session:
        rows = session.execute(select(Render.state, func.count()).group_by(Render.state)).all()
    return {RenderState(state).value: count for state, count in rows}


def test_a_serving_worker_survives_a_database_restart_and_an_outage(
    own_cluster: PostgresCluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path / "data", database_url=own_cluster.create_database())
    app = create_app(settings)
    slug = make_filter(app, input_size=64)
    for n in (1, 2):
        make_version(
            app,
            filter_slug=slug,
            label=f"v{n}",
            checkpoint=ck.safetensors_file(tmp_path / f"v{n}.st", seed=n, base_width=8, depth=2),
        )
    samples = [
        make_sample(app, imagegen.distinct_png(n, size=(64, 64)), f"{n}.png") for n in range(8)
    ]
    token = make_token(app, name=make_user(app, role=Role.VIEWER, name="vera").name)
    client = TestClient(app)

    def compare(sample_ids: list[int]) -> None:
        response = client.post(
            "/api/v1/comparisons",
            json={"filter": slug, "versions": ["v1", "v2"], "samples": sample_ids},
            headers=bearer(token),
        )
        assert response.status_code == 201, response.text

    worker = RenderWorker(sessions=app.state.sessions, blobs=app.state.blobs, settings=settings)
    stop = threading.Event()
    thread = threading.Thread(target=worker.serve, args=(stop,), kwargs={"poll_seconds": 0.2})
    thread.start()
    try:
        compare(samples[:4])
        wait_for(lambda: states(app).get("done", 0) >= 1, "the first render")
        own_cluster.restart()  # every connection is cut, maybe mid-render
        wait_for(lambda: states(app) == {"done": 8}, "the first comparison after the restart")

        caplog.set_level(logging.WARNING, logger="ganstudio.inference.runner")
        own_cluster.stop_server()
        wait_for(
            lambda: any("lost the database" in r.getMessage() for r in caplog.records),
            "the worker to notice the outage",
        )
        assert thread.is_alive()
        own_cluster.start_server()
        compare(samples[4:])
        wait_for(lambda: states(app) == {"done": 16}, "renders queued after the outage")
        assert thread.is_alive()
    finally:
        stop.set()
        worker.wake.set()
        thread.join(timeout=60)
        worker.pool.close()
        client.close()
        app.state.runtime.close()
    assert not thread.is_alive()
