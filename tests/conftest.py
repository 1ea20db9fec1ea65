"""Fixtures: a fresh data dir per test (a copy of a migrated database) → create_app → TestClient,
and users of every role.

`--database=postgresql` runs the suite on PostgreSQL instead of SQLite: each test process starts
a throwaway cluster (tests/postgres.py), migrates a template database once, and every data dir a
test makes through `make_settings` (the `settings` fixture, the CLI's `cli_data_dir`, the browser
tests' `live_server`) gets its own copy of it. Without PostgreSQL binaries that pass skips; under
CI=true it fails. Tests that need PostgreSQL in either pass use `postgres_cluster` / `postgres_url`.
"""

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
from tests.postgres import PostgresCluster, PostgresUnavailable
from tests.s3 import S3Server, aws_environment, moto_server

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class PostgresDatabases:
    """Under --database=postgresql: one database per data dir, copied from a migrated template."""

    def __init__(self, cluster: PostgresCluster, template: str) -> None:
        self.cluster, self.template = cluster, template
        self.by_data_dir: dict[Path, str] = {}

    def for_data_dir(self, data_dir: Path) -> str:
        """Return the URL of `data_dir`'s database (the same one each time it is asked)."""
        key = data_dir.expanduser().resolve()
        if key not in self.by_data_dir:
            self.by_data_dir[key] = self.cluster.create_database(template=self.template)
        return self.by_data_dir[key]

    def drop_all(self) -> None:
        """Drop every database handed out so far (after each test)."""
        while self.by_data_dir:
            self.cluster.drop_database(self.by_data_dir.popitem()[1])


# Set for the whole test process by the `selected_database` fixture on the PostgreSQL pass.
_postgres_databases: PostgresDatabases | None = None


def database_url_for(data_dir: Path) -> str | None:
    """Return the database URL a test's `data_dir` uses: None (its SQLite file) on the SQLite
    pass, its own PostgreSQL database on the PostgreSQL pass."""
    if _postgres_databases is None:
        return None
    return _postgres_databases.for_data_dir(data_dir)


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Return settings on `data_dir` that ignore the developer's environment and .env
    (on the PostgreSQL pass, with `data_dir`'s own database unless `database_url` is given)."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "blob_sweep_interval_seconds": 0,
        "worker": "off",  # tests run renders explicitly with app.state.worker.run_until_idle()
        "database_url": database_url_for(data_dir),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the database every test runs on: sqlite (default) or postgresql (a throwaway "
        "cluster per test process; needs the PostgreSQL server binaries)",
    )


def on_postgresql(config: pytest.Config) -> bool:
    return config.getoption("--database") == "postgresql"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): checks something only SQLite has; skipped on PostgreSQL"
    )
    config.addinivalue_line(
        "markers",
        "postgresql_only(reason): checks something only PostgreSQL has; runs on its pass only",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    other = "sqlite_only" if on_postgresql(config) else "postgresql_only"
    label = "SQLite only" if on_postgresql(config) else "PostgreSQL only (--database=postgresql)"
    for item in items:
        marker = item.get_closest_marker(other)
        if marker is not None:
            reason = marker.args[0] if marker.args else "checks one database only"
            item.add_marker(pytest.mark.skip(reason=f"{label}: {reason}"))


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL server of this test process, on a free loopback port, in either pass.

    Skips without PostgreSQL binaries (fails under CI=true). Don't restart or stop it: tests
    that do need their own (`PostgresCluster.start()`, then `.stop()`)."""
    try:
        cluster = PostgresCluster.start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL tests must run under CI: {exc}")
        pytest.skip(str(exc))
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database (dropped after the test), in either pass."""
    url = postgres_cluster.create_database()
    yield url
    postgres_cluster.drop_database(url)


@pytest.fixture(scope="session")
def _postgres_template(request: pytest.FixtureRequest) -> PostgresDatabases | None:
    """On the PostgreSQL pass: the cluster and a template database migrated to head once."""
    if not on_postgresql(request.config):
        return None
    from ganstudio.db.migrate import upgrade_to_head
    from ganstudio.db.session import make_engine

    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database()
    engine = make_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    return PostgresDatabases(cluster, template=url.rsplit("/", 1)[1])


@pytest.fixture(autouse=True)
def selected_database(_postgres_template: PostgresDatabases | None) -> Iterator[str]:
    """Point `make_settings` at the selected database for this test; drop its databases after."""
    global _postgres_databases
    if _postgres_template is None:
        yield "sqlite"
        return
    _postgres_databases = _postgres_template
    try:
        yield "postgresql"
    finally:
        _postgres_databases = None
        _postgres_template.drop_all()


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
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    if request.getfixturevalue("selected_database") == "postgresql":
        return make_settings(make_private_dir(tmp_path / "data"))
    migrated_database: Path = request.getfixturevalue("migrated_database")
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
    database_url = database_url_for(data_dir)
    if database_url is not None:
        monkeypatch.setenv("GANSTUDIO_DATABASE_URL", database_url)
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


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which database the tests run on and which kernel sandbox this machine offers
    executors (the sandbox tests prove it)."""
    from ganstudio.inference.sandbox import landlock_abi, seccomp_available

    abi = landlock_abi()
    landlock = f"Landlock ABI {abi}" if abi else "no Landlock (sandbox tests skip, or fail in CI)"
    seccomp = "libseccomp found" if seccomp_available() else "no libseccomp"
    database = (
        "PostgreSQL (a throwaway cluster per test process)" if on_postgresql(config) else ("SQLite")
    )
    return [f"database: {database}", f"executor sandbox: {landlock}, {seccomp}"]
