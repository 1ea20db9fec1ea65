"""Integers a client may send, bounded in one place so that none reaches a query out of range.

Use these in path, query, form and body fields alike (`id: RowId`, `ids: list[RowId]`,
`page: PageNumber = 1`); `tests/web/test_int_bounds.py` fails on any unbounded `int`.
"""

from typing import Annotated

from pydantic import Field

from ganstudio.db.base import INT_MAX

MAX_PER_PAGE = 500
# (page - 1) * per_page becomes a SQL OFFSET, which must fit a 64-bit integer too.
MAX_PAGE = INT_MAX // MAX_PER_PAGE

RowId = Annotated[int, Field(ge=1, le=INT_MAX)]
# A number whose own rule (e.g. a filter's input size) a service checks, with its own message.
Int64 = Annotated[int, Field(ge=-INT_MAX - 1, le=INT_MAX)]
PageNumber = Annotated[int, Field(ge=1, le=MAX_PAGE, description="1 is the first page")]
PerPage = Annotated[int, Field(ge=1, le=MAX_PER_PAGE, description="items on one page")]
# A face of a photo, as the face analysis lists them (0 is the largest).
FaceIndex = Annotated[int, Field(ge=0, le=999, description="0 is the largest face")]
