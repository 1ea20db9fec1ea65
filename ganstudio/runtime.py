"""What the web app and every CLI command share: settings, the migrated database, blobs, worker.

`open_runtime(settings)` does the start-up work once (private data dir, engine, migration to this
code's schema); `create_app` wraps a runtime in the web app, and CLI commands use one directly,
so a command that only needs the database never builds the web app or imports its routes.
"""

import logging
import threading

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ganstudio.config import Settings
from ganstudio.db.base import Base
from ganstudio.db.migrate import upgrade_to_head
from ganstudio.db.session import PoolSettings, make_engine, make_sessionmaker
from ganstudio.inference.runner import RenderWorker
from ganstudio.services.retention import BATCH, ExpiryReport, expire_webtests
from ganstudio.storage.blobs import BlobStore, open_blob_store
from ganstudio.storage.private import make_private_dir
from ganstudio.storage.sweep import referenced_blobs, sweep_blobs

log = logging.getLogger(__name__)


class Runtime:
    """One data dir opened: read-only attributes, and a render worker made on first use."""

    __slots__ = ("_blobs", "_engine", "_lock", "_sessions", "_settings", "_worker")

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        sessions: sessionmaker[Session],
        blobs: BlobStore,
    ) -> None:
        self._settings, self._engine, self._sessions, self._blobs = (
            settings,
            engine,
            sessions,
            blobs,
        )
        self._worker: RenderWorker | None = None
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self._sessions

    @property
    def blobs(self) -> BlobStore:
        return self._blobs

    @property
    def worker(self) -> RenderWorker:
        """The render worker (made when first asked for: most CLI commands never need one)."""
        with self._lock:
            if self._worker is None:
                self._worker = RenderWorker(
                    sessions=self._sessions, blobs=self._blobs, settings=self._settings
                )
            return self._worker

    def close(self) -> None:
        """Stop the worker's executors (if a worker was made) and close the database pool."""
        if self._worker is not None:
            self._worker.pool.close()
        self._engine.dispose()


def open_runtime(settings: Settings) -> Runtime:
    """Open `settings`' data dir and blob store, and migrate the database (raises
    SchemaAheadError if newer, BlobStoreConfigError / BlobStoreUnavailableError if the blob
    store cannot be used: no server or worker starts without one)."""
    make_private_dir(settings.resolved_data_dir)
    blobs = open_blob_store(settings)
    blobs.check()
    engine = make_engine(settings.sqlalchemy_url, PoolSettings.of(settings))
    upgrade_to_head(engine)  # raises SchemaAheadError with a clear message
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        blobs=blobs,
    )


def run_blob_sweep(runtime: Runtime) -> str:
    """Expire old web tests, then sweep unreferenced blobs once; return the reports' sentences."""
    settings = runtime.settings
    expired = ExpiryReport(0, 0)
    with runtime.sessions() as session:
        while True:  # in batches, each its own short transaction
            batch = expire_webtests(session, retention_days=settings.webtest_retention_days)
            session.commit()
            expired = ExpiryReport(expired.jobs + batch.jobs, expired.renders + batch.renders)
            if batch.jobs < BATCH:
                break
        referenced = referenced_blobs(session, Base.metadata)
    if expired.jobs:
        log.info(expired.describe())
    report = sweep_blobs(runtime.blobs, referenced, grace_seconds=settings.blob_grace_seconds)
    return f"{expired.describe()} {report.describe()}"
