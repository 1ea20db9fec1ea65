"""Shared FastAPI dependencies as `Annotated` aliases: database session, caller, role guards."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ganstudio.config import Settings
from ganstudio.db.tables import User
from ganstudio.inference.runner import RenderWorker
from ganstudio.roles import Role
from ganstudio.storage.blobs import BlobStore
from ganstudio.web.security import (
    SIGN_IN_FIRST,
    UNSAFE_METHODS,
    Caller,
    NotAuthenticatedError,
    RoleGuard,
    caller_from_request,
    check_csrf,
)

# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency on a
# threadpool thread, and each such hop (queue, wake-up, GIL hand-over) costs more than the
# work. Under 50 simultaneous page loads those hops, not the queries, set the tail latency.


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_db(request: Request) -> AsyncIterator[Session]:
    """Open one database session per request; routes commit what they change.

    Opening touches no database (the session connects on first use), so it runs inline; closing
    may roll back on the database, so it runs on a threadpool thread, off the event loop.
    """
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        await run_in_threadpool(session.close)


async def get_blobs(request: Request) -> BlobStore:
    return request.app.state.blobs


async def get_worker(request: Request) -> RenderWorker:
    """The app's render worker (routes wake it when they queue renders; status reads it)."""
    return request.app.state.worker


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]
BlobsDep = Annotated[BlobStore, Depends(get_blobs)]
WorkerDep = Annotated[RenderWorker, Depends(get_worker)]


def resolve_caller(request: Request, db: SessionDep) -> Caller | None:
    """Return the signed-in caller, or None for an anonymous request."""
    caller = caller_from_request(request, db)
    request.state.user = caller.user if caller else None
    return caller


MaybeCaller = Annotated[Caller | None, Depends(resolve_caller)]


async def require_caller(request: Request, caller: MaybeCaller) -> Caller:
    """Return the caller, refusing anonymous requests and cookie writes without a CSRF token."""
    if caller is None:
        raise NotAuthenticatedError(SIGN_IN_FIRST)
    if caller.via == "session" and request.method in UNSAFE_METHODS:
        await check_csrf(request)
    return caller


CurrentCaller = Annotated[Caller, Depends(require_caller)]


class RequireRole(RoleGuard):
    """`Depends(RequireRole(Role.QA))`: the signed-in user, if their role allows it."""

    async def __call__(self, caller: CurrentCaller) -> User:  # no I/O: no threadpool hop
        return self.check(caller)


ViewerUser = Annotated[User, Depends(RequireRole(Role.VIEWER))]
QAUser = Annotated[User, Depends(RequireRole(Role.QA))]
DeveloperUser = Annotated[User, Depends(RequireRole(Role.DEVELOPER))]
AdminUser = Annotated[User, Depends(RequireRole(Role.ADMIN))]
