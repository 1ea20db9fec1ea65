"""The app's background work starts and stops once, however many lifespans wrap it."""

import threading
from pathlib import Path

from fastapi.testclient import TestClient

from ganstudio.app import create_app
from tests.conftest import make_settings
from tests.waiting import wait_for


def render_workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "render-worker" and t.is_alive()]


def test_a_nested_lifespan_leaves_the_outer_worker_and_its_executors_alone(
    tmp_path: Path,
) -> None:
    app = create_app(make_settings(tmp_path / "data", worker="thread"))
    before = len(render_workers())
    with TestClient(app):
        assert len(render_workers()) == before + 1
        closed = []
        app.state.worker.pool.close = lambda: closed.append(True)  # would stop executors
        with TestClient(app):  # e.g. a script's client around a running server
            assert len(render_workers()) == before + 1  # no second worker on the same pool
        assert closed == [] and len(render_workers()) == before + 1
    assert closed == [True]  # the outermost lifespan closes the executors, once
    wait_for(lambda: len(render_workers()) <= before, "the render worker to stop", seconds=60)
    assert len(render_workers()) == before
