"""Request bodies: anonymous ones refused unread; 1 MiB for JSON and forms, more for uploads."""

import asyncio
import json

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ganstudio.app import ROUTERS
from ganstudio.roles import Role
from ganstudio.web.limits import ANONYMOUS_BODY_ROUTES, upload_routes
from tests import imagegen
from tests.factories import bearer
from tests.web.session_helpers import age_sessions

MiB = 1024 * 1024


def call_asgi(
    app: FastAPI, path: str, *, body_size: int, headers: list[tuple[bytes, bytes]]
) -> tuple[int, int, bytes]:
    """Send a request straight to the ASGI app; return its status, the body bytes it read, and
    the response body."""
    read = 0
    sent = 0
    chunk = b"[" + b"0," * (MiB // 2 - 1) + b"0]"  # valid JSON, in 1 MiB pieces
    answer: list[dict] = []

    async def receive() -> dict:
        nonlocal read, sent
        if sent >= body_size:
            return {"type": "http.disconnect"}
        sent += len(chunk)
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": sent < body_size}

    async def send(message: dict) -> None:
        answer.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"studio.test"), *headers],
        "client": ("203.0.113.9", 50000),
        "server": ("studio.test", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in answer if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in answer if m["type"] == "http.response.body")
    return start["status"], read, body


def test_an_anonymous_body_is_refused_before_one_byte_is_read(app: FastAPI) -> None:
    json_type = (b"content-type", b"application/json")
    for framing in (
        (b"content-length", str(100 * MiB).encode()),
        (b"transfer-encoding", b"chunked"),
    ):
        status, read, body = call_asgi(
            app, "/api/v1/comparisons", body_size=100 * MiB, headers=[json_type, framing]
        )
        # Declared too large: 413 at once, no database look-up; chunked: 401, not signed in.
        assert status in (401, 413) and read == 0, framing
        assert json.loads(body)["detail"]
    # Even within the limit, an anonymous body stays unread; so does one with a bad token.
    for auth in ([], [(b"authorization", b"Bearer gst_forged")]):
        status, read, body = call_asgi(
            app,
            "/api/v1/comparisons",
            body_size=MiB // 2,
            headers=[json_type, (b"content-length", str(MiB // 2).encode()), *auth],
        )
        assert (status, read) == (401, 0)
        assert "Sign in" in json.loads(body)["detail"] or "not valid" in json.loads(body)["detail"]


def test_browsers_posting_anonymously_are_sent_to_sign_in_unread(client: TestClient) -> None:
    response = client.post(
        "/samples/upload",
        files={"files": ("a.png", imagegen.distinct_png(1), "image/png")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/samples/upload"
    assert "Sign in to see that page." in client.get("/login").text


def test_an_ended_session_is_refused_its_body_with_the_reason(signed_in, app: FastAPI) -> None:
    browser, csrf = signed_in(Role.ADMIN)
    age_sessions(app, last_seen_seconds=app.state.settings.session_idle_seconds + 5)
    response = browser.post(
        "/users", data={"name": "mallory", "role": "qa", "csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert "Your session has expired" in browser.get("/login").text


def test_signed_in_json_over_the_body_limit_is_413_with_a_clear_message(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    two_mib = b'{"title": "' + b"x" * (2 * MiB) + b'"}'
    headers = {**bearer(tokens[Role.VIEWER]), "content-type": "application/json"}
    response = client.post("/api/v1/comparisons", content=two_mib, headers=headers)
    assert response.status_code == 413
    assert "1 MiB limit for forms and JSON" in response.json()["detail"]

    def chunks():  # no content-length: counted as it arrives
        for start in range(0, len(two_mib), 64 * 1024):
            yield two_mib[start : start + 64 * 1024]

    streamed = client.post("/api/v1/comparisons", content=chunks(), headers=headers)
    assert streamed.status_code == 413


def test_signed_in_browser_form_over_the_body_limit_is_413(signed_in) -> None:
    browser, csrf = signed_in(Role.ADMIN)
    response = browser.post(
        "/users", data={"name": "x" * (2 * MiB), "role": "qa", "csrf_token": csrf}
    )
    assert response.status_code == 413
    assert "limit for forms and JSON" in response.text


def test_a_large_multipart_upload_still_works(
    client: TestClient, tokens: dict[Role, str], signed_in
) -> None:
    photo = imagegen.distinct_png(7, size=(1100, 1000))
    assert len(photo) > 3 * MiB  # three times the limit for JSON and forms
    response = client.post(
        "/api/v1/samples",
        files={"files": ("big.png", photo, "image/png")},
        headers=bearer(tokens[Role.QA]),
    )
    assert response.status_code in (200, 201), response.text
    assert [item["filename"] for item in response.json()["created"]] == ["big.png"]
    browser, csrf = signed_in(Role.QA)
    page = browser.post(
        "/samples/upload",
        files={"files": ("big2.png", imagegen.distinct_png(8, size=(1100, 1000)), "image/png")},
        data={"csrf_token": csrf},
    )
    assert page.status_code == 200 and "big2.png" in page.text


def test_the_sign_in_form_takes_a_small_anonymous_body(client: TestClient) -> None:
    response = client.post("/login", content=b"name=" + b"x" * (100 * 1024))
    assert response.status_code == 413
    assert "sign-in form" in response.text


def test_every_file_route_gets_the_upload_limit() -> None:
    uploads = upload_routes(route for router in ROUTERS for route in router.routes)
    for method, path in (
        ("POST", "/api/v1/samples"),
        ("PUT", "/api/v1/samples/3/mask"),
        ("POST", "/api/v1/filters/toon/versions"),
        ("POST", "/api/v1/webtest"),
        ("POST", "/samples/upload"),
        ("POST", "/filters/toon/versions"),
    ):
        assert any(upload.matches(method, path) for upload in uploads), (method, path)
    for method, path in (
        ("POST", "/api/v1/comparisons"),
        ("GET", "/api/v1/samples"),
        *ANONYMOUS_BODY_ROUTES,
    ):
        assert not any(upload.matches(method, path) for upload in uploads), (method, path)
