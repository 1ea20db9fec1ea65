"""How a page's form post ends: save and say so, or keep nothing and say why, then go on.

Browsers post a form and follow a 303 to the page it leads to (post/redirect/get), so a reload
never posts twice; the message travels as a flash to that page.
"""

from fastapi import Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from ganstudio.services.errors import ServiceError
from ganstudio.web.templating import flash


def go_to(url: str) -> RedirectResponse:
    """Send the browser on to `url` with a GET, whatever the form posted."""
    return RedirectResponse(url, status_code=303)


def saved(
    request: Request, db: Session, message: str | None, url: str, *, level: str = "success"
) -> RedirectResponse:
    """Commit the form's change, flash `message` (if any), and go on to `url`."""
    db.commit()
    if message:
        flash(request, message, level)
    return go_to(url)


def refused(request: Request, db: Session, exc: ServiceError, url: str) -> RedirectResponse:
    """Keep nothing of a refused form post, flash why, and go back to `url` to try again."""
    db.rollback()
    flash(request, exc.message, "error")
    return go_to(url)
