"""Security headers on every response, and the Content-Security-Policy of pages and reports."""

import base64
import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Pages load scripts, styles, fonts and data only from this server; no inline script, no
# inline style attribute, no eval (htmx's is switched off in base.html), no plugins, no framing.
# Images may also be data: URIs (the docs' icons) and blob: URLs (web-test previews).
PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)

HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


def style_hash(css: str) -> str:
    """Return the CSP source that allows exactly this inline <style> element's text."""
    digest = hashlib.sha256(css.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def report_policy(css: str) -> str:
    """Return the policy of a downloaded report: its own style and data: images, nothing else.

    The file opens offline, so it needs nothing from any server; a comment that slipped an
    image or a script past the sanitiser still loads nothing and runs nothing.
    """
    return "; ".join(
        (
            "default-src 'none'",
            f"style-src {style_hash(css)}",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )


def frame_ancestors_none(policy: str) -> str:
    """Return `policy` as a header, where (unlike in a <meta> tag) framing can be refused too."""
    return f"{policy}; frame-ancestors 'none'"


class SecurityHeaders:
    """ASGI middleware adding headers that keep pages from being framed, sniffed or injected."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *HEADERS]
                # A response with a policy of its own (the report) keeps it.
                if not any(name.lower() == b"content-security-policy" for name, _ in headers):
                    headers.append((b"content-security-policy", PAGE_POLICY.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
