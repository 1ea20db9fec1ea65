"""A web test can be found again: its address, and "Your recent web tests" (your own only)."""

import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ganstudio.roles import Role
from tests import imagegen
from tests.factories import bearer
from tests.web.compare_helpers import make_bench


def start(client: TestClient, token: str, n: int, name: str, versions: str = "v1,v2") -> str:
    response = client.post(
        "/api/v1/webtest",
        files={"image": (name, imagegen.distinct_png(n), "image/png")},
        data={"versions": versions, "filter": "toon"},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def recent_ids(page: str) -> list[str]:
    return re.findall(r'data-testid="webtest-recent-row" data-test-id="([^"]+)"', page)


def test_recent_web_tests_are_your_own_newest_first(
    client: TestClient, app: FastAPI, tokens: dict, signed_in, tmp_path: Path
) -> None:
    make_bench(app, tmp_path)
    first = start(client, tokens[Role.VIEWER], 1, "first.png")
    theirs = start(client, tokens[Role.DEVELOPER], 2, "theirs.png")
    second = start(client, tokens[Role.VIEWER], 3, "second.png", versions="v2")

    viewer, _ = signed_in(Role.VIEWER)
    page = viewer.get("/webtest").text
    assert recent_ids(page) == [second, first]
    assert f'href="/webtest?test={second}"' in page and theirs not in page
    assert "second.png" in page and "theirs.png" not in page
    row = page[page.index(f'data-test-id="{first}"') :].split("</tr>")[0]
    assert "Toon" in row and "v1, v2" in row

    # Developers may open anyone's web test, but the list is of their own only.
    developer, _ = signed_in(Role.DEVELOPER)
    assert recent_ids(developer.get("/webtest").text) == [theirs]

    qa, _ = signed_in(Role.QA)
    empty = qa.get("/webtest").text
    assert recent_ids(empty) == []
    assert "You have not web-tested a photo yet." in empty


def test_the_address_of_a_web_test_opens_it_for_its_owner_only(
    client: TestClient, app: FastAPI, tokens: dict, signed_in, tmp_path: Path
) -> None:
    make_bench(app, tmp_path, labels=("v1", "v2", "v3"))
    mine = start(client, tokens[Role.VIEWER], 1, "mine.png", versions="v1,v3")

    owner, _ = signed_in(Role.VIEWER)
    page = owner.get(f"/webtest?test={mine}").text
    assert f'data-open-tests="{mine}"' in page  # the page script reads it and shows the renders
    assert 'data-testid="webtest-opened-refusal"' not in page
    # The picker ticks the web test's own versions, for the next photo.
    ticked = re.findall(r'data-label="(v\d)" checked', page)
    assert ticked == ["v1", "v3"]

    # Anyone else (QA, another viewer): the API's refusal as a sentence, nothing to load.
    qa, _ = signed_in(Role.QA)
    refused = qa.get(f"/webtest?test={mine}")
    assert refused.status_code == 200
    assert 'data-open-tests=""' in refused.text
    refusal = re.search(r'data-testid="webtest-opened-refusal">([^<]+)<', refused.text)
    assert refusal is not None
    api = client.get(f"/api/v1/webtest/{mine}", headers=bearer(tokens[Role.QA])).json()
    said = refusal.group(1).replace("&#39;", "'")
    assert said == api["detail"].replace(
        "Start one on /webtest.", "Drop a photo here to start one of your own."
    )
    assert refusal.group(1).startswith("No web test of yours has the id")

    # A developer may open it, as through the API.
    developer, _ = signed_in(Role.DEVELOPER)
    assert f'data-open-tests="{mine}"' in developer.get(f"/webtest?test={mine}").text


def test_a_web_test_page_url_with_odd_test_ids_is_not_an_error(
    app: FastAPI, signed_in, tmp_path: Path
) -> None:
    make_bench(app, tmp_path)
    viewer, _ = signed_in(Role.VIEWER)
    page = viewer.get("/webtest?test=" + "x" * 500 + "&test=&test=%3Cb%3E")
    assert page.status_code == 200
    assert page.text.count('data-testid="webtest-opened-refusal"') == 3
    assert "<b>" not in page.text.split("webtest-opened-refusal")[3][:200]


def test_the_activity_line_of_a_web_test_links_it_for_its_owner_only(
    client: TestClient, app: FastAPI, tokens: dict, signed_in, tmp_path: Path
) -> None:
    make_bench(app, tmp_path)
    mine = start(client, tokens[Role.VIEWER], 1, "mine.png")

    def line(page: str) -> str:
        found = re.search(r'<a href="([^"]+)">web-tested a photo with 2 versions of Toon</a>', page)
        assert found is not None, page
        return found.group(1)

    owner, _ = signed_in(Role.VIEWER)
    assert line(owner.get("/").text) == f"/webtest?test={mine}"
    # Anyone else (developers and admins too) is sent to the filter: the id is not shown.
    for role in (Role.QA, Role.ADMIN):
        other, _ = signed_in(role)
        page = other.get("/").text
        assert line(page) == "/filters/toon" and mine not in page
    admin, _ = signed_in(Role.ADMIN)
    assert line(admin.get("/users").text) == "/filters/toon"


def test_the_api_lists_your_own_web_tests_newest_first(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    make_bench(app, tmp_path)
    first = start(client, tokens[Role.VIEWER], 1, "first.png")
    theirs = start(client, tokens[Role.ADMIN], 2, "theirs.png")
    second = start(client, tokens[Role.VIEWER], 3, "second.png", versions="v2")
    listed = client.get("/api/v1/webtest", headers=bearer(tokens[Role.VIEWER]))
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [item["id"] for item in items] == [second, first]
    assert items[0]["filename"] == "second.png" and items[0]["versions"] == ["v2"]
    assert items[0]["filter"] == "toon" and items[0]["page_url"] == f"/webtest?test={second}"
    assert items[0]["url"] == f"/api/v1/webtest/{second}"
    admin = client.get("/api/v1/webtest", headers=bearer(tokens[Role.ADMIN])).json()
    assert [item["id"] for item in admin["items"]] == [theirs]
    one = client.get("/api/v1/webtest?per_page=1", headers=bearer(tokens[Role.VIEWER])).json()
    assert [item["id"] for item in one["items"]] == [second]
    assert (
        client.get("/api/v1/webtest?per_page=0", headers=bearer(tokens[Role.VIEWER])).status_code
        == 422
    )
