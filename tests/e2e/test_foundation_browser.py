"""In a real browser: each demo role signs in, sees its navigation, signs out; refusals show."""

import pytest

from ganstudio.roles import Role
from tests.e2e.conftest import LiveServer, sign_in_page

pytestmark = pytest.mark.browser

EVERYONE = ["Samples", "Filters", "Compare", "Analyses", "Web test", "Leaderboards"]


@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_its_navigation_and_signs_out(
    page, live_server: LiveServer, role: Role
) -> None:
    page.goto("/")
    assert "/login" in page.url  # reading requires signing in
    sign_in_page(page, live_server.users[role])
    assert page.get_by_test_id("user-role").inner_text() == role.value
    nav = page.get_by_role("navigation", name="Main")
    labels = nav.get_by_role("link").all_inner_texts()
    expected = [*EVERYONE, "Users", "Status", "Workers"] if role is Role.ADMIN else EVERYONE
    assert labels == expected
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    assert page.get_by_text("You are signed out.").is_visible()
    page.goto("/account")
    assert "/login" in page.url


def test_wrong_password_shows_why(page, live_server: LiveServer) -> None:
    page.goto("/login")
    page.get_by_label("User name").fill(live_server.users[Role.VIEWER])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert "Wrong user name or password" in page.get_by_test_id("login-error").inner_text()


def test_viewer_is_refused_an_admin_page(page, live_server: LiveServer) -> None:
    sign_in_page(page, live_server.users[Role.VIEWER])
    response = page.goto("/users")
    assert response.status == 403
    assert "needs the 'admin' role" in page.get_by_test_id("error-message").inner_text()


def test_admin_adds_a_user_who_can_then_sign_in(page, live_server: LiveServer) -> None:
    sign_in_page(page, live_server.users[Role.ADMIN])
    page.goto("/users")
    form = page.get_by_test_id("add-user")
    form.get_by_label("Name").fill("carol")
    form.get_by_label("Role").select_option("qa")
    form.get_by_role("button", name="Add").click()
    password = page.get_by_test_id("new-password").inner_text()
    page.get_by_role("button", name="Sign out").click()
    sign_in_page(page, "carol", password)
    assert page.get_by_test_id("user-role").inner_text() == "qa"
