"""Sessions live on the server: sign-out, maximum age, revocation, no secret in the cookie."""

import html

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ganstudio.app import SESSION_COOKIE
from ganstudio.db.tables import UserSession
from ganstudio.roles import Role
from tests.factories import bearer
from tests.web.session_helpers import age_sessions, cookie_payload


def test_a_cookie_copied_before_sign_out_is_refused_after(signed_in, app: FastAPI) -> None:
    browser, csrf = signed_in(Role.VIEWER)
    copied = browser.cookies[SESSION_COOKIE]
    browser.post("/logout", data={"csrf_token": csrf})
    with TestClient(app, cookies={SESSION_COOKIE: copied}) as thief:
        response = thief.get("/api/v1/me")
        assert response.status_code == 401
        assert "signed out" in response.json()["detail"]
        assert thief.get("/account").url.path == "/login"


def test_a_session_past_its_maximum_age_is_refused_however_busy(signed_in, app: FastAPI) -> None:
    browser, _ = signed_in(Role.VIEWER)
    max_age = app.state.settings.session_max_age_seconds
    age_sessions(app, created_seconds=max_age - 60)
    assert browser.get("/api/v1/me").status_code == 200  # still young enough, and just used
    age_sessions(app, created_seconds=120)
    response = browser.get("/api/v1/me")
    assert response.status_code == 401
    assert "Sign in again" in response.json()["detail"]


def test_use_keeps_a_session_from_idling_out(signed_in, app: FastAPI) -> None:
    browser, _ = signed_in(Role.VIEWER)
    idle = app.state.settings.session_idle_seconds
    age_sessions(app, last_seen_seconds=idle - 10)
    assert browser.get("/api/v1/me").status_code == 200  # this use counts as activity…
    age_sessions(app, last_seen_seconds=20)
    assert browser.get("/api/v1/me").status_code == 200  # …so 20 s more are no longer too many


def test_the_cookie_carries_no_token_or_password(signed_in) -> None:
    viewer, csrf = signed_in(Role.VIEWER)
    page = viewer.post("/account/tokens", data={"label": "nightly", "csrf_token": csrf})
    token = page.text.split('data-testid="new-token">')[1].split("<")[0]
    assert token.startswith("gst_")
    assert token not in str(cookie_payload(viewer))
    assert set(cookie_payload(viewer)) <= {"sid", "csrf", "flash"}

    admin, admin_csrf = signed_in(Role.ADMIN)
    page = admin.post("/users", data={"name": "dana", "role": "qa", "csrf_token": admin_csrf})
    password = html.unescape(page.text).split('data-testid="new-password">')[1].split("<")[0]
    assert len(password) >= 8
    assert password not in str(cookie_payload(admin))
    assert password not in admin.get("/users").text  # shown once, in the answer to the post


def test_deactivation_and_password_reset_end_every_session(
    signed_in, client: TestClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    browser, _ = signed_in(Role.VIEWER)
    client.patch("/api/v1/users/viewer-user", json={"active": False}, headers=admin)
    client.patch("/api/v1/users/viewer-user", json={"active": True}, headers=admin)
    assert browser.get("/api/v1/me").status_code == 401  # reactivating revives no session
    browser, _ = signed_in(Role.VIEWER)
    client.patch("/api/v1/users/viewer-user", json={"password": "reset by admin"}, headers=admin)
    assert browser.get("/api/v1/me").status_code == 401


def test_account_page_lists_sessions_and_signs_out_the_others(signed_in, app: FastAPI) -> None:
    first, csrf = signed_in(Role.VIEWER)
    second, _ = signed_in(Role.VIEWER)
    third, third_csrf = signed_in(Role.VIEWER)
    page = first.get("/account").text
    assert page.count("this browser") == 1 and "Sign out other sessions" in page

    listed = third.get("/api/v1/me/sessions").json()
    assert len(listed) == 3 and sum(item["current"] for item in listed) == 1
    assert all("token" not in item and "sid" not in item for item in listed)
    second_id = next(item["id"] for item in listed if not item["current"])
    ended = third.delete(f"/api/v1/me/sessions/{second_id}", headers={"X-CSRF-Token": third_csrf})
    assert ended.status_code == 200
    assert {first.get("/api/v1/me").status_code, second.get("/api/v1/me").status_code} == {
        200,
        401,
    }

    first.post("/account/sessions/revoke-others", data={"csrf_token": csrf})
    assert first.get("/api/v1/me").status_code == 200
    assert third.get("/api/v1/me").status_code == 401
    with app.state.sessions() as db:
        live = db.scalars(select(UserSession).where(UserSession.revoked_at.is_(None))).all()
        assert len(live) == 1


def test_someone_elses_session_cannot_be_ended(signed_in) -> None:
    viewer, _ = signed_in(Role.VIEWER)
    qa, qa_csrf = signed_in(Role.QA)
    viewer_id = viewer.get("/api/v1/me/sessions").json()[0]["id"]
    response = qa.delete(f"/api/v1/me/sessions/{viewer_id}", headers={"X-CSRF-Token": qa_csrf})
    assert response.status_code == 404
    assert viewer.get("/api/v1/me").status_code == 200
    huge = qa.delete(f"/api/v1/me/sessions/{2**70}", headers={"X-CSRF-Token": qa_csrf})
    assert huge.status_code == 422
