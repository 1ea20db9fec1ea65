"""Alembic environment: the database URL comes from GAN Studio's settings, not alembic.ini."""

from sqlalchemy import Connection

from alembic import context
from ganstudio.config import Settings
from ganstudio.db import tables  # noqa: F401 - registers every table on Base.metadata
from ganstudio.db.base import Base, UTCDateTime
from ganstudio.db.session import make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("url") or Settings().sqlalchemy_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _render_item(type_: str, obj: object, _context: object) -> str | bool:
    # Migrations stay free of app types: a UTCDateTime is a plain DATETIME in the schema.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def _run(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things, so Alembic copies the table instead.
    # Copying drops the old table, and with foreign keys on, dropping a table deletes (ON DELETE
    # CASCADE) the rows that point at it: a batch change to `renders` would empty `job_items`.
    # So SQLite migrates with foreign keys off, and the result is checked before they come back.
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # On the driver's connection, before anything opens a transaction (where the pragma
        # would be a no-op); SQLAlchemy's own execute would begin one.
        _raw_sqlite(connection).execute("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"The migration left rows pointing at nothing: {broken[:5]}")
    if sqlite:
        _raw_sqlite(connection).execute("PRAGMA foreign_keys=ON")


def _raw_sqlite(connection: Connection) -> "sqlite3.Connection":  # noqa: F821
    return connection.connection.driver_connection


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
