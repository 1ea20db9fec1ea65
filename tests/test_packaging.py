"""An installed wheel (not the source tree) finds its templates, static files and migrations."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
    )
    return next(out.glob("ganstudio-*.whl"))


def test_wheel_carries_pages_assets_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "ganstudio/_bundled/templates/base.html",
        "ganstudio/_bundled/static/vendor/htmx.min.js",
        "ganstudio/_bundled/static/vendor/htmx.LICENSE",
        "ganstudio/_bundled/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "ganstudio/_bundled/static/vendor/swagger-ui/LICENSE",
        "ganstudio/_bundled/static/css/report.css",
        "ganstudio/_bundled/templates/docs.html",
        "ganstudio/_bundled/alembic/env.py",
        "ganstudio/_bundled/alembic/versions/0001_foundation.py",
        "ganstudio/app.py",
    ):
        assert expected in names, expected


def test_installed_wheel_serves_from_outside_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from ganstudio.paths import resource_dir;"
        "from ganstudio.app import create_app;"
        "from ganstudio.config import Settings;"
        "from fastapi.testclient import TestClient;"
        "print(resource_dir('templates'));"
        "app = create_app(Settings(_env_file=None, data_dir=sys.argv[2]));"
        "print(TestClient(app).get('/login').status_code)"
    )
    data_dir = make_settings(tmp_path / "data").data_dir
    result = subprocess.run(
        [sys.executable, "-I", "-c", script, str(target), str(data_dir)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    templates_dir, status = result.stdout.split()
    assert Path(templates_dir).is_relative_to(target)
    assert status == "200"
