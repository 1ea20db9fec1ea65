"""The one place that spells the URLs code builds (datasette's `url_builder` is the model).

Pages reach these as template globals (`blob_url(sha)`), the API through imports, so a path
changes here and nowhere else.
"""

from typing import overload

BLOBS_PREFIX = "/blobs/"


@overload
def blob_url(sha256: str) -> str: ...
@overload
def blob_url(sha256: None) -> None: ...
def blob_url(sha256: str | None) -> str | None:
    """Return the URL that serves a stored blob (behind sign-in), or None when there is none."""
    return f"{BLOBS_PREFIX}{sha256}" if sha256 else None


def local_url(target: str | None, default: str = "/") -> str:
    """Return `target` if it is a path on this site, else `default` (no open redirects).

    `//host` and `/\\host` are other sites to a browser, so only a single leading slash passes.
    """
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


TEMPLATE_GLOBALS = {"blob_url": blob_url}
