"""Migrations produce exactly the tables the code declares; newer schemas are refused.

Every test here runs on the selected database (`--database`): a new SQLite file, or a new, empty
PostgreSQL database on the test process's cluster.
"""

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, Boolean, Engine, Float, Integer, inspect, text

from alembic import command
from ganstudio.app import create_app
from ganstudio.db.base import Base
from ganstudio.db.migrate import SchemaAheadError, alembic_config, upgrade_to_head
from ganstudio.db.session import make_engine
from tests.conftest import make_settings


@pytest.fixture
def url(tmp_path: Path, selected_database: str, request: pytest.FixtureRequest) -> str:
    """The URL of a new, empty database of the selected kind."""
    if selected_database == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'm.db'}"


def test_migrations_match_the_declared_tables(url: str) -> None:
    engine = make_engine(url)
    upgrade_to_head(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"tables.py and alembic/versions disagree; add a migration: {diff}"
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(Base.metadata.tables)


def test_downgrade_to_base_and_back(url: str) -> None:
    engine = make_engine(url)
    upgrade_to_head(engine)
    config = alembic_config(url)
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade_to_head(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


@pytest.mark.sqlite_only("SQLite's journal mode and pragmas")
def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def test_a_schema_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    create_app(settings)
    engine = make_engine(settings.sqlalchemy_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(SchemaAheadError, match="newer GAN Studio"):
        create_app(settings)


def database_at(url: str, revision: str) -> Engine:
    """Return an engine on the new database `url`, migrated only up to `revision`."""
    command.upgrade(alembic_config(url), revision)
    return make_engine(url)


def test_sessions_migration_keeps_users_and_their_tokens(url: str) -> None:
    engine = database_at(url, "0005")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, name, role, password_hash, active, session_epoch, "
                "created_at, updated_at) VALUES (1, 'alice', 'admin', 'x', TRUE, 3, "
                "'2026-01-01', '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO api_tokens (user_id, label, token_sha256, prefix, created_at) "
                "VALUES (1, 'ci', :sha, 'gst_abc', '2026-01-01')"
            ),
            {"sha": "0" * 64},
        )
    upgrade_to_head(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM api_tokens")).scalar() == 1
        assert connection.execute(text("SELECT name FROM users")).scalar() == "alice"
    columns = {column["name"] for column in inspect(engine).get_columns("users")}
    assert "session_epoch" not in columns
    assert "user_sessions" in inspect(engine).get_table_names()


def test_web_tests_made_before_private_ids_get_random_ones(url: str) -> None:
    engine = database_at(url, "0005")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs (kind, title, priority, created_at) VALUES "
                "('webtest', 'a.png', 10, '2026-01-01'), ('webtest', 'b.png', 10, '2026-01-01'),"
                " ('comparison', 'c', 0, '2026-01-01')"
            )
        )
    upgrade_to_head(engine)
    with engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT title, public_id FROM jobs")).all())
    assert rows["c"] is None
    assert rows["a.png"] != rows["b.png"] and min(len(rows["a.png"]), len(rows["b.png"])) >= 20


def _insert(connection, table: str, **values: object) -> None:
    """Insert a row, filling the NOT NULL columns `values` leaves out with plain values."""
    row = dict(values)
    inspector = inspect(connection)
    key = set(inspector.get_pk_constraint(table)["constrained_columns"])
    for column in inspector.get_columns(table):
        name, type_ = column["name"], column["type"]
        if name in row or column["nullable"] or column["default"] is not None or name in key:
            continue
        if isinstance(type_, Boolean):
            row[name] = True
        elif isinstance(type_, Integer | Float):
            row[name] = 1
        else:
            row[name] = "{}" if isinstance(type_, JSON) else "2026-01-01"
    names = ", ".join(row)
    connection.execute(
        text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in row)})"), row
    )


def test_upgrading_keeps_rows_that_point_at_rebuilt_tables(url: str) -> None:
    """SQLite rebuilds a table to alter it; the rows pointing at it (ON DELETE CASCADE) stay."""
    engine = database_at(url, "0005")
    with engine.begin() as connection:
        _insert(connection, "users", id=1, name="a", role="admin")
        _insert(connection, "filters", id=1, slug="t", pipeline="full")
        _insert(connection, "versions", id=1, filter_id=1, label="v1", status="candidate")
        _insert(connection, "renders", id=1, render_key="b" * 64, version_id=1, state="done")
        _insert(connection, "jobs", id=1, kind="comparison", created_by_id=1)
        _insert(connection, "job_items", job_id=1, render_id=1)
    upgrade_to_head(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM job_items")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM renders")).scalar() == 1
        if connection.dialect.name == "sqlite":  # migrations turn them off for a while
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_faces_migration_marks_existing_masks_uploaded_and_keeps_sample_links(
    url: str,
) -> None:
    engine = database_at(url, "0008")
    with engine.begin() as connection:
        _insert(connection, "samples", id=1, sha256="a" * 64, mask_sha256="m" * 64)
        _insert(connection, "samples", id=2, sha256="b" * 64)
        _insert(connection, "tags", id=1, name="smile")
        _insert(connection, "sample_tags", sample_id=1, tag_id=1)
        _insert(connection, "sample_sets", id=1, name="s")
        _insert(connection, "sample_set_members", set_id=1, sample_id=2, position=0)
    upgrade_to_head(engine)
    with engine.connect() as connection:
        sources = dict(connection.execute(text("SELECT id, mask_source FROM samples")).all())
        assert sources == {1: "uploaded", 2: None}
        assert connection.execute(text("SELECT count(*) FROM sample_tags")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM sample_set_members")).scalar() == 1
    tables = set(inspect(engine).get_table_names())
    assert {"face_analyses", "mask_jobs"} <= tables


def test_renders_made_before_notes_keep_their_rows_with_no_note(url: str) -> None:
    engine = database_at(url, "0009")
    with engine.begin() as connection:
        _insert(connection, "filters", id=1, slug="t", pipeline="face")
        _insert(connection, "versions", id=1, filter_id=1, label="v1", status="candidate")
        _insert(connection, "renders", id=1, render_key="c" * 64, version_id=1, state="done")
    upgrade_to_head(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id, note FROM renders")).all() == [(1, None)]


def test_filters_made_before_face_options_get_the_defaults(url: str) -> None:
    engine = database_at(url, "0010")
    with engine.begin() as connection:
        _insert(connection, "filters", id=1, slug="t", pipeline="face")
    upgrade_to_head(engine)
    with engine.connect() as connection:
        options = connection.execute(text("SELECT face_options FROM filters")).scalar()
    # SQLite's driver gives JSON as text, PostgreSQL's as the value
    assert (json.loads(options) if isinstance(options, str) else options) == {}


@pytest.mark.postgresql_only("PostgreSQL's advisory lock")
def test_processes_starting_at_once_on_postgresql_migrate_one_at_a_time(postgres_url: str) -> None:
    """Web processes and workers on several machines start together against one empty
    database: each must find it at head, none may fail on another's half-made tables."""
    from concurrent.futures import ThreadPoolExecutor

    # Without the lock a second migration waits on the first's tables, then fails (or waits
    # for ever): lock_timeout turns that into an error instead of a hung test.
    url = f"{postgres_url}?options=-c%20lock_timeout%3D60000"
    engines = [make_engine(url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(max_workers=len(engines)) as pool:
            heads = list(pool.map(upgrade_to_head, engines))
        assert len(set(heads)) == 1
        with engines[0].connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert [row[0] for row in version] == heads[:1]
    finally:
        for engine in engines:
            engine.dispose()
