"""Renders when the blob store fails: an unreachable store queues the render again (not failed,
not lost), and a render whose stored output was damaged is made again instead of served."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ganstudio.db.tables import Render
from ganstudio.roles import Role
from ganstudio.storage.blobs import BlobStoreUnavailableError
from ganstudio.vocabulary import RenderState
from tests import checkpoints as ck
from tests import imagegen
from tests.factories import bearer, make_filter, make_sample, make_version
from tests.inference.test_renders import compare
from tests.s3 import damage_blob


def one_render(app: FastAPI, client: TestClient, token: str, tmp_path: Path) -> dict[str, Any]:
    slug = make_filter(app)
    for seed, label in enumerate(("v1", "v2")):
        checkpoint = ck.safetensors_file(tmp_path / label, seed=seed)
        make_version(app, filter_slug=slug, label=label, checkpoint=checkpoint)
    sample = make_sample(app, imagegen.distinct_png(1, size=(40, 30)), "s.png")
    return compare(client, token, slug, ["v1", "v2"], [sample])  # two renders


def renders(app: FastAPI) -> list[Render]:
    with app.state.sessions() as session:
        return list(session.scalars(select(Render)))


def fail_once(monkeypatch: pytest.MonkeyPatch, target: object, name: str) -> list[str]:
    """Make `target.name` raise BlobStoreUnavailableError on its first call only."""
    real: Callable[..., Any] = getattr(target, name)
    calls: list[str] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        if len(calls) == 1:
            raise BlobStoreUnavailableError("The blob store cannot be used right now (test)")
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, flaky)
    return calls


@pytest.mark.parametrize("failing", ["read_bytes", "put_bytes"])
def test_a_render_the_store_failed_is_queued_again_and_then_done(
    client: TestClient,
    app: FastAPI,
    tokens: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    token = tokens[Role.VIEWER]
    one_render(app, client, token, tmp_path)
    worker = app.state.worker
    calls = fail_once(monkeypatch, worker.blobs, failing)  # reading the input / the output
    assert worker.run_until_idle() == 1  # one done; the other went back to the queue
    assert calls
    states = {render.state for render in renders(app)}
    assert states == {RenderState.DONE, RenderState.QUEUED}  # none failed, none lost
    (queued,) = [render for render in renders(app) if render.state == RenderState.QUEUED]
    assert queued.error == "" and queued.worker_id is None and queued.finished_at is None
    assert worker.run_until_idle() == 1  # the store answers again: done, once
    assert all(render.state == RenderState.DONE and render.output_sha256 for render in renders(app))


def test_a_damaged_render_output_is_rendered_again_not_served(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    token = tokens[Role.VIEWER]
    created = one_render(app, client, token, tmp_path)
    worker = app.state.worker
    assert worker.run_until_idle() == 2
    grid = client.get(f"/api/v1/comparisons/{created['slug']}", headers=bearer(token)).json()
    url = grid["cells"][0]["render_url"]
    good = client.get(url, headers=bearer(token)).content
    damaged = url.rsplit("/", 1)[-1]
    damage_blob(app.state.blobs, damaged)

    refused = client.get(url, headers=bearer(token))
    assert refused.status_code == 503
    assert "rendered again" in refused.json()["detail"]
    queued = [render for render in renders(app) if render.state == RenderState.QUEUED]
    assert len(queued) == 1 and queued[0].output_sha256 is None
    assert worker.run_until_idle() == 1
    grid = client.get(f"/api/v1/comparisons/{created['slug']}", headers=bearer(token)).json()
    again = client.get(grid["cells"][0]["render_url"], headers=bearer(token))
    assert again.status_code == 200 and again.content == good
