"""ETag / If-None-Match for answers that are read far more often than they change (the comparison
grid and its API): while their revision holds, a client that has them gets 304 Not Modified.

An ETag is made from everything the answer shows (a revision of its data, the reader, the page
and query); a caller must work it out after the permission checks, so that a 304 is never an
answer to someone who may not see the thing.
"""

import hashlib
import os
import secrets

from fastapi import Request, Response

# Browsers keep the answer but ask again each time, and get a 304 while the ETag holds.
REVALIDATE = "private, no-cache"
# The server's code and templates are part of every answer: a restart or deploy changes every
# ETag. `ganstudio serve --workers N` gives its N processes (one code, one start) one seed in
# this variable, so each answers 304 to what another rendered; a lone process makes its own.
ETAG_SEED_ENV = "_GANSTUDIO_ETAG_SEED"
_PROCESS = os.environ.get(ETAG_SEED_ENV) or secrets.token_hex(8)


def etag_of(*parts: object) -> str:
    """Return a strong ETag (quoted) of `parts`: what the answer shows, as plain values."""
    digest = hashlib.sha256(repr((_PROCESS, parts)).encode()).hexdigest()[:32]
    return f'"{digest}"'


def none_match(request: Request, etag: str) -> bool:
    """Return whether the request's If-None-Match names `etag` (or is `*`): a 304 then."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def not_modified(etag: str) -> Response:
    """The 304 answer: no body, the same ETag and caching rule as the full answer."""
    return Response(status_code=304, headers={"ETag": etag, "Cache-Control": REVALIDATE})


def tag(response: Response, etag: str) -> None:
    """Give a full answer its ETag, and tell browsers to revalidate it before each use."""
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = REVALIDATE
