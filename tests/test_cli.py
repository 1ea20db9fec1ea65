"""The `ganstudio` CLI: users, tokens, migrate, sweep, and `python -m ganstudio`."""

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from ganstudio.app import create_app
from ganstudio.cli import app as cli
from tests.conftest import make_settings
from tests.factories import bearer

runner = CliRunner()


@pytest.fixture
def data_dir(cli_data_dir: Path) -> Path:
    return cli_data_dir


def test_users_add_prints_a_generated_password_and_token_prints_only_the_token(
    data_dir: Path,
) -> None:
    added = runner.invoke(cli, ["users", "add", "Hana", "--role", "developer"])
    assert added.exit_code == 0, added.output
    assert "Created hana (developer). Password: " in added.output
    issued = runner.invoke(cli, ["users", "token", "hana"])
    assert issued.exit_code == 0
    token = issued.stdout.strip()
    assert token.startswith("gst_") and "\n" not in token
    with TestClient(create_app(make_settings(data_dir))) as client:
        me = client.get("/api/v1/me", headers=bearer(token)).json()
    assert me["name"] == "hana" and me["role"] == "developer"


def test_users_add_refuses_bad_input_clearly(data_dir: Path) -> None:
    assert (
        runner.invoke(cli, ["users", "add", "ivy", "--password", "long enough pw"]).exit_code == 0
    )
    clash = runner.invoke(cli, ["users", "add", "ivy"])
    assert clash.exit_code == 1 and "already exists" in clash.output
    role = runner.invoke(cli, ["users", "add", "jo", "--role", "boss"])
    assert role.exit_code == 1 and "choose one of" in role.output
    unknown = runner.invoke(cli, ["users", "token", "nobody"])
    assert unknown.exit_code == 1 and "No user named" in unknown.output


def test_migrate_list_and_sweep(data_dir: Path) -> None:
    assert "up to date" in runner.invoke(cli, ["migrate"]).output
    runner.invoke(cli, ["users", "add", "kim", "--role", "admin"])
    assert "kim" in runner.invoke(cli, ["users", "list"]).output
    swept = runner.invoke(cli, ["blobs", "sweep"])
    assert swept.exit_code == 0 and "freed" in swept.output


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ganstudio", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "serve" in result.stdout and "users" in result.stdout


def test_demo_seeding_is_idempotent(tmp_path: Path) -> None:
    from ganstudio.demo import seed_demo

    settings = make_settings(tmp_path / "data", demo=True)
    app = create_app(settings)
    runs, said = [], []
    for _ in range(2):
        lines: list[str] = []
        with app.state.sessions() as session:
            runs.append(seed_demo(session, settings, progress=lines.append))
            session.commit()
        said.append(lines)
    assert runs[0] == runs[1]
    # `make demo` says what it is doing while the checks run, and that the second start has less.
    assert "Seeding demo: checking toon checkpoint 2/3 (v2)… (load, probe, time)" in said[0]
    assert "Seeding demo: sample 9/9 (" in "\n".join(said[0])
    assert (
        "Seeding demo: checking toon-face checkpoint 3/3 (v2-eyes)… (load, probe, time)" in said[0]
    )
    assert "Seeding demo: Demo: faces sample 5/5 (chelsea-the-cat.jpg)" in said[0]
    assert "Seeding demo: toon checkpoint 2/3 (v2) is in place." in said[1]
    assert not any("checking" in line for line in said[1])
    assert [a["role"] for a in runs[0]] == ["viewer", "qa", "developer", "admin"]
    assert oct((settings.resolved_data_dir / "demo-accounts.json").stat().st_mode)[-3:] == "600"
    with app.state.sessions() as session:
        from ganstudio.services import filters as filters_service
        from ganstudio.services import versions as versions_service

        toon = filters_service.get_filter(session, slug="toon")
        versions, total = versions_service.list_versions(session, filter_=toon)
        assert total == 3  # seeded once, not twice
        by_label = {v.label: v for v in versions}
        assert by_label["v2"].parent_id == by_label["v1"].id
        assert by_label["v2-se"].parent_id == by_label["v1"].id
        assert by_label["v2-se"].branch == "se"
        assert by_label["v1"].status.value == "production"
        assert by_label["v2-se"].param_count > by_label["v2"].param_count  # SE blocks
        # The training numbers of versions.json are the versions' metrics (the chart, agreement).
        assert by_label["v2"].training_metrics == {
            "step": 750,
            "train_l1": 0.1714,
            "val_l1": 0.1305,
        }
        from ganstudio.db.tables import Comparison

        comparisons = session.scalars(select(Comparison)).all()
        assert len(comparisons) == 2  # one per demo filter, not one per start
        from ganstudio.db.tables import Sample
        from ganstudio.services.sample_sets import resolve_set

        # The first-look photos carry their toon targets (tools/make_demo_references.py).
        first_look = resolve_set(session, ref="Demo: first look", actor=None)
        members = session.scalars(
            select(Sample).where(Sample.memberships.any(set_id=first_look.id))
        ).all()
        assert members and all(sample.reference_sha256 for sample in members)

        toon_face = filters_service.get_filter(session, slug="toon-face")
        assert toon_face.pipeline.value == "face"
        face_versions, total = versions_service.list_versions(session, filter_=toon_face)
        assert total == 3
        channels = {v.label: v.input_channels for v in face_versions}
        assert channels == {"v1": 3, "v2": 3, "v2-eyes": 4}  # v2-eyes sees the eye mask
    # The first-look set × the three toon versions, and the faces set × the three face versions.
    assert app.state.worker.run_until_idle() == 9 * 3 + 5 * 3
    while app.state.worker.analyse_next():  # the background analysis, as the server runs it
        pass
    _check_the_faces_demo(app)


