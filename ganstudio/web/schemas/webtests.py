"""JSON shapes of web tests."""

from pydantic import BaseModel, Field

from ganstudio.vocabulary import RenderState, VersionStatus
from ganstudio.web.params import RowId
from ganstudio.web.schemas.comparisons import JobPublic


class WebTestRenderPublic(BaseModel):
    version_id: int
    label: str
    branch: str
    status: VersionStatus
    render_id: int
    state: RenderState
    error: str | None
    render_url: str | None = Field(description="full-size PNG, once done")
    thumb_url: str | None
    width: int | None
    height: int | None
    duration_ms: float | None


class WebTestPublic(BaseModel):
    id: str = Field(description="the web test's private, random id (only its owner may read it)")
    job: JobPublic
    url: str = Field(description="poll this until job.status is done, failed or cancelled")
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
