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
from ganstudio.paths import resource_dir
from ganstudio.runtime import Runtime, open_runtime
from ganstudio.runtime import run_blob_sweep as runtime_blob_sweep
from ganstudio.services.throttle import SignInThrottle
from ganstudio.web.errors import install_error_handlers
from ganstudio.web.fragments import FragmentCache
from ganstudio.web.headers import SecurityHeaders
from ganstudio.web.limits import RequestBodyGuard, upload_routes
from ganstudio.web.routes import (
    admin,
    analyses,
    api_analyses,
    api_arena,
    api_comparisons,
    api_faces,
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
    faces,
    filters,
    pages,
    reports,
    reviews,
    samples,
    sets,
    system,
    users,
    webtest,
    workers,
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
        *(samples, sets, faces, api_samples, api_sets, api_faces),
        *(filters, api_filters),
        *(compare, webtest, api_comparisons, api_webtest),
        *(analyses, api_analyses),
        *(api_reviews, reviews, api_arena, arena, reports),
        admin,
        workers,
    )
)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Create GAN Studio on `settings`' data dir (or an open `runtime`), migrating its database."""
    runtime = runtime or open_runtime(settings or Settings())
    settings = runtime.settings

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
    app.state.runtime = runtime
    # Existing code and tests read these names; they are the runtime's own objects.
    app.state.settings = settings
    app.state.engine = runtime.engine
    app.state.sessions = runtime.sessions
    app.state.blobs = runtime.blobs
    # In the database: every web process (`serve --workers N`) counts the same attempts.
    app.state.throttle = SignInThrottle(sessions=runtime.sessions)
    app.state.pages = Pages(demo=settings.demo)
    app.state.fragments = FragmentCache()
    app.state.worker = runtime.worker

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


def app_from_environment() -> FastAPI:
    """The app of one web process of `ganstudio serve --workers N` (uvicorn's factory): its
    settings come from the GANSTUDIO_* environment, which the serve command set for them."""
    return create_app(Settings())


def run_blob_sweep(app: FastAPI) -> str:
    """Expire old web tests, then sweep unreferenced blobs once (see `runtime.run_blob_sweep`)."""
    return runtime_blob_sweep(app.state.runtime)


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
