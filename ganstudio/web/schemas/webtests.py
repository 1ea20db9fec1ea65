"""JSON shapes of web tests."""

import hashlib
from datetime import datetime
from urllib.parse import quote

from pydantic import BaseModel, Field

from ganstudio.services.renders import JobProgress
from ganstudio.services.webtests import RecentWebTest, WebTest
from ganstudio.vocabulary import RenderState, VersionStatus
from ganstudio.web.params import RowId
from ganstudio.web.schemas.comparisons import JobPublic, job_public
from ganstudio.web.urls import blob_url


class WebTestRenderPublic(BaseModel):
    version_id: int
    label: str
    branch: str
    status: VersionStatus
    render_id: int
    state: RenderState
    error: str | None
    note: str | None = Field(
        None, description='e.g. "no face found" (a face filter on a photo without one)'
    )
    render_url: str | None = Field(description="full-size PNG, once done")
    thumb_url: str | None
    width: int | None
    height: int | None
    duration_ms: float | None


class WebTestPublic(BaseModel):
    id: str = Field(description="the web test's private, random id (only its owner may read it)")
    job: JobPublic
    url: str = Field(
        description="poll this until job.status is done, failed or cancelled; add "
        "`?wait=25&after=<revision>` to wait for the next change instead of sleeping"
    )
    revision: str = Field(
        description="changes whenever a render's state or the job's does (or a thumbnail, "
        "which follows its render's PNG by a moment, appears)"
    )
    filter: str
    filename: str
    photo_sha256: str
    photo_url: str
    renders: list[WebTestRenderPublic] = Field(description="one per version, oldest version first")


class WebTestSave(BaseModel):
    set: str | RowId = Field(description="the sample set's id or name (made if new)")


class WebTestSaved(BaseModel):
    sample_id: int
    filename: str
    created: bool = Field(description="false when the photo was in the library already")
    set_id: int
    set_name: str
    sample_url: str


class WebTestSummary(BaseModel):
    id: str
    created_at: datetime
    filename: str
    filter: str
    versions: list[str] = Field(description="the versions' labels, oldest version first")
    thumb_url: str | None = Field(description="the first finished render's thumbnail")
    url: str = Field(description="the web test in full (GET)")
    page_url: str = Field(description="the web test page showing it again")


class WebTestList(BaseModel):
    items: list[WebTestSummary] = Field(description="your own web tests, newest first")


def webtest_summary_public(item: RecentWebTest) -> WebTestSummary:
    return WebTestSummary(
        id=item.public_id,
        created_at=item.created_at,
        filename=item.filename,
        filter=item.filter_slug,
        versions=item.version_labels,
        thumb_url=blob_url(item.thumb_sha256) if item.thumb_sha256 else None,
        url=f"/api/v1/webtest/{item.public_id}",
        page_url=f"/webtest?test={quote(item.public_id)}",
    )


def webtest_public(webtest: WebTest, progress: JobProgress) -> WebTestPublic:
    def done(sha256: str | None, state: RenderState) -> str | None:
        return blob_url(sha256) if state == RenderState.DONE else None

    # A web test's render is recorded the moment its PNG exists; its thumbnail follows.
    states = [
        (item.render.id, item.render.state.value, bool(item.render.thumb_sha256))
        for item in webtest.renders
    ]
    revision = hashlib.sha256(repr((progress.status.value, states)).encode()).hexdigest()[:16]
    return WebTestPublic(
        id=webtest.job.public_id,
        job=job_public(progress),
        revision=revision,
        url=f"/api/v1/webtest/{webtest.job.public_id}",
        filter=webtest.filter_slug,
        filename=webtest.filename,
        photo_sha256=webtest.photo_sha256,
        photo_url=blob_url(webtest.photo_sha256),
        renders=[
            WebTestRenderPublic(
                version_id=item.version.id,
                label=item.version.label,
                branch=item.version.branch,
                status=item.version.status,
                render_id=item.render.id,
                state=item.render.state,
                error=item.render.error or None,
                note=item.render.note,
                render_url=done(item.render.output_sha256, item.render.state),
                thumb_url=done(item.render.thumb_sha256, item.render.state),
                width=item.render.width,
                height=item.render.height,
                duration_ms=item.render.duration_ms,
            )
            for item in webtest.renders
        ],
    )
