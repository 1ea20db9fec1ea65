"""Fixtures: a fresh data dir per test (a copy of a migrated database) → create_app → TestClient,
and users of every role."""

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ganstudio.app import create_app
from ganstudio.config import Settings
from ganstudio.roles import Role
from ganstudio.storage.blobs import BlobStore, LocalBlobStore
from ganstudio.storage.private import make_private_dir
from tests.factories import PASSWORD, make_token, make_user
from tests.s3 import S3Server, aws_environment, moto_server

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Return settings on `data_dir` that ignore the developer's environment and .env."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "blob_sweep_interval_seconds": 0,
        "worker": "off",  # tests run renders explicitly with app.state.worker.run_until_idle()
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per test process (read-only: tests get copies)."""
    from sqlalchemy import text

    from ganstudio.runtime import open_runtime

    data_dir = tmp_path_factory.mktemp("template") / "data"
    runtime = open_runtime(make_settings(data_dir))
    with runtime.engine.connect() as connection:  # everything into the main file, none in -wal
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    runtime.close()
    return data_dir / "ganstudio.db"


@pytest.fixture
def settings(tmp_path: Path, migrated_database: Path) -> Settings:
    # A copy of the migrated template: the app then finds its schema at head and migrates
    # nothing (migrating a fresh database per test costs more than most tests themselves).
    data_dir = make_private_dir(tmp_path / "data")
    copy = data_dir / migrated_database.name
    shutil.copyfile(migrated_database, copy)
    copy.chmod(0o600)
    return make_settings(data_dir)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def role_users(app: FastAPI) -> dict[Role, str]:
    """One user per role, named after it; all share the password PASSWORD."""
    return {role: make_user(app, role=role, name=f"{role.value}-user").name for role in Role}


@pytest.fixture
def tokens(app: FastAPI, role_users: dict[Role, str]) -> dict[Role, str]:
    """An API token for each role's user."""
    return {role: make_token(app, name=name) for role, name in role_users.items()}


def csrf_from(html: str) -> str:
    match = CSRF_META.search(html)
    assert match, "page has no CSRF meta tag"
    return match.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Sign `client` in through the login form; return the session's CSRF token."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/").text)


@pytest.fixture
def signed_in(app: FastAPI, role_users: dict[Role, str]):
    """Return a function: role → (a TestClient signed in as that role's user, its CSRF token)."""
    clients: list[TestClient] = []

    def _sign_in(role: Role) -> tuple[TestClient, str]:
        browser = TestClient(app)
        clients.append(browser)
        return browser, sign_in(browser, role_users[role])

    yield _sign_in
    for browser in clients:
        browser.close()


@pytest.fixture
def cli_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the CLI (which reads GANSTUDIO_* settings) at a fresh data dir."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("GANSTUDIO_DATA_DIR", str(data_dir))
    monkeypatch.setenv("GANSTUDIO_BLOB_SWEEP_INTERVAL_SECONDS", "0")
    monkeypatch.setenv("GANSTUDIO_WORKER", "off")
    return data_dir


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A moto S3 server for this test process (tests/s3.py); AWS_* dummies are set meanwhile.

    A subprocess gets the same with `env={**os.environ, **s3_server.env, ...}`."""
    with aws_environment(), moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A new, empty bucket on the test S3 server."""
    return s3_server.make_bucket()


@pytest.fixture
def s3_blob_url(s3_server: S3Server, s3_bucket: str) -> str:
    """GANSTUDIO_BLOB_URL of a new, empty bucket (prefix `blobs`) on the test S3 server."""
    return s3_server.blob_url(s3_bucket)


@pytest.fixture(params=["local", "s3"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """Each blob-store backend in turn: a local folder, then a bucket on the moto server."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    from ganstudio.storage.s3 import S3BlobStore

    server: S3Server = request.getfixturevalue("s3_server")
    return S3BlobStore(
        bucket=server.make_bucket(),
        prefix="blobs",
        endpoint_url=server.endpoint_url,
        spool_dir=tmp_path / "spool",
    )


@pytest.fixture
def sandboxed() -> None:
    """Skip a test that needs the kernel sandbox where the kernel has none (fail under CI)."""
    from ganstudio.inference.sandbox import landlock_abi

    if landlock_abi() == 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but this kernel has no Landlock: the sandbox tests need it")
        pytest.skip("this kernel has no Landlock (Linux >= 5.13 with it enabled is needed)")


def pytest_report_header() -> list[str]:
    """Say which kernel sandbox this machine offers executors (the sandbox tests prove it)."""
    from ganstudio.inference.sandbox import landlock_abi, seccomp_available

    abi = landlock_abi()
    landlock = f"Landlock ABI {abi}" if abi else "no Landlock (sandbox tests skip, or fail in CI)"
    seccomp = "libseccomp found" if seccomp_available() else "no libseccomp"
    return [f"executor sandbox: {landlock}, {seccomp}"]
