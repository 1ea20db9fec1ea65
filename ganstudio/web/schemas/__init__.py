"""JSON shapes of the API, one module per area (named ThingCreate / ThingUpdate / ThingPublic).

Each public shape is built in one place: the `*_public` function beside its model.
This module holds what every area shares: a page of a list, and copying a row's fields.
"""

import dataclasses
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

Item = TypeVar("Item")
Shape = TypeVar("Shape")


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


def shaped(shape: type[Shape], source: object, **given: Any) -> Shape:
    """Build `shape` (a model or a dataclass) from `source`: every field not `given` is the
    source's attribute of the same name.

    A public field named as its column is a copy of it; only the fields that differ are spelled
    out, so a column added to a shape cannot be forgotten in one of its builders.
    """
    if isinstance(shape, type) and issubclass(shape, BaseModel):
        names = list(shape.model_fields)
    else:
        names = [f.name for f in dataclasses.fields(shape)]  # type: ignore[arg-type]
    copied = {name: getattr(source, name) for name in names if name not in given}
    return shape(**copied, **given)
