"""Render user-written Markdown (notes, comments) to safe HTML."""

from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# Raw HTML in the source is not rendered (html=False), and the output is sanitised again with
# nh3, so neither a note nor a comment can inject script, styles or event handlers.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def is_same_origin_path(url: str) -> bool:
    """Return whether `url` can only name a file on this server (a path, no scheme, no host)."""
    if not url or any(c.isspace() or ord(c) < 32 or c == "\\" for c in url):
        return False  # browsers read "/\host" as "//host"
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and not url.startswith("//")


def _same_origin_images(tag: str, attribute: str, value: str) -> str | None:
    # An image from another host is a tracking pixel: whoever reads the note tells that host
    # when, and from where. Links stay as they are (nobody follows one without clicking).
    if tag == "img" and attribute == "src" and not is_same_origin_path(value):
        return None
    return value


def render_markdown(text: str | None) -> Markup:
    """Return `text` as sanitised HTML, safe to put in a page; images only from this server."""
    if not text:
        return Markup("")
    html = _md.render(text)
    cleaned = nh3.clean(
        html, link_rel="noopener noreferrer nofollow", attribute_filter=_same_origin_images
    )
    return Markup(cleaned)  # noqa: S704 - sanitised
