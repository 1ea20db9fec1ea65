"""Build the FastAPI application: `create_app(settings)`."""

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from ganstudio import __version__
from ganstudio.config import Settings
from ganstudio.db.base import Base
from ganstudio.db.migrate import upgrade_to_head
from ganstudio.db.session import make_engine, make_sessionmaker
from ganstudio.inference.runner import RenderWorker
from ganstudio.paths import resource_dir
from ganstudio.services.retention import BATCH, ExpiryReport, expire_webtests
from ganstudio.services.throttle import SignInThrottle
from ganstudio.storage.blobs import BlobStore
from ganstudio.storage.private import make_private_dir
from ganstudio.storage.sweep import referenced_blobs, sweep_blobs
from ganstudio.web.errors import install_error_handlers
from ganstudio.web.fragments import FragmentCache
from ganstudio.web.headers import SecurityHeaders
from ganstudio.web.limits import RequestBodyGuard, upload_routes
from ganstudio.web.routes import (
    admin,
    api_arena,
    api_comparisons,
    api_filters,
    api_reviews,
    api_samples,
    api_sets,
    api_users,
    api_webtest,
    arena,
    auth,
    compare,
    docs,
    filters,
    pages,
    reports,
    reviews,
    samples,
    sets,
    system,
    users,
    webtest,
)
from ganstudio.web.templating import Pages

log = logging.getLogger(__name__)
SESSION_COOKIE = "ganstudio_session"
COOKIE_GRACE_SECONDS = 7 * 24 * 3600
# Every router of the app; tests walk this list (e.g. the role matrix), so add new ones here.
ROUTERS = tuple(
    module.router
    for module in (
        *(system, auth, pages, docs, users, api_users),
        *(samples, sets, api_samples, api_sets),
        *(filters, api_filters),
        *(compare, webtest, api_comparisons, api_webtest),
        *(api_reviews, reviews, api_arena, arena, reports),
        admin,
    )
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Create GAN Studio on `settings`' data dir, migrating its database to this code's schema."""
    settings = settings or Settings()
    make_private_dir(settings.resolved_data_dir)
    engine = make_engine(settings.sqlalchemy_url)
    upgrade_to_head(engine)  # raises SchemaAheadError with a clear message

    app = FastAPI(
        title="GAN Studio",
        version=__version__,
        description="Shared test photos, versioned image-to-image filters, side-by-side review. "
        "Authenticate with `Authorization: Bearer <token>` (see `ganstudio users token`).",
        lifespan=_lifespan,
        # /docs is our own page (routes/docs.py): FastAPI's loads Swagger UI from a CDN with an
        # inline script, which the Content-Security-Policy refuses.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.blobs = BlobStore(settings.blob_dir)
    app.state.throttle = SignInThrottle()
    app.state.pages = Pages(demo=settings.demo)
    app.state.fragments = FragmentCache()
    app.state.worker = RenderWorker(
        sessions=app.state.sessions, blobs=app.state.blobs, settings=settings
    )

    app.mount("/static", StaticFiles(directory=resource_dir("static")), name="static")
    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app)

    # Added last = runs first. The body guard runs inside the session middleware (it needs the
    # session to tell who is signed in) and before anything reads a body.
    app.add_middleware(
        RequestBodyGuard,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        uploads=upload_routes(route for router in ROUTERS for route in router.routes),
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.signing_key,
        session_cookie=SESSION_COOKIE,
        # The cookie outlives the session, so an expired session can be told apart from none.
        max_age=settings.session_max_age_seconds + COOKIE_GRACE_SECONDS,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(SecurityHeaders)
    return app


def run_blob_sweep(app: FastAPI) -> str:
    """Expire old web tests, then sweep unreferenced blobs once; return the reports' sentences."""
    settings: Settings = app.state.settings
    expired = ExpiryReport(0, 0)
    with app.state.sessions() as session:
        while True:  # in batches, each its own short transaction
            batch = expire_webtests(session, retention_days=settings.webtest_retention_days)
            session.commit()
            expired = ExpiryReport(expired.jobs + batch.jobs, expired.renders + batch.renders)
            if batch.jobs < BATCH:
                break
        referenced = referenced_blobs(session, Base.metadata)
    if expired.jobs:
        log.info(expired.describe())
    report = sweep_blobs(app.state.blobs, referenced, grace_seconds=settings.blob_grace_seconds)
    return f"{expired.describe()} {report.describe()}"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # A second lifespan on a running app (a TestClient around a live server) must neither start
    # a second worker on the same executors nor stop them under the first: only the outermost
    # one starts and stops the background work.
    app.state.lifespans = getattr(app.state, "lifespans", 0) + 1
    if app.state.lifespans > 1:
        try:
            yield
        finally:
            app.state.lifespans -= 1
        return
    settings: Settings = app.state.settings
    interval = settings.blob_sweep_interval_seconds
    task = asyncio.create_task(_sweep_periodically(app, interval)) if interval > 0 else None
    stop = threading.Event()
    worker_thread = None
    if settings.worker == "thread":
        # One worker renders everything, so two requests never fight over the cores.
        worker_thread = threading.Thread(
            target=app.state.worker.serve, args=(stop,), name="render-worker", daemon=True
        )
        worker_thread.start()
    try:
        yield
    finally:
        app.state.lifespans -= 1
        if task:
            task.cancel()
        if worker_thread:
            stop.set()
            app.state.worker.wake.set()
            worker_thread.join(timeout=60)  # a render in flight finishes; the queue keeps the rest
        app.state.worker.pool.close()
        app.state.engine.dispose()


async def _sweep_periodically(app: FastAPI, interval: int) -> None:
    while True:
        try:
            await asyncio.to_thread(run_blob_sweep, app)
        except Exception:
            log.exception("Blob sweep failed; will try again in %s s", interval)
        await asyncio.sleep(interval)
