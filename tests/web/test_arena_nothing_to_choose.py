"""The arena serves no pair with nothing to choose between its sides, and refuses a vote on one.

A face filter's render of a photo where no face was found is the photo, unchanged ("no face
found"): two of them side by side are the same picture, and a vote between them is noise in the
ranking. The same goes for any two renders whose outputs are the same bytes.
"""

import io
import secrets
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data
from sqlalchemy import select

from ganstudio.db.base import utcnow
from ganstudio.db.tables import ArenaPair, Render, Sample, User, Version
from ganstudio.inference.render_spec import NO_FACE
from ganstudio.roles import Role
from ganstudio.services.arena import NOTHING_TO_CHOOSE, SKIP_IDENTICAL, SKIP_NO_FACE
from ganstudio.vocabulary import VoteOutcome
from tests import checkpoints as ck
from tests import imagegen
from tests.factories import bearer, make_filter, make_sample, make_version


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def face_arena(client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path) -> dict:
    """A face filter, versions a and b, rendered on a photo with a face and one without."""
    slug = make_filter(app, input_size=128, pipeline="face")
    for seed, label in ((1, "a"), (2, "b")):
        checkpoint = ck.safetensors_file(tmp_path / f"{label}.st", seed=seed)
        make_version(app, filter_slug=slug, label=label, checkpoint=checkpoint)
    photo = Image.new("RGB", (900, 760), (70, 120, 60))
    photo.paste(Image.fromarray(data.astronaut()), (300, 180))
    face = make_sample(app, _png(photo), "astronaut.png")
    sky = np.linspace(0, 255, 200 * 160 * 3).reshape(160, 200, 3).astype(np.uint8)
    faceless = make_sample(app, _png(Image.fromarray(sky)), "sky.png")
    created = client.post(
        "/api/v1/comparisons",
        headers=bearer(tokens[Role.VIEWER]),
        json={"filter": slug, "versions": ["a", "b"], "samples": [face, faceless]},
    )
    assert created.status_code == 201, created.text
    app.state.worker.run_until_idle()
    with app.state.sessions() as session:
        notes = {
            (r.input_sha256, r.note)
            for r in session.scalars(select(Render).where(Render.state == "done"))
        }
        shas = {s.id: s.sha256 for s in session.scalars(select(Sample))}
    # The premise: both versions rendered both photos; only the sky's renders found no face.
    assert notes == {(shas[face], None), (shas[faceless], NO_FACE)}
    return {"slug": slug, "face": face, "faceless": faceless}


def _serve_by_hand(app: FastAPI, *, voter: str, sample_id: int) -> str:
    """Serve `voter` the pair of the first two renders of `sample_id`, as an old page (or a
    script) may hold one: a pair the arena would no longer offer. Return its pair_id."""
    with app.state.sessions() as session:
        sample = session.get(Sample, sample_id)
        renders = session.scalars(
            select(Render).where(Render.input_sha256 == sample.sha256).order_by(Render.id)
        ).all()
        left, right = renders[:2]
        user = session.scalar(select(User).where(User.name == voter))
        filter_id = session.get(Version, left.version_id).filter_id
        token = secrets.token_urlsafe(16)
        session.add(
            ArenaPair(
                token=token,
                filter_id=filter_id,
                voter_id=user.id,
                sample_id=sample_id,
                left_version_id=left.version_id,
                right_version_id=right.version_id,
                left_render_id=left.id,
                right_render_id=right.id,
            )
        )
        session.commit()
    return token


def test_a_face_filters_arena_serves_only_the_sample_with_a_face(
    client: TestClient, app: FastAPI, tokens: dict, face_arena: dict
) -> None:
    viewer = bearer(tokens[Role.VIEWER])
    url = f"/api/v1/filters/{face_arena['slug']}/arena/next"
    # Asked again and again without voting, it never offers the photo without a face.
    served = [client.get(url, headers=viewer).json() for _ in range(6)]
    assert {pair["sample_id"] for pair in served} == {face_arena["face"]}
    voted = client.post(
        "/api/v1/arena/votes",
        headers=viewer,
        json={"pair_id": served[0]["pair_id"], "outcome": "left"},
    )
    assert voted.status_code == 201, voted.text
    # That was the only pair with something to choose: the empty state says why no more are left.
    done = client.get(url, headers=viewer).json()
    assert done["pair_id"] is None
    assert done["skipped_no_face"] == 1 and done["skipped_identical"] == 0
    assert "1 pair because no face was found in the sample" in done["message"]
    assert "add samples with faces" in done["message"]


