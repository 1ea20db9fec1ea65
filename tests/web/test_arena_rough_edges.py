"""Plurals, service messages' code spans, the one-version arena and the latency caveat."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ganstudio.roles import Role
from ganstudio.web.templating import active_nav, message_html, plural
from tests import checkpoints as ck
from tests.factories import bearer, make_filter, make_version


def test_plural_says_one_vote_and_two_votes() -> None:
    assert plural(1, "vote") == "1 vote"
    assert plural(0, "vote") == "0 votes"
    assert plural(2, "match", "matches") == "2 matches"
    assert plural(None, "version") == "0 versions"


def test_messages_show_code_spans_as_code_and_stay_escaped() -> None:
    html = str(message_html("Save it with `torch.save(net.state_dict())` <b>now</b>"))
    assert "<code>torch.save(net.state_dict())</code>" in html
    assert "`" not in html and "&lt;b&gt;now&lt;/b&gt;" in html


def test_arena_and_leaderboard_are_in_the_leaderboards_section() -> None:
    assert active_nav("/filters/toon/arena") == "/leaderboards"
    assert active_nav("/filters/toon/leaderboard") == "/leaderboards"
    assert active_nav("/filters/toon") == "/filters"
    assert active_nav("/versions/3") is None


def test_a_refused_push_shows_code_not_backticks_while_the_api_keeps_plain_text(
    signed_in, app: FastAPI, tokens: dict, tmp_path: Path, client: TestClient
) -> None:
    slug = make_filter(app)
    pickled = ck.full_module_pickle(tmp_path / "whole.pt")
    browser, csrf = signed_in(Role.DEVELOPER)
    page = browser.post(
        f"/filters/{slug}/versions",
        files={"checkpoint": ("whole.pt", pickled.read_bytes())},
        data={"label": "v1", "csrf_token": csrf},
    )
    assert page.url.path == f"/filters/{slug}"
    assert "<code>torch.save(net.state_dict(), &#39;v4.pt&#39;)</code>" in page.text
    assert "`torch.save" not in page.text
    api = client.post(
        f"/api/v1/filters/{slug}/versions",
        headers=bearer(tokens[Role.DEVELOPER]),
        files={"checkpoint": ("whole.pt", pickled.read_bytes())},
        data={"label": "v1"},
    )
    assert api.status_code in (400, 422) and "`torch.save(net.state_dict()" in api.json()["detail"]


def test_a_one_version_filter_offers_no_arena(signed_in, app: FastAPI, tmp_path: Path) -> None:
    slug = make_filter(app)
    version_id = make_version(
        app, filter_slug=slug, label="v1", checkpoint=ck.safetensors_file(tmp_path / "v1.st")
    )
    browser, _ = signed_in(Role.VIEWER)
    detail = browser.get(f"/filters/{slug}").text
    assert 'data-testid="arena-link"' not in detail
    assert "the arena needs two versions" in detail
    arena = browser.get(f"/filters/{slug}/arena").text
    assert 'data-testid="arena"' not in arena and "The arena needs two versions" in arena
    assert "1 version to vote on" in arena
    assert "1 versions" not in detail + arena

    version = browser.get(f"/versions/{version_id}").text
    assert "measured once when v1 was pushed" in version and "may include load" in version


def test_filters_archive_and_restore_hidden_from_lists_and_pickers(
    signed_in, app: FastAPI, tokens: dict, client: TestClient
) -> None:
    keep, old = make_filter(app, name="Keep"), make_filter(app, name="Old test")
    headers = bearer(tokens[Role.DEVELOPER])
    archived = client.patch(f"/api/v1/filters/{old}", headers=headers, json={"archived": True})
    assert archived.status_code == 200 and archived.json()["archived"] is True
    listed = client.get("/api/v1/filters", headers=headers).json()
    assert [f["slug"] for f in listed["items"]] == [keep]
    everything = client.get("/api/v1/filters?archived=true", headers=headers).json()
    assert {f["slug"] for f in everything["items"]} == {keep, old}
    viewer = client.patch(
        f"/api/v1/filters/{old}", headers=bearer(tokens[Role.VIEWER]), json={"archived": False}
    )
    assert viewer.status_code == 403

    browser, csrf = signed_in(Role.DEVELOPER)
    for page in ("/filters", "/compare", "/webtest", "/leaderboards"):
        assert "Old test" not in browser.get(page).text, page
    assert "Old test" in browser.get("/filters?archived=true").text
    assert 'data-testid="filter-archived"' in browser.get(f"/filters/{old}").text
    restored = browser.post(
        f"/filters/{old}/archive", data={"archived": "false", "csrf_token": csrf}
    )
    assert restored.url.path == f"/filters/{old}" and "Restored Old test" in restored.text
    assert "Old test" in browser.get("/filters").text
    assert "restored the filter Old test" in browser.get("/").text


def test_the_home_page_says_what_each_role_may_do_in_a_sentence(signed_in) -> None:
    for role, says in [
        (Role.VIEWER, "you may browse, compare, web test, comment and vote."),
        (Role.QA, "you may do everything a viewer may, and manage samples and sample sets."),
        (Role.DEVELOPER, "you may do everything QA may, and manage filters and versions."),
        (Role.ADMIN, "you may do everything, and manage users."),
    ]:
        browser, _ = signed_in(role)
        assert says in browser.get("/").text


def test_each_home_card_says_what_its_section_is_for(signed_in) -> None:
    from markupsafe import escape

    from ganstudio.web.templating import NAVIGATION

    browser, _ = signed_in(Role.ADMIN)
    home = browser.get("/").text
    for item in NAVIGATION:
        card = home.split(f'<a class="card link-card" href="{item.href}">')[1].split("</a>")[0]
        assert item.blurb and f'<p class="muted">{escape(item.blurb)}</p>' in card, item
