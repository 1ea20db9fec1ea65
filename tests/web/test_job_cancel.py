"""Who may cancel a job: its owner, developers and admins; nobody else, owner-less jobs included."""

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ganstudio.db.tables import Filter, Sample, User, Version
from ganstudio.roles import Role
from ganstudio.services import comparisons as comparisons_service
from tests.factories import bearer
from tests.web.compare_helpers import make_bench


def make_job(app: FastAPI, tmp_path: Path, *, owner: str | None) -> int:
    """Queue a comparison's renders as `owner` (None: as the CLI or the demo do); return the job."""
    bench = make_bench(app, tmp_path)
    with app.state.sessions() as session:
        actor = session.query(User).filter_by(name=owner).one() if owner else None
        _comparison, job = comparisons_service.create_comparison(
            session,
            filter_=session.query(Filter).filter_by(slug=bench.slug).one(),
            versions=session.query(Version).all(),
            samples=session.query(Sample).all(),
            title="",
            actor=actor,
        )
        session.commit()
        return job.id


@pytest.mark.parametrize(
    ("role", "allowed"),
    [(Role.VIEWER, False), (Role.QA, False), (Role.DEVELOPER, True), (Role.ADMIN, True)],
)
def test_only_developers_and_admins_cancel_an_owner_less_job(
    app: FastAPI,
    client: TestClient,
    tokens: dict[Role, str],
    tmp_path: Path,
    role: Role,
    allowed: bool,
) -> None:
    job_id = make_job(app, tmp_path, owner=None)
    response = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=bearer(tokens[role]))
    if allowed:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled"
    else:
        assert response.status_code == 403, response.text
        assert "developer" in response.json()["detail"]
        status = client.get(f"/api/v1/jobs/{job_id}", headers=bearer(tokens[role])).json()
        assert status["status"] == "queued"


def test_an_owner_cancels_their_own_job_and_another_viewer_cannot(
    app: FastAPI,
    client: TestClient,
    role_users: dict[Role, str],
    tokens: dict[Role, str],
    tmp_path: Path,
) -> None:
    job_id = make_job(app, tmp_path, owner=role_users[Role.VIEWER])
    stranger = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=bearer(tokens[Role.QA]))
    assert stranger.status_code == 403
    owner = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=bearer(tokens[Role.VIEWER]))
    assert owner.status_code == 200 and owner.json()["status"] == "cancelled"
