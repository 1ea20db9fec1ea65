"""The data dir is 0700 and the files GAN Studio writes there are 0600."""

import stat
from pathlib import Path

from fastapi.testclient import TestClient

from ganstudio.app import create_app
from ganstudio.roles import Role
from tests.conftest import make_settings
from tests.factories import make_user


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


SQLITE_FILES = ("ganstudio.db", "ganstudio.db-wal", "ganstudio.db-shm")


def test_data_dir_and_its_files_are_private(tmp_path: Path, selected_database: str) -> None:
    data_dir = tmp_path / "data"
    # On PostgreSQL the data dir holds no database file: the server keeps the data.
    database_files = SQLITE_FILES if selected_database == "sqlite" else ()
    app = create_app(make_settings(data_dir))
    make_user(app, role=Role.ADMIN, name="alice")  # a write, so SQLite has its -wal file
    blob = app.state.blobs.put_bytes(b"some photo bytes")
    blob_path = app.state.blobs.path_for(blob.sha256)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        for name in ("secret_key", *database_files):
            assert mode(data_dir / name) == 0o600, name
    assert mode(data_dir) == 0o700
    assert mode(blob_path) == 0o600
    assert mode(blob_path.parent) == 0o700 and mode(blob_path.parent.parent) == 0o700
    assert mode(data_dir / "blobs") == 0o700 and mode(data_dir / "blobs" / ".tmp") == 0o700


def test_an_existing_open_data_dir_is_made_private(tmp_path: Path, selected_database: str) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    (data_dir / "ganstudio.db").touch()
    (data_dir / "ganstudio.db").chmod(0o644)
    create_app(make_settings(data_dir))
    assert mode(data_dir) == 0o700
    if selected_database == "sqlite":  # PostgreSQL has no database file in the data dir
        assert mode(data_dir / "ganstudio.db") == 0o600
