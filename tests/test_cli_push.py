"""`ganstudio push` and `ganstudio filters`: the CLI twin of pushing from the page."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ganstudio.app import create_app
from ganstudio.cli import app as cli
from ganstudio.services import filters as filters_service
from ganstudio.services import versions as versions_service
from tests import checkpoints as ck
from tests.conftest import make_settings

runner = CliRunner()


@pytest.fixture
def data_dir(cli_data_dir: Path) -> Path:
    return cli_data_dir


def test_push_formats_with_parent_branch_notes_and_config(data_dir: Path, tmp_path: Path) -> None:
    assert runner.invoke(cli, ["filters", "add", "Toon", "--input-size", "256"]).exit_code == 0
    runner.invoke(cli, ["users", "add", "dev", "--role", "developer"])
    first = runner.invoke(
        cli,
        [
            "push",
            "toon",
            str(ck.safetensors_file(tmp_path / "v1.st")),
            "--label",
            "v1",
            "--as",
            "dev",
        ],
    )
    assert first.exit_code == 0, first.output
    assert "Pushed toon v1" in first.output
    notes = tmp_path / "notes.md"
    notes.write_text("Eye mask branch.")
    config = tmp_path / "cfg.json"
    config.write_text('{"base_width": 4, "depth": 2}')
    second = runner.invoke(
        cli,
        [
            "push",
            "toon",
            str(ck.state_dict_file(tmp_path / "v2.pt", seed=3)),
            "--label",
            "v2",
            "--parent",
            "v1",
            "--branch",
            "eyemask",
            "--notes-file",
            str(notes),
            "--architecture",
            "se-unet",
            "--config",
            str(config),
        ],
    )
    assert second.exit_code == 0, second.output
    third = runner.invoke(
        cli,
        [
            "push",
            "toon",
            str(ck.torchscript_file(tmp_path / "ts.pt")),
            "--label",
            "v2-ts",
            "--parent",
            "v1",
            "--branch",
            "torchscript",
        ],
    )
    assert third.exit_code == 0, third.output
    app = create_app(make_settings(data_dir))
    with app.state.sessions() as session:
        filter_ = filters_service.get_filter(session, slug="toon")
        v2 = versions_service.find_version(session, filter_=filter_, label="v2")
        assert v2 is not None and v2.branch == "eyemask" and v2.notes == "Eye mask branch."
        assert v2.checkpoint_format == "state_dict"
        ts = versions_service.find_version(session, filter_=filter_, label="v2-ts")
        assert ts is not None and ts.checkpoint_format == "torchscript"
        v1 = versions_service.get_version(session, version_id=v2.parent_id)
        assert v1.label == "v1" and v1.created_by.name == "dev"
    assert "toon" in runner.invoke(cli, ["filters", "list"]).output


def test_push_refusals_are_clear_and_exit_non_zero(data_dir: Path, tmp_path: Path) -> None:
    runner.invoke(cli, ["filters", "add", "Toon"])
    marker = tmp_path / "pwned"
    evil = runner.invoke(
        cli,
        [
            "push",
            "toon",
            str(ck.malicious_pickle(tmp_path / "e.pt", marker)),
            "--label",
            "v1",
            "--architecture",
            "se-unet",
        ],
    )
    assert evil.exit_code == 1 and "Refused" in evil.output
    assert not marker.exists()
    unknown = runner.invoke(
        cli, ["push", "nope", str(ck.safetensors_file(tmp_path / "v.st")), "--label", "v1"]
    )
    assert unknown.exit_code == 1 and "No filter" in unknown.output


def test_push_carries_training_metrics_from_a_json_file(data_dir: Path, tmp_path: Path) -> None:
    runner.invoke(cli, ["filters", "add", "Toon"])
    metrics = tmp_path / "run.json"
    metrics.write_text('{"step": 120000, "metrics": {"fid": 31.2, "loss_g": 0.81}}')
    pushed = runner.invoke(
        cli,
        [
            "push",
            "toon",
            str(ck.safetensors_file(tmp_path / "v1.st")),
            "--label",
            "v1",
            "--metrics",
            str(metrics),
        ],
    )
    assert pushed.exit_code == 0, pushed.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"fid": "low"}')
    refused = runner.invoke(
        cli,
        [
            "push",
            "toon",
            str(ck.safetensors_file(tmp_path / "v2.st", seed=2)),
            "--label",
            "v2",
            "--metrics",
            str(bad),
        ],
    )
    assert refused.exit_code == 1
    assert "'fid'" in refused.output and "must be a number" in refused.output
    app = create_app(make_settings(data_dir))
    with app.state.sessions() as session:
        filter_ = filters_service.get_filter(session, slug="toon")
        v1 = versions_service.find_version(session, filter_=filter_, label="v1")
        assert v1 is not None
        assert v1.training_metrics == {"step": 120000, "fid": 31.2, "loss_g": 0.81}
        assert versions_service.find_version(session, filter_=filter_, label="v2") is None
