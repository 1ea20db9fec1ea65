"""JSON shapes of the API, one module per area (named ThingCreate / ThingUpdate / ThingPublic).

Each public shape is built in one place: the `*_public` function beside its model.
This module holds what every area shares: a page of a list.
"""

from collections.abc import Callable
from typing import Generic, TypeVar

from pydantic import BaseModel

Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    """One page of a list: `?page=1&per_page=50`."""

    items: list[Item]
    total: int
    page: int
    per_page: int


def page_of(items: list, *, page: int, per_page: int, shape: Callable) -> Page:
    """Return one page of an in-memory list, each item shaped for the API."""
    chunk = items[(page - 1) * per_page : page * per_page]
    return Page(items=[shape(i) for i in chunk], total=len(items), page=page, per_page=per_page)
