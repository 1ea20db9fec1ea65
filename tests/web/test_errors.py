"""Errors are clear: JSON on /api, friendly pages in the browser, never a 500 for bad input."""

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ganstudio.roles import Role
from tests.conftest import make_settings
from tests.factories import bearer


def test_unknown_page_is_a_friendly_404(signed_in) -> None:
    browser, _ = signed_in(Role.VIEWER)
    response = browser.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "There is nothing at /no/such/page" in response.text
    assert 'data-testid="user-name"' in response.text  # the page keeps the navigation


def test_unknown_api_path_is_json(client: TestClient, tokens: dict[Role, str]) -> None:
    response = client.get("/api/v1/nothing-here", headers=bearer(tokens[Role.VIEWER]))
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_unknown_user_id_is_a_clear_404(client: TestClient, tokens: dict[Role, str]) -> None:
    response = client.patch(
        "/api/v1/users/nobody", json={"role": "qa"}, headers=bearer(tokens[Role.ADMIN])
    )
    assert response.status_code == 404
    assert "No user named 'nobody'" in response.json()["detail"]


def test_validation_errors_are_one_readable_sentence(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    response = client.post(
        "/api/v1/users", json={"name": "x1", "role": "boss"}, headers=bearer(tokens[Role.ADMIN])
    )
    assert response.status_code == 422
    body = response.json()
    assert isinstance(body["detail"], str)
    assert "role" in body["detail"] and "Fix them and resend" in body["detail"]
    assert body["errors"][0]["loc"] == ["body", "role"]


def test_malformed_json_is_a_4xx(client: TestClient, tokens: dict[Role, str]) -> None:
    response = client.post(
        "/api/v1/users",
        content=b"{not json",
        headers={**bearer(tokens[Role.ADMIN]), "content-type": "application/json"},
    )
    assert response.status_code == 422


def test_oversize_body_is_refused_before_it_is_read(tmp_path) -> None:
    from ganstudio.app import create_app
    from tests.factories import make_token, make_user

    app = create_app(make_settings(tmp_path / "data", max_body_bytes=1024))
    make_user(app, name="alice")
    auth = bearer(make_token(app, name="alice"))
    with TestClient(app) as client:
        response = client.post("/api/v1/me/tokens", content=b"x" * 5000, headers=auth)
        assert response.status_code == 413
        assert "1 KiB limit for forms and JSON" in response.json()["detail"]
        page = client.post("/login", content=b"x" * 5000)
        assert page.status_code == 413 and "sign-in form is at most 1 KiB" in page.text

        def chunks():
            for _ in range(10):
                yield b"y" * 500

        streamed = client.post("/api/v1/me/tokens", content=chunks(), headers=auth)
        assert streamed.status_code == 413


def test_html_in_names_is_escaped(signed_in, client: TestClient, tokens) -> None:
    response = client.post(
        "/api/v1/me/tokens",
        json={"label": "<script>alert(1)</script>"},
        headers=bearer(tokens[Role.VIEWER]),
    )
    assert response.status_code == 201
    browser, _ = signed_in(Role.VIEWER)
    page = browser.get("/account").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_security_headers_on_every_page(client: TestClient) -> None:
    response = client.get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_health_and_docs(client: TestClient, app: FastAPI) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/me" in paths and "/api/v1/users" in paths
