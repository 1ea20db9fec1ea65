"""Bring a database to the schema this code expects, or refuse with a clear message."""

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from alembic import command
from ganstudio.paths import resource_dir

# pg_advisory_xact_lock's key for "migrating GAN Studio's schema" (any fixed 64-bit number).
MIGRATION_LOCK = 0x6A17_5D10


class SchemaAheadError(RuntimeError):
    """The database was migrated by a newer GAN Studio than this one."""


def alembic_config(url: str) -> Config:
    """Return an Alembic config pointing at the bundled migrations."""
    config = Config()
    config.set_main_option("script_location", str(resource_dir("alembic")))
    config.attributes["url"] = url
    return config


def current_revision(engine: Engine) -> str | None:
    """Return the database's Alembic revision, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(url: str) -> str:
    """Return the newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None, "alembic/versions holds no migration"
    return head


def upgrade_to_head(engine: Engine) -> str:
    """Upgrade the schema to head; raise SchemaAheadError when the database is newer."""
    url = engine.url.render_as_string(hide_password=False)
    config = alembic_config(url)
    script = ScriptDirectory.from_config(config)
    current = current_revision(engine)
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        raise SchemaAheadError(
            f"The database at {engine.url!r} is at schema revision {current}, which this "
            f"version of GAN Studio does not know (its newest is {script.get_current_head()}). "
            "It was upgraded by a newer GAN Studio: run that version, or point "
            "GANSTUDIO_DATA_DIR / GANSTUDIO_DATABASE_URL at another database."
        )
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Web processes and workers on several machines start at once against one database:
            # one migrates while the others wait, then find it at head (the lock is released
            # when this transaction ends; PostgreSQL's DDL is transactional).
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    # SQLite migrates with foreign keys off (alembic/env.py) and a pragma cannot change inside
    # the transaction: drop pooled connections so every later one gets the connect-time pragmas.
    engine.dispose()
    return head_revision(url)
