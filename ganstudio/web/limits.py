"""Guard request bodies before anything reads them: sign-in first, then a size limit per route.

A body is read only when the request is signed in (a live session or a valid bearer token;
the sign-in form is the one exception), and only up to a limit: `max_upload_bytes` on upload
routes (those taking a `File()` parameter), `max_body_bytes` (about 1 MiB) on every other route
for JSON and forms, and `ANONYMOUS_MAX_BODY_BYTES` on the sign-in form.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ganstudio.web.errors import not_authenticated_response, wants_json
from ganstudio.web.security import NotAuthenticatedError, require_credentials

# (method, path) of the routes that take a body from anyone: signing in needs no session.
ANONYMOUS_BODY_ROUTES = frozenset({("POST", "/login")})
ANONYMOUS_MAX_BODY_BYTES = 64 * 1024  # a name, a password and a next URL


class _BodyTooLargeError(BaseException):
    # A BaseException, so that body parsers that catch Exception (FastAPI turns those into a
    # vague 400) let it reach this middleware, which answers a clear 413.
    pass


@dataclass(frozen=True)
class UploadRoute:
    methods: frozenset[str]
    path_regex: re.Pattern[str]

    def matches(self, method: str, path: str) -> bool:
        return method in self.methods and self.path_regex.match(path) is not None


def upload_routes(routes: Iterable[BaseRoute]) -> list[UploadRoute]:
    """Return the routes that take a file (a `File()` parameter, here or in a dependency)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute) and _takes_a_file(route.dependant):
            found.append(UploadRoute(frozenset(route.methods or ()), route.path_regex))
    return found


def _takes_a_file(dependant: Dependant) -> bool:
    stack = [dependant]
    while stack:
        current = stack.pop()
        if any(isinstance(field.field_info, params.File) for field in current.body_params):
            return True
        stack.extend(current.dependencies)
    return False


class RequestBodyGuard:
    """ASGI middleware: 401 for an anonymous body, 413 for one over its route's limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_upload_bytes: int,
        uploads: list[UploadRoute],
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if b"transfer-encoding" not in headers and declared in (None, b"0"):
            await self.app(scope, receive, send)  # no body to guard
            return
        method, path = scope["method"], scope["path"]
        anonymous_allowed = (method, path) in ANONYMOUS_BODY_ROUTES
        if anonymous_allowed:
            limit, kind = min(self.max_body_bytes, ANONYMOUS_MAX_BODY_BYTES), "sign-in"
        elif any(upload.matches(method, path) for upload in self.uploads):
            limit, kind = self.max_upload_bytes, "upload"
        else:
            limit, kind = self.max_body_bytes, "body"
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse_too_large(scope, send, limit=limit, kind=kind)
            return
        if not anonymous_allowed:
            # Sign-in is checked in a thread: it reads the database.
            problem = await run_in_threadpool(_sign_in_problem, scope)
            if problem is not None:
                response = not_authenticated_response(Request(scope), problem)
                response.headers["Connection"] = "close"  # the unread body cannot be skipped
                await response(scope, receive, send)
                return
        await self._pass_counting(scope, receive, send, limit=limit, kind=kind)

    async def _pass_counting(
        self, scope: Scope, receive: Receive, send: Send, *, limit: int, kind: str
    ) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLargeError:
            if not started:
                await _refuse_too_large(scope, send, limit=limit, kind=kind)


def _sign_in_problem(scope: Scope) -> str | None:
    request = Request(scope)
    with request.app.state.sessions() as db:
        try:
            require_credentials(request, db)
        except NotAuthenticatedError as exc:
            return exc.message
    return None


def _limit_message(limit: int, kind: str) -> str:
    size = f"{limit / (1024 * 1024):.0f} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
    if kind == "upload":
        return (
            f"The request is larger than the {size} upload limit. Send fewer or smaller files "
            "at a time (an admin can raise GANSTUDIO_MAX_UPLOAD_BYTES)."
        )
    if kind == "sign-in":
        return f"A sign-in form is at most {size}; send just a name and a password."
    return (
        f"The request body is larger than the {size} limit for forms and JSON. Files go to the "
        "upload routes (samples, masks, checkpoints, web test photos); for long lists, send "
        "several smaller requests (an admin can raise GANSTUDIO_MAX_BODY_BYTES)."
    )


async def _refuse_too_large(scope: Scope, send: Send, *, limit: int, kind: str) -> None:
    message = _limit_message(limit, kind)
    if wants_json(Request(scope)):
        body = json.dumps({"detail": message}).encode()
        content_type = b"application/json"
    else:
        body = (
            "<!doctype html><title>Too large</title><h1>413 — too large</h1>"
            f"<p>{message}</p><p><a href='javascript:history.back()'>Go back</a></p>"
        ).encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
