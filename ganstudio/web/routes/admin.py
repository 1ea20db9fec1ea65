"""Admin status: which sandbox runs pushed networks, the render worker and its executors."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ganstudio.inference.runner import RenderWorker
from ganstudio.services import status as status_service
from ganstudio.services.status import SystemStatus
from ganstudio.web.deps import AdminUser, SessionDep, SettingsDep, WorkerDep
from ganstudio.web.schemas.status import SandboxPublic, StatusPublic, sandbox_public, status_public
from ganstudio.web.templating import flash

router = APIRouter(tags=["admin"])


def _status(db: SessionDep, settings: SettingsDep, worker: RenderWorker) -> SystemStatus:
    return status_service.system_status(db, settings=settings, worker=worker)


@router.get("/admin/status", include_in_schema=False)
def read_status_page(
    request: Request, db: SessionDep, settings: SettingsDep, worker: WorkerDep, _admin: AdminUser
) -> Response:
    """Show the sandbox's measurements, the queue and the warm executors."""
    return request.app.state.pages.render(
        request, "admin/status.html", {"status": _status(db, settings, worker)}
    )


@router.post("/admin/status/selftest", include_in_schema=False)
async def run_selftest_page(request: Request, settings: SettingsDep, _admin: AdminUser) -> Response:
    """Measure the sandbox in a fresh executor, then show the result."""
    sandbox = await run_in_threadpool(status_service.run_self_test, settings=settings)
    level = "success" if sandbox.active else "warning"
    flash(request, f"Self-test done: {sandbox.summary}.", level)
    return RedirectResponse("/admin/status", status_code=303)


@router.get("/api/v1/status")
def read_status(
    db: SessionDep, settings: SettingsDep, worker: WorkerDep, _admin: AdminUser
) -> StatusPublic:
    """Return the sandbox's newest measurement, the render queue and the warm executors."""
    return status_public(_status(db, settings, worker))


@router.post("/api/v1/status/selftest")
async def run_selftest(settings: SettingsDep, _admin: AdminUser) -> SandboxPublic:
    """Start a fresh executor, try what a hostile network would, and return what was blocked."""
    return sandbox_public(await run_in_threadpool(status_service.run_self_test, settings=settings))
