"""Render Jinja pages with what every page needs: user, navigation, CSRF token, flashes."""

import re
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from ganstudio import __version__
from ganstudio.paths import resource_dir
from ganstudio.roles import Role
from ganstudio.services.training_metrics import format_value
from ganstudio.text import plural
from ganstudio.web.markdown import render_markdown
from ganstudio.web.security import csrf_token
from ganstudio.web.urls import TEMPLATE_GLOBALS


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    role: Role = Role.VIEWER
    blurb: str = ""  # what the section is for: the home page's card says it


NAVIGATION = (
    NavItem("Samples", "/samples", blurb="The shared test photos: tags, sets, faces, eye masks."),
    NavItem("Filters", "/filters", blurb="Each filter's versions, lineage, settings and scores."),
    NavItem("Compare", "/compare", blurb="Versions side by side on a set of photos."),
    NavItem("Analyses", "/analyses", blurb="Where each version looks (Grad-CAM) and its features."),
    NavItem("Web test", "/webtest", blurb="Drop in a photo, see what each version makes of it."),
    NavItem(
        "Leaderboards", "/leaderboards", blurb="Blind pairwise votes and the ranking they give."
    ),
    NavItem("Users", "/users", Role.ADMIN, "Accounts, roles and recent changes."),
    NavItem(
        "Status", "/admin/status", Role.ADMIN, "The sandbox for pushed networks, its self-test."
    ),
    NavItem("Workers", "/admin/workers", Role.ADMIN, "Every render worker: alive, busy, how fast."),
)
# Pages under another item's path that belong to a different section: a filter's arena and
# leaderboard live under /filters/… but are part of the Leaderboards section.
_SECTION_OF = ((re.compile(r"^/filters/[^/]+/(arena|leaderboard)/?$"), "/leaderboards"),)
_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def active_nav(path: str) -> str | None:
    """Return the href of the navigation item that `path` belongs to (the highlighted one)."""
    for pattern, href in _SECTION_OF:
        if pattern.match(path):
            return href
    for item in NAVIGATION:
        if path == item.href or path.startswith(item.href + "/"):
            return item.href
    return None


def message_html(text: str | None) -> Markup:
    """Return a service message for a page: escaped, with `backtick` spans as <code>.

    Services write messages once, in plain text with Markdown-style code spans, for the API and
    the CLI; pages show those spans as code rather than as raw backticks.
    """
    escaped = str(escape(text or ""))
    return Markup(_CODE_SPAN.sub(r"<code>\1</code>", escaped))  # noqa: S704 - escaped above


def format_bytes(size: int | None) -> str:
    """Return a size for people: 912 B, 4.2 MB, 1.3 GB."""
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def format_count(value: int | None) -> str:
    """Return a count for people: 940, 94.1 k, 7.9 M."""
    if value is None:
        return "—"
    if value < 1000:
        return str(value)
    if value < 1_000_000:
        return f"{value / 1000:.1f} k"
    return f"{value / 1_000_000:.1f} M"


def flash(request: Request, message: str, level: str = "info") -> None:
    """Show `message` on the next page this browser renders."""
    request.session.setdefault("flash", [])
    request.session["flash"] = [*request.session["flash"], [level, message]]


class Pages:
    """The Jinja environment and the one way pages are rendered."""

    def __init__(self, *, demo: bool) -> None:
        self.templates = Jinja2Templates(directory=str(resource_dir("templates")))
        self.templates.env.globals.update(
            # `app_version`, not `version`: pages have a `version` of their own (a filter's).
            app_version=__version__,
            Role=Role,
            demo=demo,
            **TEMPLATE_GLOBALS,
        )
        self.templates.env.globals["csrf_field"] = self._csrf_field
        self.templates.env.filters.update(
            markdown=render_markdown,
            filesize=format_bytes,
            count=format_count,
            plural=plural,
            message=message_html,
            metric_value=format_value,
        )

    @staticmethod
    def _csrf_field(request: Request) -> Markup:
        # Made once per request: a grid page has hundreds of small forms.
        field = getattr(request.state, "csrf_field", None)
        if field is None:
            field = Markup('<input type="hidden" name="csrf_token" value="{}">').format(
                csrf_token(request)
            )
            request.state.csrf_field = field
        return field

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
    ) -> HTMLResponse:
        user = getattr(request.state, "user", None)
        page_context = {
            "user": user,
            "nav": [item for item in NAVIGATION if user and user.role.allows(item.role)],
            "csrf_token": csrf_token(request),
            "flashes": request.session.pop("flash", []),
            "path": request.url.path,
            "active_nav": active_nav(request.url.path),
            **(context or {}),
        }
        return self.templates.TemplateResponse(request, name, page_context, status_code=status_code)
