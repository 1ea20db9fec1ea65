"""Every integer a client can send is bounded to 64 bits, so none reaches the database and fails."""

from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from ganstudio.app import ROUTERS
from ganstudio.roles import Role
from tests.factories import bearer
from tests.web.compare_helpers import make_bench

INT_MAX = 2**63 - 1  # SQLite INTEGER, PostgreSQL BIGINT
HUGE = 31145811721665032192  # > 2**64, from the fuzzing report


def _unbounded_integers(schema: Any, defs: dict, path: str = "") -> list[str]:
    """Return where a JSON schema allows an integer without 64-bit bounds."""
    if isinstance(schema, list):
        return [hit for item in schema for hit in _unbounded_integers(item, defs, path)]
    if not isinstance(schema, dict):
        return []
    found = []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in defs.setdefault("_seen", set()):
            defs["_seen"].add(name)
            found += _unbounded_integers(defs[name], defs, f"{path}/{name}")
    low, high = schema.get("minimum", -INT_MAX - 2), schema.get("maximum", INT_MAX + 1)
    if schema.get("type") == "integer" and not (low >= -INT_MAX - 1 and high <= INT_MAX):
        found.append(path or "(value)")
    for key, value in schema.items():
        if key != "$defs" and isinstance(value, dict | list):
            found += _unbounded_integers(value, defs, f"{path}/{key}")
    return found


def _params(dependant: Dependant) -> list:
    """Return every parameter a route reads from a request, its dependencies' included."""
    own = [
        *dependant.path_params,
        *dependant.query_params,
        *dependant.header_params,
        *dependant.cookie_params,
        *dependant.body_params,
    ]
    return own + [p for sub in dependant.dependencies for p in _params(sub)]


def test_every_integer_parameter_of_every_route_is_bounded() -> None:
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert len(routes) > 50  # pages and API alike
    unbounded = []
    for route in routes:
        for param in _params(route.dependant):
            info = param.field_info
            annotation = info.annotation
            if info.metadata:
                annotation = Annotated[annotation, *info.metadata]
            schema = TypeAdapter(annotation).json_schema()
            for hit in _unbounded_integers(schema, dict(schema.get("$defs", {}))):
                unbounded.append(f"{route.path} {param.name}{hit}")
    assert not unbounded, "unbounded integers (use ganstudio.web.params): " + ", ".join(unbounded)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", f"/api/v1/jobs/{HUGE}", None),
        ("POST", f"/api/v1/jobs/{HUGE}/cancel", None),
        ("GET", f"/api/v1/sets?page={HUGE}", None),
        ("GET", f"/api/v1/sets?page={2**63 - 1}", None),
        ("GET", f"/api/v1/samples/{HUGE}", None),
        ("POST", "/api/v1/samples/bulk", {"ids": [-38613631167042961408], "add_tags": ["x"]}),
        ("PATCH", f"/api/v1/comments/{HUGE}", {"body": "hello"}),
        ("DELETE", f"/api/v1/comments/{HUGE}", None),
        ("GET", f"/api/v1/comparisons/{HUGE}", None),
        ("GET", f"/api/v1/versions/{HUGE}", None),
        ("GET", f"/api/v1/sets/{HUGE}", None),
        ("POST", "/api/v1/comparisons", {"filter": "toon", "set": str(HUGE)}),
        ("POST", "/api/v1/comparisons", {"filter": "toon", "samples": [HUGE]}),
    ],
)
def test_numbers_beyond_64_bits_are_refused_not_crashed(
    client: TestClient, tokens: dict[Role, str], method: str, url: str, body: object
) -> None:
    response = client.request(method, url, json=body, headers=bearer(tokens[Role.ADMIN]))
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]


def test_pages_read_ids_from_text_without_crashing(
    app: FastAPI, signed_in, tokens: dict[Role, str], tmp_path: Path
) -> None:
    bench = make_bench(app, tmp_path)
    api = TestClient(app)
    created = api.post(
        "/api/v1/comparisons",
        json={"filter": bench.slug, "set": bench.set_id, "versions": ["v1", "v2"]},
        headers=bearer(tokens[Role.VIEWER]),
    )
    assert created.status_code == 201, created.text
    browser, _csrf = signed_in(Role.VIEWER)
    comparison = created.json()["id"]
    # "²".isdigit() is True but int("²") fails; a 20-digit id does not fit a column.
    for url in (
        f"/c/{comparison}/live?waiting=%C2%B2,{HUGE},1",
        f"/filters/{bench.slug}/arena?set=%C2%B2",
        f"/filters/{bench.slug}/arena?set={HUGE}",
        f"/c/{HUGE}",
        f"/c/{comparison}/view?sample={HUGE}",
    ):
        response = browser.get(url)
        assert response.status_code < 500, (url, response.text[:300])
    assert (
        api.get("/api/v1/comparisons/%C2%B2", headers=bearer(tokens[Role.VIEWER])).status_code
        == 404
    )
