"""Refuse request bodies over the upload limit before they are read into memory or disk."""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _BodyTooLargeError(BaseException):
    # A BaseException, so that body parsers that catch Exception (FastAPI turns those into a
    # vague 400) let it reach this middleware, which answers a clear 413.
    pass


class BodySizeLimit:
    """ASGI middleware: 413 for a declared or streamed body larger than `max_bytes`."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
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
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        limit_mib = self.max_bytes / (1024 * 1024)
        message = (
            f"The request is larger than the {limit_mib:.0f} MiB upload limit. Send fewer or "
            "smaller files at a time (an admin can raise GANSTUDIO_MAX_UPLOAD_BYTES)."
        )
        if scope["path"].startswith("/api/"):
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
