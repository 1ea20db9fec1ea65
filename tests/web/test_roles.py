"""The role matrix: every write route refuses the roles below the one it requires."""

import html

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from ganstudio.app import ROUTERS
from ganstudio.roles import Role
from ganstudio.web.deps import RequireRole
from ganstudio.web.limits import ANONYMOUS_BODY_ROUTES
from tests.factories import bearer

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Routes anyone may post to (signing in must work before one has a role): the body guard's list.
OPEN_WRITES = ANONYMOUS_BODY_ROUTES


def required_role(route: APIRoute) -> Role | None:
    """Return the role a route's dependencies demand (the highest RequireRole found)."""
    found: list[Role] = []
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, RequireRole):
            found.append(dependant.call.role)
        stack.extend(dependant.dependencies)
    return max(found, key=lambda role: role.rank) if found else None


def write_routes() -> list[tuple[str, str, APIRoute]]:
    return [
        (method, route.path, route)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods & WRITE_METHODS)
        if (method, route.path) not in OPEN_WRITES
    ]


def wants_json(path: str) -> bool:
    return path.startswith("/api/")


def fill_path(path: str) -> str:
    # Any value will do: the role check runs before the route looks anything up.
    return (
        path.replace("{name}", "someone")
        .replace("{token_id}", "1")
        .replace("{id}", "1")
        .replace("{slug}", "demo")
        .replace("{sha256}", "0" * 64)
    )


def test_every_write_route_declares_a_role() -> None:
    assert len(write_routes()) >= 8  # the walk finds the routes (it would pass vacuously if not)
    undeclared = [f"{m} {p}" for m, p, route in write_routes() if required_role(route) is None]
    assert not undeclared, f"write routes without a RequireRole dependency: {undeclared}"


def test_write_routes_refuse_lower_roles(
    client: TestClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    checked = 0
    for method, path, route in write_routes():
        minimum = required_role(route)
        assert minimum is not None
        for role in Role:
            if role.allows(minimum):
                continue
            response = client.request(method, fill_path(path), headers=bearer(tokens[role]))
            assert response.status_code == 403, (
                f"{role} got {response.status_code} on {method} {path}"
            )
            answer = response.json()["detail"] if wants_json(path) else html.unescape(response.text)
            assert f"needs the '{minimum.value}' role" in answer
            checked += 1
    assert checked > 0


def test_write_routes_refuse_anonymous_callers(client: TestClient, app: FastAPI) -> None:
    for method, path, _route in write_routes():
        response = client.request(method, fill_path(path), follow_redirects=False)
        assert response.status_code in (401, 303), f"{method} {path}: {response.status_code}"


def test_cookie_writes_by_lower_roles_are_refused_and_change_nothing(signed_in) -> None:
    browser, csrf = signed_in(Role.DEVELOPER)
    response = browser.post("/users", data={"name": "eve", "role": "admin", "csrf_token": csrf})
    assert response.status_code == 403
    assert "needs the 'admin' role" in html.unescape(response.text)
    admin, _ = signed_in(Role.ADMIN)
    assert 'data-user="eve"' not in admin.get("/users").text
