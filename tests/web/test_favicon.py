"""The icon: linked from every page, and served at /favicon.ico to anyone (no 404 per page)."""

from fastapi.testclient import TestClient

from ganstudio.paths import resource_dir
from ganstudio.web.headers import PAGE_POLICY

ICON_LINK = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'


def test_favicon_is_served_without_sign_in_under_the_policy(client: TestClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.content == (resource_dir("static") / "favicon.svg").read_bytes()
    assert response.headers["content-security-policy"] == PAGE_POLICY
    linked = client.get("/static/favicon.svg")
    assert linked.status_code == 200 and linked.headers["content-type"].startswith("image/svg")


def test_pages_link_the_icon(client: TestClient) -> None:
    assert ICON_LINK in (resource_dir("templates") / "base.html").read_text()
    assert ICON_LINK in client.get("/login").text  # a page that extends base.html
