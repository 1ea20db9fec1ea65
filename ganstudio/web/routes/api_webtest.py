"""API: web tests — one photo through a few versions, and saving that photo as a sample."""

import time
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, UploadFile, status
from starlette.concurrency import run_in_threadpool

from ganstudio.services import filters as filters_service
from ganstudio.services import sample_sets as sets_service
from ganstudio.services import versions as versions_service
from ganstudio.services import webtests as webtests_service
from ganstudio.vocabulary import JobStatus
from ganstudio.web.deps import BlobsDep, QAUser, SessionDep, SettingsDep, ViewerUser, WorkerDep
from ganstudio.web.params import PerPage
from ganstudio.web.schemas.webtests import (
    WebTestList,
    WebTestPublic,
    WebTestSave,
    WebTestSaved,
    webtest_public,
    webtest_summary_public,
)

router = APIRouter(prefix="/api/v1", tags=["web test"])
MAX_WAIT_SECONDS = 30  # a long-poll's longest wait (below common proxies' idle timeouts)
LOOK_EVERY_SECONDS = 0.05  # how often a waiting request reads the renders' states again
# … where this server's own worker thread wakes it on every render it records: the looks are
# then only for renders of workers in other processes, and each look costs the CPU a render
# may be waiting for.
LOOK_EVERY_WITH_LOCAL_WORKER_SECONDS = 0.5
FINISHED = {JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED}


@router.post("/webtest", status_code=status.HTTP_201_CREATED)
def create_webtest(
    worker: WorkerDep,
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    user: ViewerUser,
    image: Annotated[UploadFile, File(description="the photo (JPEG, PNG, WebP, GIF, BMP, TIFF)")],
    versions: Annotated[
        list[str], Form(description="ids, or labels with `filter`; repeat or comma-separate")
    ] = [],  # noqa: B006
    filter: Annotated[
        str, Form(max_length=64, description="the filter's slug; needed for labels")
    ] = "",
) -> WebTestPublic:
    """Render one photo by 1–8 versions (default: production + newest per branch).

    The photo is not added to the sample library, and the web test is private: only you (and
    developers and admins) can read it at `url`. Poll `url` (or `/api/v1/jobs/{job.id}`) until
    the job is finished; each render then has its `render_url`. Each user may start
    `GANSTUDIO_WEBTEST_PER_MINUTE` web tests a minute and have
    `GANSTUDIO_WEBTEST_MAX_QUEUED_RENDERS` renders waiting: past that, 429 with `Retry-After`.
    """
    filter_ = filters_service.get_filter(db, slug=filter) if filter.strip() else None
    chosen = versions_service.choose_versions(
        db, filter_=filter_, refs=versions, count=versions_service.WEB_TEST
    )
    webtest = webtests_service.start_webtest(
        db,
        blobs=blobs,
        settings=settings,
        photo=image.file,
        filename=image.filename or "",
        versions=chosen,
        actor=user,
    )
    db.commit()
    worker.work_queued()
    return webtest_public(webtest, webtests_service.progress(webtest))


@router.get("/webtest")
def list_webtests(
    db: SessionDep,
    user: ViewerUser,
    per_page: PerPage = 20,
) -> WebTestList:
    """List your own newest `per_page` web tests, newest first (only yours, whatever your role).

    Each has the `url` to read it and the `page_url` that shows it again in the browser.
    """
    recent = webtests_service.recent_webtests(db, owner=user, limit=per_page)
    return WebTestList(items=[webtest_summary_public(item) for item in recent])


WebTestId = Annotated[str, Path(max_length=64, description="the web test's `id`")]


@router.get("/webtest/{webtest_id}")
async def read_webtest(
    webtest_id: WebTestId,
    db: SessionDep,
    user: ViewerUser,
    worker: WorkerDep,
    settings: SettingsDep,
    wait: Annotated[
        float,
        Query(ge=0, le=MAX_WAIT_SECONDS, description="seconds to wait for a change (long-poll)"),
    ] = 0,
    after: Annotated[
        str, Query(max_length=64, description="the `revision` you have: wait until it changes")
    ] = "",
) -> WebTestPublic:
    """Return a web test's progress and each version's render (yours; any, for developers).

    With `wait` and `after`, the answer comes as soon as something changed since that
    revision (a render started or finished), or when the web test is over, or after `wait`
    seconds: a page shows each render the moment it exists, without polling sleeps. The
    wait holds no server thread: each look is a short read, between async waits that this
    server's own worker ends the moment it records a render (inference/changes.py).
    """

    def look() -> WebTestPublic:
        db.rollback()  # end the previous read, so this one sees the newest rows
        webtest = webtests_service.get_webtest(db, public_id=webtest_id, reader=user)
        return webtest_public(webtest, webtests_service.progress(webtest))

    look_every = (
        LOOK_EVERY_WITH_LOCAL_WORKER_SECONDS if settings.worker == "thread" else LOOK_EVERY_SECONDS
    )
    seen = worker.changes.count  # before the look: a render recorded after it ends the wait
    answer = await run_in_threadpool(look)
    deadline = time.monotonic() + wait
    while (
        after
        and answer.revision == after
        and answer.job.status not in FINISHED
        and time.monotonic() < deadline
    ):
        await worker.changes.wait(seen, min(look_every, deadline - time.monotonic()))
        seen = worker.changes.count
        answer = await run_in_threadpool(look)
    return answer


@router.post("/webtest/{webtest_id}/save")
def save_webtest_photo(
    webtest_id: WebTestId,
    body: WebTestSave,
    db: SessionDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    user: QAUser,
) -> WebTestSaved:
    """Add a web test's photo (yours; any, for developers) to the library, in a set."""
    webtest = webtests_service.get_webtest(db, public_id=webtest_id, reader=user)
    sample_set = sets_service.resolve_set(db, ref=str(body.set), actor=user, create_missing=True)
    accepted, created = webtests_service.save_photo(
        db, blobs=blobs, settings=settings, webtest=webtest, sample_set=sample_set, actor=user
    )
    db.commit()
    return WebTestSaved(
        sample_id=accepted.id,
        filename=accepted.filename,
        created=created,
        set_id=sample_set.id,
        set_name=sample_set.name,
        sample_url=f"/samples/{accepted.id}",
    )
