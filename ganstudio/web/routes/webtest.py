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
from ganstudio.web.deps import SessionDep, SettingsDep, ViewerUser

router = APIRouter(tags=["pages"], include_in_schema=False)
MAX_PICKER_VERSIONS = 200


@router.get("/webtest")
def read_webtest(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    user: ViewerUser,
    filter: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """Show the drop zone and the version picker (default: production + newest per branch).

    Without `filter`, it opens on the filter of your latest web test, else the busiest one.
    """
    filters = [s.filter for s in filters_service.list_filters(db)]
    chosen = next(
        (f for f in filters if f.slug == filter), None
    ) or webtests_service.filter_to_open(db, reader=user, filters=filters)
    versions: list[Version] = []
    checked: set[int] = set()
    if chosen is not None:
        versions, checked = versions_service.version_picker(
            db, filter_=chosen, refs=None, limit=MAX_PICKER_VERSIONS
        )
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
        },
    )
