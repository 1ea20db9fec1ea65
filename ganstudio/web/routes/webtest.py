"""Page: web test — drop in photos, pick versions, see the renders side by side."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ganstudio.db.tables import Version
from ganstudio.roles import Role
from ganstudio.services import filters as filters_service
from ganstudio.services import sample_sets as sets_service
from ganstudio.services import versions as versions_service
from ganstudio.services import webtests as webtests_service
from ganstudio.services.errors import NotFoundError
from ganstudio.web.deps import SessionDep, SettingsDep, ViewerUser

router = APIRouter(tags=["pages"], include_in_schema=False)
MAX_PICKER_VERSIONS = 200
MAX_OPENED = 12  # web tests one address may reopen (`?test=a&test=b`: the photos of a session)
RECENT = 10  # lines in "Your recent web tests"


@router.get("/webtest")
def read_webtest(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    user: ViewerUser,
    filter: Annotated[str, Query(max_length=64)] = "",
    test: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """Show the drop zone and the version picker (default: production + newest per branch).

    Without `filter`, it opens on the filter of your latest web test, else the busiest one.
    With `test` (one or more web test ids: the page's own address once a test starts), it shows
    those web tests again, on their filter with their versions ticked; one you may not read
    is said in a sentence, with the API's words.
    """
    filters = [s.filter for s in filters_service.list_filters(db)]
    opened: list[str] = []
    refusals: list[str] = []
    opened_filter = ""
    opened_versions: set[int] = set()
    for public_id in dict.fromkeys((test or [])[:MAX_OPENED]):  # in order, once each
        try:
            found = webtests_service.get_webtest(db, public_id=public_id, reader=user)
        except NotFoundError:
            said = webtests_service.no_such_webtest(public_id)  # the API's words; what next here:
            refusals.append(f"{said} Drop a photo here to start one of your own.")
            continue
        opened.append(found.job.public_id or public_id)
        if not opened_filter:
            opened_filter = found.filter_slug
            opened_versions = {item.version.id for item in found.renders}
    wanted = filter or opened_filter
    chosen = next(
        (f for f in filters if f.slug == wanted), None
    ) or webtests_service.filter_to_open(db, reader=user, filters=filters)
    versions: list[Version] = []
    checked: set[int] = set()
    if chosen is not None:
        versions, checked = versions_service.version_picker(
            db, filter_=chosen, refs=None, limit=MAX_PICKER_VERSIONS
        )
        if chosen.slug == opened_filter and opened_versions & {v.id for v in versions}:
            checked = opened_versions  # drop another photo: it goes through the same versions
    can_save = user.role.allows(Role.QA)
    return request.app.state.pages.render(
        request,
        "webtest/page.html",
        {
            "filters": filters,
            "chosen": chosen,
            "versions": versions,
            "checked": checked,
            "can_save": can_save,
            "sets": sets_service.all_sets(db) if can_save else [],
            "max_versions": versions_service.MAX_SHOWN,
            "retention_days": settings.webtest_retention_days,
            "per_minute": settings.webtest_per_minute,
            "opened": opened,
            "refusals": refusals,
            "recent": webtests_service.recent_webtests(db, owner=user, limit=RECENT),
        },
    )
