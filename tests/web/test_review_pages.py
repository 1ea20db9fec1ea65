"""The grid's review controls: pick toggles, comments in place, only one's own edited."""

import html

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ganstudio.roles import Role
from tests.web.test_reviews import rendered  # noqa: F401 - the fixture


def test_pick_toggles_and_comments_show_in_place(
    client: TestClient,
    app: FastAPI,
    signed_in,
    rendered: dict,  # noqa: F811
) -> None:
    browser, csrf = signed_in(Role.VIEWER)
    ref = rendered["comparison"]
    s0, v1 = rendered["samples"][0], rendered["versions"][0]
    star = f"/c/{ref}/picks?sample_id={s0}&version_id={v1}"
    page = browser.post(star, data={"csrf_token": csrf})  # the script-free form post
    assert "★ preferred in 1 of 1" in page.text
    assert 'aria-pressed="true"' in page.text
    picks = browser.post(star, data={"csrf_token": csrf}, headers={"Accept": "application/json"})
    assert picks.json() == {
        "mine": [],
        "row": {},
        "preferred": {},
        "rows_with_picks": 0,
        "leading": [],
    }
    assert "★ preferred in" not in browser.get(f"/c/{ref}").text  # nothing before a pick

    body = "<img src=x onerror=alert(1)> blurry *teeth*"
    page = browser.post(
        f"/c/{ref}/comments",
        data={"sample_id": s0, "version_id": v1, "csrf_token": csrf, "body": body},
    )
    text = page.text
    assert "<em>teeth</em>" in text and "<img src=x" not in text
    assert ">1 comment</button>" in text


def test_others_cannot_edit_or_delete_a_comment(
    client: TestClient,
    app: FastAPI,
    signed_in,
    rendered: dict,  # noqa: F811
) -> None:
    author, csrf = signed_in(Role.VIEWER)
    ref = rendered["comparison"]
    author.post(f"/c/{ref}/comments", data={"body": "mine", "csrf_token": csrf})
    comment_id = (
        app.state.sessions()
        .execute(__import__("sqlalchemy").text("select id from comments"))
        .scalar()
    )
    other, other_csrf = signed_in(Role.QA)
    refused = other.post(
        f"/c/{ref}/comments/{comment_id}", data={"body": "hijacked", "csrf_token": other_csrf}
    )
    assert refused.status_code == 403
    assert "only your own comments" in html.unescape(refused.text)
    gone = other.post(f"/c/{ref}/comments/{comment_id}/delete", data={"csrf_token": other_csrf})
    assert gone.status_code == 403
    assert "mine" in author.get(f"/c/{ref}").text
    empty = author.post(f"/c/{ref}/comments", data={"body": "  ", "csrf_token": csrf})
    assert empty.status_code == 422 and "empty" in empty.text


def test_arena_page_narrows_by_set_and_tag(
    client: TestClient,
    app: FastAPI,
    signed_in,
    rendered: dict,  # noqa: F811
) -> None:
    browser, _ = signed_in(Role.VIEWER)
    slug = rendered["slug"]
    page = browser.get(f"/filters/{slug}/arena?set=&tag=&versions=")  # the form's "any"
    assert page.status_code == 200
    assert f'data-next="/api/v1/filters/{slug}/arena/next"' in page.text
    page = browser.get(f"/filters/{slug}/arena?tag=face&versions=v1,v2")
    assert "arena/next?tag=face&amp;versions=v1%2Cv2" in page.text
    pair = browser.get(f"/api/v1/filters/{slug}/arena/next?tag=face&versions=v1,v2").json()
    assert pair["sample_id"] in rendered["samples"][1:]  # only the tagged samples


def test_cached_grid_changes_whenever_what_it_shows_changes(
    client: TestClient,
    app: FastAPI,
    signed_in,
    tokens: dict,
    rendered: dict,  # noqa: F811
) -> None:
    browser, _ = signed_in(Role.VIEWER)
    ref, (v1, _, _) = rendered["comparison"], rendered["versions"]
    first = browser.get(f"/c/{ref}").text
    assert browser.get(f"/c/{ref}").text == first  # unchanged: served from the cache
    assert app.state.fragments.hits >= 1
    api = {"Authorization": f"Bearer {tokens[Role.QA]}"}
    client.post(f"/api/v1/comparisons/{ref}/comments", headers=api, json={"body": "fresh note"})
    assert "fresh note" in browser.get(f"/c/{ref}").text
    client.post(
        f"/api/v1/comparisons/{ref}/picks",
        headers=api,
        json={"sample_id": rendered["samples"][0], "version_ids": [v1]},
    )
    assert "★ preferred in 1 of 1" in browser.get(f"/c/{ref}").text
    client.patch(
        f"/api/v1/versions/{v1}",
        json={"status": "approved"},
        headers={"Authorization": f"Bearer {tokens[Role.DEVELOPER]}"},
    )
    assert "status-approved" in browser.get(f"/c/{ref}").text
    other, _ = signed_in(Role.QA)  # another reader never sees this reader's cached page
    assert 'aria-pressed="true"' in other.get(f"/c/{ref}").text
    assert 'aria-pressed="true"' not in browser.get(f"/c/{ref}").text
