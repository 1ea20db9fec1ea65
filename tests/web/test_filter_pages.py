"""Filter, tree and version pages: safe Markdown, lineage, status, pagination at scale."""

import html
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from ganstudio.db.base import utcnow
from ganstudio.db.tables import Version
from ganstudio.roles import Role
from ganstudio.services import filters as filters_service
from ganstudio.vocabulary import VersionStatus
from tests import checkpoints as ck
from tests.web.test_versions import push


def seed_versions(app: FastAPI, count: int) -> str:
    """Insert `count` versions in a chain with two branches, straight into the table."""
    with app.state.sessions() as session:
        filter_ = filters_service.create_filter(session, name="Big", actor=None)
        start = utcnow() - timedelta(days=count)
        parent_id = None
        for n in range(count):
            version = Version(
                filter_id=filter_.id,
                label=f"v{n}",
                parent_id=parent_id,
                branch="main" if n % 3 else "eyemask",
                notes="",
                status=VersionStatus.CANDIDATE,
                checkpoint_sha256=f"{n:064x}",
                checkpoint_filename="x.safetensors",
                checkpoint_size=1,
                checkpoint_format="safetensors",
                architecture="se-unet",
                config={},
                input_channels=3,
                param_count=1000 + n,
                gflops_512=1.0,
                latency_ms_512=5.0,
                created_at=start + timedelta(hours=n),
            )
            session.add(version)
            session.flush()
            parent_id = version.id
        session.commit()
        return filter_.slug


def count_queries(app: FastAPI) -> list[str]:
    statements: list[str] = []
    event.listen(
        app.state.engine, "before_cursor_execute", lambda *args: statements.append(args[2])
    )
    return statements


def test_tree_page_is_paginated_and_queries_stay_few_at_1200_versions(
    signed_in, app: FastAPI
) -> None:
    slug = seed_versions(app, 1200)
    browser, _ = signed_in(Role.VIEWER)
    statements = count_queries(app)
    page = browser.get(f"/filters/{slug}")
    assert page.status_code == 200
    assert page.text.count('data-testid="tree-node"') == 50
    assert "Page 1 of 24 (1200 versions)" in page.text
    assert len(statements) < 20, f"{len(statements)} queries: N+1?"
    older = browser.get(f"/filters/{slug}?page=24")
    assert older.text.count('data-testid="tree-node"') == 50
    assert 'data-label="v0"' in older.text and 'data-label="v1199"' not in older.text
    branch = browser.get(f"/filters/{slug}?branch=eyemask")
    assert "Page 1 of 8 (400 versions)" in branch.text
    # The pager keeps the filter.
    assert 'href="?branch=eyemask&amp;page=2" rel="next"' in branch.text


def test_version_page_shows_safe_markdown_stats_and_lineage(
    client: TestClient, signed_in, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    dev = {"Authorization": f"Bearer {tokens[Role.DEVELOPER]}"}
    slug = client.post("/api/v1/filters", json={"name": "Toon"}, headers=dev).json()["slug"]
    notes = "Trained **longer**.\n\n<script>alert('x')</script> <img src=x onerror=alert(1)>"
    v1 = push(client, dev, slug, ck.safetensors_file(tmp_path / "a.st"), label="v1").json()
    v2 = push(
        client,
        dev,
        slug,
        ck.safetensors_file(tmp_path / "b.st", seed=1),
        label="v2",
        parent="v1",
        notes=notes,
    ).json()
    browser, csrf = signed_in(Role.DEVELOPER)
    page = browser.get(f"/versions/{v2['id']}").text
    assert "<strong>longer</strong>" in page
    assert "<script>alert" not in page and "<img" not in page  # shown as text, never as tags
    assert f'href="/versions/{v1["id"]}"' in page
    assert "compare with parent" in page
    assert f"/api/v1/versions/{v2['id']}/checkpoint" in page
    parent_page = browser.get(f"/versions/{v1['id']}").text
    assert f'href="/versions/{v2["id"]}">v2</a>' in parent_page  # children listed

    browser.post(f"/versions/{v2['id']}", data={"status": "production", "csrf_token": csrf})
    tree = browser.get(f"/filters/{slug}").text
    assert "production: v2" in html.unescape(tree)
    assert tree.count("node-production") == 1


def test_developer_creates_a_filter_and_pushes_from_the_page(signed_in, tmp_path: Path) -> None:
    browser, csrf = signed_in(Role.DEVELOPER)
    created = browser.post(
        "/filters",
        data={"name": "Web Toon", "pipeline": "face", "input_size": "256", "csrf_token": csrf},
    )
    assert created.url.path == "/filters/web-toon"
    # Face filters say what their pipeline does (it once said it was not built yet).
    assert "cut to an eyes-level square, converted at 256 px" in created.text
    assert "not built yet" not in created.text
    path = ck.safetensors_file(tmp_path / "v1.safetensors")
    with path.open("rb") as handle:
        pushed = browser.post(
            "/filters/web-toon/versions",
            files={"checkpoint": ("v1.safetensors", handle)},
            data={"label": "v1", "csrf_token": csrf},
        )
    assert pushed.url.path.startswith("/versions/")
    assert "Pushed v1" in pushed.text
    bad = browser.post(
        "/filters/web-toon/versions",
        files={"checkpoint": ("x.pt", b"nonsense")},
        data={"label": "v2", "csrf_token": csrf},
    )
    assert bad.url.path == "/filters/web-toon"
    assert "not a checkpoint" in bad.text


def test_viewers_see_no_developer_forms(signed_in, app: FastAPI) -> None:
    slug = seed_versions(app, 3)
    browser, _ = signed_in(Role.VIEWER)
    assert 'data-testid="new-filter"' not in browser.get("/filters").text
    page = browser.get(f"/filters/{slug}").text
    assert 'data-testid="push-form"' not in page and 'data-testid="version-tree"' in page
