"""Engine and session factory: SQLite in WAL mode with foreign keys and a busy timeout, or a
server database (PostgreSQL) through a bounded, pre-pinged connection pool."""

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event, make_url, select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from ganstudio.storage.private import make_private_file

if TYPE_CHECKING:
    from ganstudio.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class PoolSettings:
    """The connection pool of a server database: the defaults of GANSTUDIO_DATABASE_POOL_*
    (config.py reads them from here), one per process."""

    size: int = 5
    max_overflow: int = 10
    timeout_seconds: float = 30
    recycle_seconds: int = 1800

    @classmethod
    def of(cls, settings: "Settings") -> "PoolSettings":
        return cls(
            size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            timeout_seconds=settings.database_pool_timeout_seconds,
            recycle_seconds=settings.database_pool_recycle_seconds,
        )


def make_engine(url: str, pool: PoolSettings | None = None) -> Engine:
    """Create an engine for `url`, tuned for SQLite when it is one.

    A server database (PostgreSQL) gets a bounded pool per process whose connections are
    checked before use (`pool_pre_ping`): after the server restarts, a dead pooled connection
    is replaced instead of failing the request or render that drew it.
    """
    if url.startswith("sqlite"):
        _make_sqlite_file_private(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    pool = pool or PoolSettings()
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool.size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.timeout_seconds,
        pool_recycle=pool.recycle_seconds,
    )


def _make_sqlite_file_private(url: str) -> None:
    # SQLite gives its -wal and -shm files the database file's mode, so a 0600 database
    # keeps all three private.
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent.is_dir():
        make_private_file(path)
        for suffix in ("-wal", "-shm"):
            sidecar = path.with_name(path.name + suffix)
            if sidecar.exists():
                make_private_file(sidecar)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a crash loses no commit
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory every request, job and CLI command uses."""
    return sessionmaker(engine, expire_on_commit=False)


def read_snapshot(session: Session) -> None:
    """Make the session's next reads see one database state, until it commits or rolls back.

    By default each statement may see a newer state than the one before it: pysqlite (in its
    legacy transaction mode) sends no BEGIN before a SELECT, so every read is its own
    transaction, and PostgreSQL's READ COMMITTED takes a new snapshot per statement. A page
    that shows a job's status beside its renders, read in two statements, could then say
    "done" beside a render still running. Call this before such reads (and before any write
    that follows them: a write after a snapshot may be refused if another commit came between).

    On SQLite it sends a deferred BEGIN (WAL: the first read fixes the snapshot, writers are
    not blocked); on PostgreSQL it ends the current transaction (a request's reads so far, and
    the caller's "last used" touch) and starts one at REPEATABLE READ.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "sqlite":
        driver = connection.connection.driver_connection
        if driver is not None and not driver.in_transaction:
            connection.exec_driver_sql("BEGIN")
    elif dialect == "postgresql":
        session.commit()
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def rowcount(result: Result[Any]) -> int:
    """Return how many rows an UPDATE or DELETE matched.

    `Session.execute` is typed as returning a `Result`; for DML it is a `CursorResult`, which
    carries the count the queue's compare-and-set claims and the sweeps rely on.
    """
    return cast("CursorResult[Any]", result).rowcount


# Permalinks: short, unguessable enough to share, and free of look-alike characters (0/o, 1/l/i).
SLUG_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_slug(session: Session, column: InstrumentedAttribute[str], length: int = 8) -> str:
    """Return a random slug that no row has in `column` yet."""
    while True:
        slug = "".join(secrets.choice(SLUG_ALPHABET) for _ in range(length))
        if session.scalar(select(column).where(column == slug)) is None:
            return slug