def test_a_vote_on_a_pair_without_a_face_is_refused_and_not_counted(
    client: TestClient, app: FastAPI, tokens: dict, role_users: dict, face_arena: dict
) -> None:
    viewer = bearer(tokens[Role.VIEWER])
    pair_id = _serve_by_hand(app, voter=role_users[Role.VIEWER], sample_id=face_arena["faceless"])
    refused = client.post(
        "/api/v1/arena/votes", headers=viewer, json={"pair_id": pair_id, "outcome": "right"}
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == NOTHING_TO_CHOOSE[SKIP_NO_FACE]
    assert "Both sides are the unchanged photo (no face found" in refused.json()["detail"]
    assert refused.json()["detail"].endswith("Take the next pair.")
    with app.state.sessions() as session:
        pair = session.scalar(select(ArenaPair).where(ArenaPair.token == pair_id))
        assert pair.voted_at is None and pair.outcome is None
    board = client.get(f"/api/v1/filters/{face_arena['slug']}/leaderboard", headers=viewer)
    assert board.json()["total_votes"] == 0


def test_a_vote_cast_on_a_pair_without_a_face_before_the_rule_does_not_count(
    client: TestClient, app: FastAPI, tokens: dict, role_users: dict, face_arena: dict
) -> None:
    """Votes from before the arena refused such pairs stay stored, but rank nothing."""
    viewer = bearer(tokens[Role.VIEWER])
    board_url = f"/api/v1/filters/{face_arena['slug']}/leaderboard"
    for sample in ("faceless", "face"):
        pair_id = _serve_by_hand(app, voter=role_users[Role.VIEWER], sample_id=face_arena[sample])
        with app.state.sessions.begin() as session:  # recorded as the old arena did
            pair = session.scalar(select(ArenaPair).where(ArenaPair.token == pair_id))
            pair.outcome, pair.voted_at = VoteOutcome.LEFT, utcnow()
    assert client.get(board_url, headers=viewer).json()["total_votes"] == 1  # the face's only


@pytest.fixture
def twin_arena(client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path) -> dict:
    """A full-image filter: twins a and b paint the same colour (checkpoints differ by less than
    a pixel level), c paints another; all three rendered on one sample."""
    slug = make_filter(app, input_size=64)
    colours = {"a": (1.0, -1.0, -1.0), "b": (1.0, -1.0, -0.999), "c": (-1.0, 1.0, -1.0)}
    versions = {}
    for label, rgb in colours.items():
        checkpoint = ck.torchscript_file(tmp_path / f"{label}.pt", ck.Solid(rgb))
        versions[label] = make_version(app, filter_slug=slug, label=label, checkpoint=checkpoint)
    sample = make_sample(app, imagegen.distinct_png(0, size=(48, 36)), "one.png")
    created = client.post(
        "/api/v1/comparisons",
        headers=bearer(tokens[Role.VIEWER]),
        json={"filter": slug, "versions": list(colours), "samples": [sample]},
    )
    assert created.status_code == 201, created.text
    app.state.worker.run_until_idle()
    with app.state.sessions() as session:
        outputs = {
            r.version_id: (r.render_key, r.output_sha256)
            for r in session.scalars(select(Render).where(Render.state == "done"))
        }
    # The premise: three renders (three keys), and only the twins' outputs are the same bytes.
    assert len({key for key, _ in outputs.values()}) == 3
    twins = {outputs[versions["a"]][1], outputs[versions["b"]][1]}
    assert len(twins) == 1 and outputs[versions["c"]][1] not in twins
    return {"slug": slug, "versions": versions, "sample": sample}


def test_identical_outputs_are_never_served_and_a_vote_on_them_is_refused(
    client: TestClient, app: FastAPI, tokens: dict, role_users: dict, twin_arena: dict
) -> None:
    viewer = bearer(tokens[Role.VIEWER])
    url = f"/api/v1/filters/{twin_arena['slug']}/arena/next"
    twins = {twin_arena["versions"]["a"], twin_arena["versions"]["b"]}
    seen = []
    for _ in range(4):  # 3 version pairs on one sample: at most 2 can be served
        pair = client.get(url, headers=viewer).json()
        if pair["pair_id"] is None:
            break
        voted = client.post(
            "/api/v1/arena/votes",
            headers=viewer,
            json={"pair_id": pair["pair_id"], "outcome": "tie"},
        ).json()
        seen.append({voted["left"]["version_id"], voted["right"]["version_id"]})
    assert len(seen) == 2 and twins not in seen
    assert pair["pair_id"] is None
    assert pair["skipped_identical"] == 1 and pair["skipped_no_face"] == 0
    assert "1 pair because both renders are identical" in pair["message"]
    assert "faces" not in pair["message"]  # not a face filter: no advice about faces

    # A second voter holding a pair of the twins (an old page, a script) cannot vote on it.
    pair_id = _serve_by_hand(app, voter=role_users[Role.QA], sample_id=twin_arena["sample"])
    with app.state.sessions() as session:
        held = session.scalar(select(ArenaPair).where(ArenaPair.token == pair_id))
        assert {held.left_version_id, held.right_version_id} == twins  # the first two renders
    refused = client.post(
        "/api/v1/arena/votes",
        headers=bearer(tokens[Role.QA]),
        json={"pair_id": pair_id, "outcome": "left"},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == NOTHING_TO_CHOOSE[SKIP_IDENTICAL]
    board = client.get(f"/api/v1/filters/{twin_arena['slug']}/leaderboard", headers=viewer)
    assert board.json()["total_votes"] == 2
