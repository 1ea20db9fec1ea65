"""Admins manage users in the page and the API; every change is audited."""

import html

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ganstudio.db.tables import AuditEvent
from ganstudio.roles import Role
from tests.conftest import sign_in
from tests.factories import bearer


def test_admin_adds_a_user_in_the_page_with_a_generated_password(signed_in, app: FastAPI) -> None:
    admin, csrf = signed_in(Role.ADMIN)
    page = admin.post("/users", data={"name": "Dana", "role": "qa", "csrf_token": csrf})
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Added dana (qa)" in text
    password = text.split('data-testid="new-password">')[1].split("<")[0]
    with TestClient(app) as newcomer:
        sign_in(newcomer, "dana", password)
        assert newcomer.get("/api/v1/me").json() == {
            "name": "dana",
            "role": "qa",
            "authenticated_via": "session",
        }
    with app.state.sessions() as session:
        query = select(AuditEvent).where(
            AuditEvent.action == "user.create", AuditEvent.actor_id.is_not(None)
        )
        event = session.scalars(query).one()  # the fixtures' users were made by no one
        assert event.detail == {"name": "dana", "role": "qa"}
        assert event.actor_id is not None and event.at is not None


def test_admin_changes_a_role_in_the_page(signed_in, app: FastAPI) -> None:
    admin, csrf = signed_in(Role.ADMIN)
    admin.post("/users/viewer-user", data={"role": "developer", "csrf_token": csrf})
    viewer, _ = signed_in(Role.VIEWER)  # the role_users key still names the same account
    assert viewer.get("/api/v1/me").json()["role"] == "developer"


def test_users_api_creates_lists_and_refuses_duplicates(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    created = client.post("/api/v1/users", json={"name": "eve", "role": "viewer"}, headers=admin)
    assert created.status_code == 201
    assert len(created.json()["password"]) >= 8
    given = client.post(
        "/api/v1/users",
        json={"name": "frank", "role": "qa", "password": "long enough pw"},
        headers=admin,
    )
    assert given.json()["password"] is None  # a chosen password is never echoed
    again = client.post("/api/v1/users", json={"name": "EVE", "role": "qa"}, headers=admin)
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]
    listing = client.get("/api/v1/users?per_page=2&page=2", headers=admin).json()
    assert listing["total"] == 6 and listing["page"] == 2 and len(listing["items"]) == 2


def test_bad_names_and_short_passwords_are_refused(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    for body, words in (
        ({"name": "../etc", "role": "qa"}, "not a valid user name"),
        ({"name": "<b>x</b>", "role": "qa"}, "not a valid user name"),
        ({"name": "gina", "role": "qa", "password": "short"}, "too short"),
    ):
        response = client.post("/api/v1/users", json=body, headers=admin)
        assert response.status_code == 422
        assert words in response.json()["detail"]
    assert client.get("/api/v1/users", headers=admin).json()["total"] == 4


def test_the_last_admin_cannot_be_demoted_or_deactivated(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    for change in ({"role": "viewer"}, {"active": False}):
        response = client.patch("/api/v1/users/admin-user", json=change, headers=admin)
        assert response.status_code == 409
        assert "last active admin" in response.json()["detail"]
    assert client.get("/api/v1/me", headers=admin).json()["role"] == "admin"