def _check_the_faces_demo(app: FastAPI) -> None:
    """The faces set carries the analysis tags, and its comparison rendered every cell."""
    from sqlalchemy.orm import selectinload

    from ganstudio.db.tables import (
        Comparison,
        ComparisonCell,
        Render,
        Sample,
        SampleSet,
        SampleSetMember,
    )

    with app.state.sessions() as session:
        faces_set = session.scalar(select(SampleSet).where(SampleSet.name == "Demo: faces"))
        assert faces_set is not None
        samples = session.scalars(
            select(Sample)
            .join(SampleSetMember, SampleSetMember.sample_id == Sample.id)
            .where(SampleSetMember.set_id == faces_set.id)
            .options(selectinload(Sample.tags))
        ).all()
        tags = {s.filename: {t.name for t in s.tags} for s in samples}
        assert "face:one face" in tags["astronaut.jpg"]
        assert "face:several faces" in tags["group-of-three.jpg"]
        assert "face:no face" in tags["chelsea-the-cat.jpg"]
        comparison = session.scalar(
            select(Comparison).where(Comparison.title.contains("toon-face"))
        )
        assert comparison is not None
        rows = session.execute(
            select(Sample.filename, Render.state, Render.note)
            .join(ComparisonCell, ComparisonCell.sample_id == Sample.id)
            .join(Render, Render.id == ComparisonCell.render_id)
            .where(ComparisonCell.comparison_id == comparison.id)
        ).all()
    assert len(rows) == 5 * 3
    assert all(state.value == "done" for _name, state, _note in rows)
    notes = {name: note for name, _state, note in rows}
    assert notes["chelsea-the-cat.jpg"] == "no face found"  # the cat: the input, with a note
    assert notes["astronaut.jpg"] is None and notes["group-of-three.jpg"] is None


def test_worker_runs_on_the_device_it_is_given(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ganstudio.inference.runner import RenderWorker

    served: dict[str, str] = {}

    def serve(self: RenderWorker, stop: object, **_: object) -> None:
        served.update(device=self.settings.device, name=self.worker_name, id=self.worker_id)

    monkeypatch.setattr(RenderWorker, "serve", serve)
    started = runner.invoke(cli, ["worker", "--device", "cuda:1"])
    assert started.exit_code == 0, started.output
    assert served["device"] == "cuda:1" and served["name"].endswith("/cuda:1")
    assert served["id"].startswith(served["name"] + "/") and len(served["id"]) <= 40
    wrong = runner.invoke(cli, ["worker", "--device", "gpu1"])
    assert wrong.exit_code == 2 and "is not a device: use cpu, cuda or cuda:N" in wrong.output
