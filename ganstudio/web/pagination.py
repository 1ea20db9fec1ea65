"""One rule for pages of a list: how many pages there are, and what the pager partial needs."""

from typing import Any


def page_count(total: int, per_page: int) -> int:
    """Return how many pages `total` items fill, at least one (an empty list still has a page)."""
    return max(1, -(-total // per_page))


def pager(
    *, page: int, total: int, per_page: int, base_query: str = "", noun: str = ""
) -> dict[str, Any]:
    """Return the context `templates/_pager.html` reads.

    `base_query` keeps a page's filters across pages; `noun` names what is counted ("versions").
    """
    return {
        "page": page,
        "pages": page_count(total, per_page),
        "total": total,
        "per_page": per_page,
        "base_query": base_query,
        "noun": noun,
    }
