"""Sign-in, sessions, CSRF, back-off, API tokens."""

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ganstudio.roles import Role
from ganstudio.services.throttle import FREE_ATTEMPTS
from tests.conftest import csrf_from, sign_in
from tests.factories import PASSWORD, bearer, make_user
from tests.web.session_helpers import age_sessions


def test_pages_require_sign_in_and_come_back_after_it(client: TestClient, app: FastAPI) -> None:
    make_user(app, name="alice")
    response = client.get("/users?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/users%3Fx%3D1"
    # A person is told to sign in, not how scripts send tokens (the API's 401 says that).
    shown = client.get("/login").text
    assert "Sign in to see that page." in shown and "Bearer" not in shown
    assert "Bearer" in client.get("/api/v1/filters").json()["detail"]
    page = client.get("/login?next=/account")
    response = client.post(
        "/login",
        data={
            "name": "Alice",
            "password": PASSWORD,
            "csrf_token": csrf_from(page.text),
            "next": "/account",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "Your account" in client.get("/account").text


def test_wrong_password_is_refused_and_signs_nobody_in(client: TestClient, app: FastAPI) -> None:
    make_user(app, name="alice")
    page = client.get("/login")
    response = client.post(
        "/login", data={"name": "alice", "password": "nope", "csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 401
    assert "Wrong user name or password" in response.text
    assert client.get("/api/v1/me").status_code == 401


def test_next_never_leaves_the_site(client: TestClient, app: FastAPI) -> None:
    make_user(app, name="alice")
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "name": "alice",
            "password": PASSWORD,
            "csrf_token": csrf_from(page.text),
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_login_without_csrf_token_is_refused(client: TestClient, app: FastAPI) -> None:
    make_user(app, name="alice")
    client.get("/login")
    response = client.post("/login", data={"name": "alice", "password": PASSWORD})
    assert response.status_code == 403
    assert "CSRF" in response.text
    assert client.get("/api/v1/me").status_code == 401


def test_form_post_without_csrf_changes_nothing(signed_in) -> None:
    browser, _csrf = signed_in(Role.ADMIN)
    response = browser.post("/users", data={"name": "mallory", "role": "admin"})
    assert response.status_code == 403
    assert "mallory" not in browser.get("/users").text
    response = browser.post(
        "/users", data={"name": "mallory", "role": "admin", "csrf_token": "forged"}
    )
    assert response.status_code == 403


def test_json_write_with_cookie_needs_the_csrf_header(signed_in) -> None:
    browser, csrf = signed_in(Role.VIEWER)
    assert browser.post("/api/v1/me/tokens", json={"label": "x"}).status_code == 403
    response = browser.post(
        "/api/v1/me/tokens", json={"label": "x"}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 201


def test_sign_out_ends_the_session(signed_in) -> None:
    browser, csrf = signed_in(Role.VIEWER)
    response = browser.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.headers["location"] == "/login"
    assert browser.get("/api/v1/me").status_code == 401


def test_expired_session_says_so(signed_in, app: FastAPI) -> None:
    browser, _ = signed_in(Role.VIEWER)
    age_sessions(app, last_seen_seconds=app.state.settings.session_idle_seconds + 5)
    response = browser.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["detail"] == "Your session has expired. Sign in again."
    page = browser.get("/account")  # the browser lands on the sign-in page with the reason
    assert page.url.path == "/login"


def test_password_change_signs_out_other_browsers(signed_in, app: FastAPI) -> None:
    first, csrf = signed_in(Role.VIEWER)
    second, _ = signed_in(Role.VIEWER)
    response = first.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": "a much newer one", "csrf_token": csrf},
    )
    assert response.status_code == 200
    assert first.get("/api/v1/me").status_code == 200
    assert second.get("/api/v1/me").status_code == 401


def test_failed_sign_ins_back_off(client: TestClient, app: FastAPI) -> None:
    make_user(app, name="alice")
    csrf = csrf_from(client.get("/login").text)
    for _ in range(FREE_ATTEMPTS):
        response = client.post(
            "/login", data={"name": "alice", "password": "wrong", "csrf_token": csrf}
        )
        assert response.status_code == 401
    response = client.post(
        "/login", data={"name": "alice", "password": PASSWORD, "csrf_token": csrf}
    )
    assert response.status_code == 429  # even the right password waits
    assert "Wait" in response.text
    assert int(response.headers["retry-after"]) >= 1


def test_api_token_authenticates_and_can_be_revoked(
    client: TestClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    token = tokens[Role.QA]
    me = client.get("/api/v1/me", headers=bearer(token)).json()
    assert me == {"name": "qa-user", "role": "qa", "authenticated_via": "token"}
    listed = client.get("/api/v1/me/tokens", headers=bearer(token)).json()
    assert token not in str(listed)  # the secret is never listed
    token_id = listed[0]["id"]
    assert client.delete(f"/api/v1/me/tokens/{token_id}", headers=bearer(token)).status_code == 200
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert "not valid" in response.json()["detail"]


def test_token_created_in_the_browser_is_shown_once(signed_in) -> None:
    browser, csrf = signed_in(Role.VIEWER)
    page = browser.post("/account/tokens", data={"label": "nightly", "csrf_token": csrf})
    token = page.text.split('data-testid="new-token">')[1].split("<")[0]
    assert browser.get("/api/v1/me", headers=bearer(token)).json()["name"] == "viewer-user"
    assert token not in browser.get("/account").text


def test_deactivated_user_cannot_sign_in_or_use_tokens(
    client: TestClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    response = client.patch("/api/v1/users/viewer-user", json={"active": False}, headers=admin)
    assert response.status_code == 200
    assert client.get("/api/v1/me", headers=bearer(tokens[Role.VIEWER])).status_code == 401
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"name": "viewer-user", "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 401


def test_sign_in_page_shows_demo_accounts_only_in_demo_mode(tmp_path) -> None:
    from ganstudio.app import create_app
    from ganstudio.demo import seed_demo_accounts
    from tests.conftest import make_settings

    for demo in (True, False):
        settings = make_settings(tmp_path / "data", demo=demo)
        app = create_app(settings)
        # Only the accounts: the page reads them, and the demo versions' checks take a minute
        # (tests/test_cli.py seeds the whole demo once).
        with app.state.sessions() as session:
            accounts = seed_demo_accounts(session, settings.resolved_data_dir)
            session.commit()
        with TestClient(app) as browser:
            page = browser.get("/login").text
            assert ("demo-accounts" in page) is demo
            assert (accounts[0]["password"] in page) is demo
            sign_in(browser, "demo-admin", accounts[-1]["password"])
            assert browser.get("/api/v1/me").json()["role"] == "admin"
