"""A Content-Security-Policy on every response; pages that need no exception; docs self-hosted."""

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ganstudio.paths import resource_dir
from ganstudio.roles import Role
from ganstudio.web.headers import PAGE_POLICY
from tests.factories import bearer

TEMPLATES = resource_dir("templates")
SCRIPTS = resource_dir("static") / "js"
DIRECTIVES = {
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "img-src": "'self' data: blob:",
}


def policy_of(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


def test_page_policy_is_strict() -> None:
    policy = policy_of(PAGE_POLICY)
    for directive, sources in DIRECTIVES.items():
        assert policy[directive] == sources, directive
    assert "unsafe" not in PAGE_POLICY  # no 'unsafe-inline', no 'unsafe-eval'


@pytest.mark.parametrize(
    "url", ["/login", "/", "/samples", "/api/v1/me", "/healthz", "/static/js/app.js", "/nowhere"]
)
def test_every_response_carries_the_policy(
    client: TestClient, tokens: dict[Role, str], url: str
) -> None:
    response = client.get(url, headers=bearer(tokens[Role.VIEWER]))
    assert response.headers["content-security-policy"] == PAGE_POLICY


def _template_files() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("template", _template_files(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_need_no_inline_script_or_style(template: Path) -> None:
    text = template.read_text()
    if template.name == "report.html":  # a downloaded file with its own policy (style by hash)
        return
    assert not re.search(r"\sstyle\s*=", text), "style attribute: use a class in app.css"
    assert not re.search(r"<style\b", text), "<style> element: move it to a .css file"
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler: use static/js"
    assert not re.search(r"\shx-on", text), "hx-on runs through eval"
    assert "javascript:" not in text
    for script in re.finditer(r"<script\b([^>]*)>(.*?)</script>", text, re.S):
        attributes, body = script.groups()
        assert "src=" in attributes or 'type="application/json"' in attributes, script.group(0)
        assert "src=" not in attributes or not body.strip()


@pytest.mark.parametrize("script", sorted(SCRIPTS.glob("*.js")), ids=lambda p: p.name)
def test_scripts_use_no_eval_nor_inline_styles(script: Path) -> None:
    text = script.read_text()
    for refused in ("eval(", "new Function", 'setAttribute("style"', ".innerHTML", "cssText"):
        assert refused not in text, refused
    assert 'createElement("style")' not in text


def test_docs_are_self_hosted_and_name_no_other_host(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == PAGE_POLICY
    assert "http://" not in page.text and "https://" not in page.text and "//" not in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in assets
    for asset in assets:
        assert asset.startswith("/static/"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
    assert "https://" not in (SCRIPTS / "docs.js").read_text()
    assert not re.search(r"<script>(?!</script>)", page.text)  # no inline script
    assert (resource_dir("static") / "vendor" / "swagger-ui" / "LICENSE").is_file()
    assert client.get("/openapi.json").status_code == 200
    redoc = client.get("/redoc", follow_redirects=False)
    assert redoc.status_code == 308 and redoc.headers["location"] == "/docs"
