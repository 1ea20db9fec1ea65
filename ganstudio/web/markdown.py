"""Render user-written Markdown (notes, comments) to safe HTML."""

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# Raw HTML in the source is not rendered (html=False), and the output is sanitised again with
# nh3, so neither a note nor a comment can inject script, styles or event handlers.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str | None) -> Markup:
    """Return `text` as sanitised HTML, safe to put in a page."""
    if not text:
        return Markup("")
    html = _md.render(text)
    return Markup(nh3.clean(html, link_rel="noopener noreferrer nofollow"))  # noqa: S704 - sanitised
