"""Workers on other machines are woken the moment a web process queues work (PostgreSQL's
LISTEN/NOTIFY), instead of at their next look at the queue."""

import threading
import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from ganstudio.db.tables import Render
from ganstudio.inference.runner import RenderWorker
from ganstudio.inference.wakeups import CHANNEL
from ganstudio.roles import Role
from ganstudio.vocabulary import RenderState
from tests import checkpoints as ck
from tests import imagegen
from tests.factories import bearer, make_filter, make_sample, make_version
from tests.waiting import wait_for

pytestmark = pytest.mark.postgresql_only("PostgreSQL's LISTEN/NOTIFY")


class CountedEvent(threading.Event):
    """The worker's wake-up event, counting how often the worker went to sleep on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        return super().wait(timeout)


def test_a_worker_elsewhere_is_woken_the_moment_work_is_queued(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    slug = make_filter(app, input_size=64)
    for n in (1, 2):
        checkpoint = ck.safetensors_file(tmp_path / f"v{n}.st", seed=n, base_width=8, depth=2)
        make_version(app, filter_slug=slug, label=f"v{n}", checkpoint=checkpoint)
    samples = [make_sample(app, imagegen.distinct_png(n), f"{n}.png") for n in range(2)]
    # Another worker than the app's own (as on a GPU box), which would look at the queue only
    # every 1,000 s: within this test only a notification can wake it.
    elsewhere = RenderWorker(
        sessions=app.state.sessions, blobs=app.state.blobs, settings=app.state.settings
    )
    elsewhere.wake = wake = CountedEvent()
    stop = threading.Event()
    serving = threading.Thread(target=elsewhere.serve, args=(stop,), kwargs={"poll_seconds": 1000})
    serving.start()
    try:

        def listening() -> bool:
            with app.state.engine.connect() as connection:
                return bool(
                    connection.scalar(
                        text("SELECT count(*) FROM pg_stat_activity WHERE query = :listen"),
                        {"listen": f"LISTEN {CHANNEL}"},
                    )
                )

        # Listening, and asleep after its looks at the (empty) queue: at start, and once more
        # when the listener connected (it wakes the worker then, for work queued meanwhile).
        wait_for(lambda: listening() and wake.waits >= 2, "the worker to listen and sleep")
        time.sleep(1.0)
        queued = client.post(
            "/api/v1/comparisons",
            json={"filter": slug, "versions": ["v1", "v2"], "samples": samples},
            headers=bearer(tokens[Role.VIEWER]),
        )
        assert queued.status_code == 201, queued.text

        def rendered() -> bool:
            with app.state.sessions() as session:
                states = set(session.scalars(select(Render.state)))
            return states == {RenderState.DONE}

        wait_for(rendered, "the woken worker to render the comparison", seconds=60)
        assert elsewhere.renders_run == 4
    finally:
        stop.set()
        elsewhere.wake.set()
        serving.join(timeout=60)
    assert not serving.is_alive()
