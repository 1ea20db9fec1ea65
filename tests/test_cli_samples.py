"""`ganstudio samples import`: folders walked, same checks and dedup as the API, counts printed."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ganstudio.app import create_app
from ganstudio.cli import app as cli
from ganstudio.roles import Role
from tests import imagegen
from tests.conftest import make_settings
from tests.factories import bearer, make_token, make_user

runner = CliRunner()


@pytest.fixture
def data_dir(cli_data_dir: Path) -> Path:
    return cli_data_dir


def test_import_walks_folders_and_reports_counts(data_dir: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    (photos / "nested").mkdir(parents=True)
    (photos / ".hidden").mkdir()
    (photos / "a.png").write_bytes(imagegen.distinct_png(1))
    (photos / "nested" / "b.jpg").write_bytes(imagegen.exif_rotated_jpeg())
    (photos / "nested" / "broken.png").write_bytes(b"not really a png")
    (photos / ".hidden" / "skip.png").write_bytes(imagegen.distinct_png(2))
    (photos / "readme.txt").write_text("ignored: not an image suffix")
    archive = tmp_path / "more.zip"
    archive.write_bytes(
        imagegen.zip_bytes(
            {"c.png": imagegen.distinct_png(3), "../x.png": imagegen.distinct_png(4)}
        )
    )
    app = create_app(make_settings(data_dir))
    make_user(app, role=Role.QA, name="quinn")
    make_user(app, role=Role.VIEWER, name="vera")

    result = runner.invoke(
        cli,
        [
            "samples",
            "import",
            str(photos),
            str(archive),
            "--set",
            "Imported",
            "--tag",
            "cli",
            "--tag",
            "Batch 1",
            "--as",
            "quinn",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Created 3, existing 0, rejected 2; in the set 'Imported'." in result.output
    assert "rejected broken.png: It is not an image" in result.output
    assert "rejected more.zip › _/x.png: Its path in the archive" in result.output

    again = runner.invoke(cli, ["samples", "import", str(photos / "a.png"), "--tag", "again"])
    assert again.exit_code == 0, again.output
    assert "Created 0, existing 1, rejected 0." in again.output

    refused = runner.invoke(cli, ["samples", "import", str(photos), "--as", "vera"])
    assert refused.exit_code == 1
    assert "importing needs qa" in refused.output
    nothing = runner.invoke(cli, ["samples", "import", str(tmp_path / "missing")])
    assert nothing.exit_code == 1

    token = make_token(app, name="quinn")
    with TestClient(create_app(make_settings(data_dir))) as client:
        listed = client.get("/api/v1/samples?set=Imported", headers=bearer(token)).json()
        assert listed["total"] == 3
        assert {tuple(s["tags"]) for s in listed["items"]} >= {("again", "batch 1", "cli")}
