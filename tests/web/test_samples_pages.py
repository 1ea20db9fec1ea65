"""The sample library's pages: grid, upload form, sample page, bulk actions, sets, escaping."""

import re

from fastapi.testclient import TestClient

from ganstudio.roles import Role
from tests import imagegen
from tests.web.samples_helpers import upload


def test_form_upload_without_javascript_reports_each_file(signed_in) -> None:
    browser, csrf = signed_in(Role.QA)
    response = browser.post(
        "/samples/upload",
        data={"csrf_token": csrf, "tags": "smile", "set": "Form set"},
        files=[
            ("files", ("good.png", imagegen.distinct_png(1), "image/png")),
            ("files", ("bad.png", b"<html>not an image</html>", "image/png")),
        ],
    )
    assert response.status_code == 200
    assert "1 added, 0 already in the library, 1 rejected" in response.text
    assert "bad.png</strong> — rejected: It is not an image" in response.text
    assert "Form set" in response.text


def test_grid_and_sample_page_escape_html(
    signed_in,
    client: TestClient,
    tokens: dict[Role, str],
) -> None:
    browser, csrf = signed_in(Role.QA)
    sid = upload(
        client, tokens[Role.QA], [("x.png", imagegen.distinct_png(2))], tags="<b>bold</b>"
    )["created"][0]["id"]
    browser.post(
        f"/samples/{sid}/note", data={"csrf_token": csrf, "note": "<script>alert(1)</script>"}
    )
    page = browser.get(f"/samples/{sid}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page
    grid = browser.get("/samples").text
    assert "&lt;b&gt;bold&lt;/b&gt;" in grid
    assert "<b>bold</b>" not in grid


def test_grid_empty_state_filters_and_pagination(
    signed_in,
    client: TestClient,
    tokens: dict[Role, str],
) -> None:
    browser, _ = signed_in(Role.VIEWER)
    assert "No samples yet" in browser.get("/samples").text
    files = [(f"p{i}.png", imagegen.distinct_png(400 + i)) for i in range(62)]
    upload(client, tokens[Role.QA], files, tags="many")
    first = browser.get("/samples").text
    assert first.count('class="tile') == 60
    assert "Page 1 of 2" in first
    assert 'name="ids"' not in first  # viewers get no selection boxes
    second = browser.get("/samples?page=2&tag=many").text
    assert second.count('class="tile') == 2
    assert "No sample matches" in browser.get("/samples?q=zzz").text


def test_bulk_tag_and_add_to_new_set_then_reorder_and_archive(
    signed_in,
    client: TestClient,
    tokens: dict[Role, str],
) -> None:
    browser, csrf = signed_in(Role.QA)
    ids = [
        c["id"]
        for c in upload(
            client,
            tokens[Role.QA],
            [(f"k{i}.png", imagegen.distinct_png(500 + i)) for i in range(3)],
        )["created"]
    ]
    tagged = browser.post(
        "/samples/bulk",
        data={
            "csrf_token": csrf,
            "action": "tag",
            "tags": "smile",
            "ids": ids[:2],
            "next": "/samples?q=k",
        },
    )
    assert "Tagged 2 sample(s) with smile." in tagged.text
    made = browser.post(
        "/samples/bulk",
        data={"csrf_token": csrf, "action": "add_to_set", "set": "Two smiles", "ids": ids[:2]},
        follow_redirects=False,
    )
    assert made.status_code == 303
    set_url = made.headers["location"]
    page = browser.get(set_url).text
    assert "Added 2 sample(s) to the set" in page
    order = re.findall(r'id="member-(\d+)"', page)
    assert order == [str(i) for i in ids[:2]]  # in upload order
    browser.post(
        f"{set_url}/order", data={"csrf_token": csrf, "sample_id": order[0], "position": 2}
    )
    moved = re.findall(r'id="member-(\d+)"', browser.get(set_url).text)
    assert moved == order[::-1]
    archived = browser.post(f"{set_url}/archive", data={"csrf_token": csrf, "archived": "true"})
    assert "Archived the set" in archived.text
    assert "Restore set" in archived.text
    refused = browser.post(
        f"{set_url}/order", data={"csrf_token": csrf, "sample_id": order[0], "position": 2}
    )
    assert refused.status_code == 409
    assert "Two smiles" in browser.get("/sets?archived=true").text
    assert "Two smiles" not in browser.get("/sets").text
    no_selection = browser.post("/samples/bulk", data={"csrf_token": csrf, "action": "archive"})
    assert no_selection.status_code == 422
    assert "Select at least one sample" in no_selection.text


def test_viewer_is_refused_qa_pages_and_posts(signed_in) -> None:
    browser, csrf = signed_in(Role.VIEWER)
    response = browser.get("/samples/upload")
    assert response.status_code == 403
    assert "needs the &#39;qa&#39; role" in response.text
    posted = browser.post("/sets", data={"csrf_token": csrf, "name": "x"})
    assert posted.status_code == 403
    assert browser.get("/sets").status_code == 200
    assert browser.get("/tags").status_code == 200


def test_tags_page_renames(
    signed_in,
    client: TestClient,
    tokens: dict[Role, str],
) -> None:
    browser, csrf = signed_in(Role.QA)
    upload(client, tokens[Role.QA], [("t.png", imagegen.distinct_png(9))], tags="glases")
    page = browser.post(
        "/tags/rename", data={"csrf_token": csrf, "name": "glases", "new_name": "glasses"}
    )
    assert "Renamed the tag to" in page.text
    assert ">glasses</a>" in page.text
