"""The render worker: it claims queued renders, runs them, and stores the results.

The queue is the `renders` table itself (state = queued), so nothing is lost in a crash: a
serving worker writes a heartbeat (services/workers.py), and a render left `running` by a worker
whose heartbeat stopped is queued again by the next heartbeat of any live worker (`recover`);
a render that is done is never run again. SIGTERM drains a serving worker: the renders it holds
finish, it claims nothing new, and its row says stopped.

The worker never loads a network itself: it decodes and prepares the input here, and an
isolated executor (`ganstudio.inference.networks`) runs the network, killed at the render time
limit so a slow network fails its own cell and the next render starts at once. The stages of
many renders overlap (`ganstudio.inference.render_pipeline`).
"""

import io
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ganstudio.config import Settings
from ganstudio.db.base import utcnow
from ganstudio.db.tables import AnalysisItem, PrecisionCheck, Render, Version
from ganstudio.faces.face import Face
from ganstudio.inference import wakeups
from ganstudio.inference.changes import Changes
from ganstudio.inference.errors import first_line
from ganstudio.inference.executor import (
    ExecutorError,
)
from ganstudio.inference.executor_child import MAX_BATCH
from ganstudio.inference.inputs import NetworkInput, face_inputs, whole_photo_input
from ganstudio.inference.networks import (
    ExecutorPool,
    NetworkSpec,
    measure_sandbox,
)
from ganstudio.inference.render_pipeline import RenderPipeline
from ganstudio.inference.render_spec import (
    MASK_INPUT_CHANNELS,
    PipelineSettings,
    RenderError,
)
from ganstudio.inference.stage_times import StageTimes
from ganstudio.services import analyses as analyses_service
from ganstudio.services import faces as faces_service
from ganstudio.services import precision as precision_service
from ganstudio.services import reference_metrics
from ganstudio.services import workers as workers_service
from ganstudio.services.claims import release_claims
from ganstudio.services.errors import ServiceError
from ganstudio.services.queue import claim_next_render
from ganstudio.storage.blobs import BlobStore, BlobStoreUnavailableError
from ganstudio.storage.images import (
    ImageRejectedError,
    load_mask,
    load_rgb,
)
from ganstudio.vocabulary import JobKind, RenderState, WorkerState

log = logging.getLogger(__name__)
# Renders in a row on one network before the queue's plain order resumes (services/queue.py):
# fewer switches between executor processes, and a comparison still fills in row blocks.
NETWORK_RUN = 8
STALE_GRACE_SECONDS = 60
DB_BACKOFF_MAX_SECONDS = 30  # longest wait between tries while the database or store is down


@dataclass(frozen=True)
class PreparedPhoto:
    """A decoded photo and what the network sees of it (one input, or one per face)."""

    photo: Image.Image
    faces: list[Face]  # the face pipeline's faces, largest first ([] on the full pipeline)
    inputs: list[NetworkInput]


@dataclass(frozen=True)
class RenderInputs:
    """What one claimed render needs, read from its rows in one short session."""

    network: NetworkSpec
    input_channels: int
    input_sha256: str
    mask_sha256: str | None
    settings: PipelineSettings


class RenderWorker:
    """Runs queued renders, one at a time, each in its network's warm executor."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        blobs: BlobStore,
        settings: Settings,
    ) -> None:
        self.sessions = sessions
        self.blobs = blobs
        self.settings = settings
        self.pool = ExecutorPool(settings)
        # host/device: one worker per device of a host; then this life of it (fits 40 chars).
        self.host = socket.gethostname()[:64]
        self.worker_name = f"{self.host[:16]}/{settings.device}"
        self.worker_id = f"{self.worker_name}/{os.getpid()}-{uuid.uuid4().hex[:4]}"
        self.device = settings.device  # "auto" until the first network says where it runs
        self.wake = threading.Event()
        self.renders_run = 0
        self.timings = StageTimes()  # where the time goes, by stage (bench/inference.py)
        self.changes = Changes()
        self.pipeline = RenderPipeline(self)
        self._network_run: tuple[str | None, int] = (None, 0)  # the last network, renders in a row

    def recover(self, *, stale_after_seconds: float | None = None) -> int:
        """Queue again the renders (analysis items, precision checks) that a dead worker left
        `running`; return how many.

        Dead: a worker whose heartbeat is older than GANSTUDIO_WORKER_TIMEOUT_SECONDS or says
        stopped. A worker with a recent heartbeat is alive however old its claims (a slow
        render is its own). For claims of workers that never wrote a heartbeat, the older
        rules: this worker's own earlier life (the same host and device: one worker per
        device), a worker from before workers had names, and any claim older than
        `stale_after_seconds` (default: past any render's time limit, which a live worker
        enforces). See services/workers.py.
        """
        if stale_after_seconds is None:
            stale_after_seconds = self.stale_after_seconds
        now = utcnow()

        def orphaned(worker_id: Any, claimed_at: Any) -> Any:
            return workers_service.orphaned(
                worker_id,
                claimed_at,
                me=self.worker_id,
                my_name=self.worker_name,
                now=now,
                timeout_seconds=self.settings.worker_timeout_seconds,
                legacy_stale_after_seconds=stale_after_seconds,
            )

        return self._queue_again(
            lambda model: orphaned(model.worker_id, model.claimed_at), "of a stopped worker"
        )

    def _queue_again(self, orphaned_of: Callable[[Any], Any], whose: str) -> int:
        """Queue again the renders, analysis items and precision checks left `running` that
        `orphaned_of(model)` (a condition on that table's rows) names; return how many."""
        with self.sessions() as session, session.begin():
            counts = (
                release_claims(
                    session,
                    Render,
                    running=RenderState.RUNNING,
                    queued=RenderState.QUEUED,
                    orphaned=orphaned_of(Render),
                ),
                analyses_service.recover_items(session, orphaned=orphaned_of(AnalysisItem)),
                precision_service.recover_checks(session, orphaned=orphaned_of(PrecisionCheck)),
            )
        if any(counts):
            log.info(
                "Re-queued %d render(s), %d analysis item(s), %d precision check(s) %s",
                *counts,
                whose,
            )
        return sum(counts)

    @property
    def stale_after_seconds(self) -> float:
        """A claim older than this belongs to a dead worker: a live one stops any batch at
        its renders' time limits."""
        limit = self.settings.render_time_limit_seconds
        return limit * MAX_BATCH + STALE_GRACE_SECONDS

    def heartbeat(self, state: WorkerState = WorkerState.RUNNING) -> int:
        """Write this worker's heartbeat, then queue again what dead workers left running;
        return how many renders and items were queued again (a serving worker calls this every
        GANSTUDIO_WORKER_HEARTBEAT_SECONDS from its heartbeat thread)."""
        now = utcnow()
        with self.sessions() as session, session.begin():
            workers_service.beat(
                session,
                worker_id=self.worker_id,
                host=self.host,
                device=self.device,
                pid=os.getpid(),
                state=state,
                renders_done=self.renders_run,
                now=now,
            )
            workers_service.forget_old(session, now=now)
        if state == WorkerState.STOPPED:
            return 0
        recovered = self.recover()
        if recovered:
            self.wake.set()  # claim them now, not at the next poll
        return recovered

    def _heartbeats(self, stop: threading.Event, done: threading.Event) -> None:
        """The heartbeat thread: beat every interval, and at once when a drain starts."""
        interval = self.settings.worker_heartbeat_seconds
        last = time.monotonic()
        draining = False
        while not done.wait(min(interval, 0.5)):
            if stop.is_set() == draining and time.monotonic() - last < interval:
                continue
            draining = stop.is_set()
            try:
                self.heartbeat(WorkerState.DRAINING if draining else WorkerState.RUNNING)
            except Exception:  # the database may be restarting: beat again next time
                log.exception("Render worker heartbeat failed; retrying")
            last = time.monotonic()

    def claim_next(self) -> int | None:
        """Atomically take the next queued render, fairly between users (services/queue.py)."""
        last, run = self._network_run
        prefer = last if run < NETWORK_RUN else None
        with self.sessions.begin() as session:
            return claim_next_render(
                session, worker_id=self.worker_id, settings=self.settings, prefer_checkpoint=prefer
            )

    def note_network(self, checkpoint_sha256: str) -> None:
        """Count renders in a row on one network (claim_next prefers it for NETWORK_RUN)."""
        last, run = self._network_run
        self._network_run = (checkpoint_sha256, run + 1 if checkpoint_sha256 == last else 1)

    def run_one(self, render_id: int) -> RenderState:
        """Render one claimed render and record the result or the reason it failed."""
        self.pipeline.run(claimed=[render_id], max_renders=0)
        with self.sessions() as session:
            return RenderState(session.get(Render, render_id).state)  # type: ignore[union-attr]

    def work_queued(self) -> None:
        """Work was queued and committed: wake this process's worker, and on PostgreSQL every
        worker on other machines (inference/wakeups.py)."""
        self.wake.set()
        wakeups.notify(self.engine)

    @property
    def engine(self) -> Engine:
        return self.sessions.kw["bind"]

    def changed(self) -> None:
        """Renders were recorded: wake the long-polls of this process (web tests) at once."""
        self.changes.notify()

    def render_inputs(self, render_id: int) -> tuple[RenderInputs, bool]:
        """What a claimed render needs, and whether it is a web test's (interactive) render."""
        with self.sessions() as session:
            render = session.get(Render, render_id)
            assert render is not None
            version = session.get(Version, render.version_id)
            assert version is not None
            inputs = RenderInputs(
                network=NetworkSpec.of(version),
                input_channels=version.input_channels,
                input_sha256=render.input_sha256,
                mask_sha256=render.mask_sha256,
                settings=PipelineSettings(**render.settings),
            )
            return inputs, render.claimed_for_kind == JobKind.WEBTEST

    def network_inputs(self, inputs: RenderInputs) -> PreparedPhoto:
        """Decode the photo and prepare what the network sees of it (ganstudio/inference/inputs.py).

        Renders and analyses both come here, so an analysis looks at exactly what a render of
        that version would feed the network. The face pipeline needs no face to succeed: with
        none, `inputs` is empty (a render's output is then the input, with a note).
        """
        settings = self.settings
        # Stored images passed these guards on upload, but the limit may have been lowered since:
        # the worker decodes them through the same decompression-bomb guard.
        try:
            rgb = load_rgb(
                self.blobs.read_bytes(inputs.input_sha256), max_pixels=settings.max_image_pixels
            )
        except ImageRejectedError as exc:
            raise RenderError(
                f"The sample's image was not decoded: {exc}. Replace it with a smaller image."
            ) from None
        mask = None
        if inputs.mask_sha256:
            try:
                mask = load_mask(
                    io.BytesIO(self.blobs.read_bytes(inputs.mask_sha256)),
                    max_pixels=settings.max_image_pixels,
                )
            except ImageRejectedError as exc:
                raise RenderError(
                    f"The sample's mask was not decoded: {exc}. Attach a smaller mask on the "
                    "sample's page, then make the comparison again."
                ) from None
        elif inputs.settings.eye_mask:
            mask = self._landmarks_mask(inputs.input_sha256, rgb.size)
        if inputs.settings.face is not None:
            found, eyes = self._faces(inputs, rgb)
            chosen = face_inputs(
                rgb,
                found=found,
                eyes=eyes,
                face=inputs.settings.face,
                size=inputs.settings.input_size,
            )
            return PreparedPhoto(rgb, found, chosen)
        one = whole_photo_input(
            rgb, settings=inputs.settings, input_channels=inputs.input_channels, mask=mask
        )
        return PreparedPhoto(rgb, [], [one])

    def _faces(
        self, inputs: RenderInputs, rgb: Image.Image
    ) -> tuple[list[Face], Image.Image | None]:
        """The face pipeline's faces (largest first) and, for 4-channel versions, the whole
        photo's eye mask.

        The photo keeps its size (only the crops are network-sized, so a big photo costs the
        analysis and the pastes, which work on each crop's box); pixels outside the crops are
        the input's. No face is not a failure: the output is the input, with a note.
        """
        # The photo's stored analysis (made now if no worker has yet): the faces the pages show
        # are the faces the network gets, and the viewer's face crops are cut from the same.
        # The analysis is committed before any failure is raised: it stays for the next render
        # and the pages, whatever this render's outcome.
        with self.sessions.begin() as session:
            row = faces_service.analyse_and_store(
                session, self.blobs, inputs.input_sha256, settings=self.settings
            )
        if row.state != faces_service.DONE:
            raise RenderError(
                f"Faces could not be found in this image ({row.state}: {row.error}); "
                "ask an admin to look at the face detector on the status page."
            )
        found = faces_service.faces_of(row)  # stored largest first
        # The whole photo's eye mask, cut like the pixels: each crop sees every eye in it.
        eyes = (
            faces_service.landmarks_mask(row, rgb.size)
            if found and inputs.input_channels == MASK_INPUT_CHANNELS
            else None
        )
        return found, eyes

    def _landmarks_mask(self, image_sha256: str, size: tuple[int, int]):
        """Return the eye mask from the photo's face landmarks (analysing the photo first if no
        worker has yet), or fail the render saying why there is none."""
        with self.sessions.begin() as session:  # committed even when the render then fails
            row = faces_service.analyse_and_store(
                session, self.blobs, image_sha256, settings=self.settings
            )
        try:
            return faces_service.landmarks_mask(row, size)
        except ServiceError as exc:
            raise RenderError(f"No eye mask for this 4-channel version: {exc}") from None

    def analyse_next(self) -> bool:
        """Run the face analysis of one photo that lacks it; return whether there was one."""
        with self.sessions() as session:
            image_sha256 = faces_service.next_unanalysed(session)
        if image_sha256 is None:
            return False
        result = faces_service.analyse_blob(self.blobs, image_sha256, settings=self.settings)
        with self.sessions.begin() as session:
            faces_service.store_analysis(session, image_sha256, result)
        return True

    def mask_step(self) -> bool:
        """Generate the next eye mask of a set's mask job; return whether there was one."""
        with self.sessions.begin() as session:
            return faces_service.mask_job_step(session, self.blobs, settings=self.settings)

    def analysis_step(self) -> bool:
        """Run the next queued analysis item (ganstudio/inference/analysis_runner.py)."""
        from ganstudio.inference import analysis_runner

        return analysis_runner.step(self)

    def metrics_step(self) -> bool:
        """Measure one missing PSNR/SSIM of a render against its sample's reference."""
        return reference_metrics.metrics_step(self.sessions, self.blobs, self.settings)

    def background_step(self) -> bool:
        """Do one piece of work besides renders (masks first: someone waits for them)."""
        return (
            self.mask_step() or self.metrics_step() or self.analyse_next() or self.precision_step()
        )

    def precision_step(self) -> bool:
        """Measure the next queued precision check (ganstudio/inference/precision_runner.py)."""
        from ganstudio.inference import precision_runner

        return precision_runner.step(self)

    def measure_sandbox(self) -> None:
        """Start the executors' zygote now; log what the sandbox blocks (status pages show it)."""
        try:
            report = measure_sandbox(self.settings)
        except (ExecutorError, OSError) as exc:  # OSError: the zygote's socket broke
            log.error("Could not start an executor to measure the sandbox: %s", exc)
            return
        level = logging.INFO if report.active or self.settings.sandbox == "off" else logging.WARNING
        log.log(level, "Executor sandbox: %s %s", report.describe(), report.checks)

    def run_until_idle(self, *, max_renders: int | None = None) -> int:
        """Run queued renders until none is left (or `max_renders`); return how many ran."""
        return self.pipeline.run(max_renders=max_renders)

    def serve(self, stop: threading.Event, *, poll_seconds: float = 1.0) -> None:
        """Loop until `stop` is set: run what is queued, then sleep until woken or polled.

        A heartbeat thread says this worker is alive and queues dead workers' renders again.
        Once `stop` is set the worker drains: the renders it holds finish, nothing new is
        claimed, and its heartbeat row ends `stopped`.

        Idle, a worker looks at the queue every `poll_seconds` (one indexed query). It is also
        woken at once when work is queued: through `wake` in the server's own process, and on
        PostgreSQL from any web process through LISTEN/NOTIFY (inference/wakeups.py), so a web
        test does not wait for a GPU box's next look. It outlives any failure:
        while the database or the blob store is unreachable (a server restart, the network) it
        retries with a backoff of up to DB_BACKOFF_MAX_SECONDS, then reconnects (the pool
        replaces dead connections) and queues again what its interrupted step had claimed
        (renders, analysis items, precision checks), none of it marked failed.
        """
        timeout = self.settings.worker_timeout_seconds
        if timeout < 2 * self.settings.worker_heartbeat_seconds:
            log.warning(
                "GANSTUDIO_WORKER_TIMEOUT_SECONDS (%s) is under two heartbeats "
                "(GANSTUDIO_WORKER_HEARTBEAT_SECONDS=%s): live workers may be taken for dead",
                timeout,
                self.settings.worker_heartbeat_seconds,
            )
        # The row exists before the first claim; dead workers' renders (this worker's earlier
        # life among them) are queued again at once.
        self.heartbeat()
        done = threading.Event()
        beats = threading.Thread(
            target=self._heartbeats, args=(stop, done), name="worker-heartbeat", daemon=True
        )
        beats.start()
        if wakeups.listens(self.engine):  # woken at once when a web process queues work
            threading.Thread(
                target=wakeups.listen,
                args=(self.engine, self.wake.set, done),
                name="worker-listen",
                daemon=True,
            ).start()
        backoff = 0.0
        release = False  # a step failed: its claims must go back to the queue
        try:
            self.measure_sandbox()
            while not stop.is_set():
                try:
                    if release:
                        self.release_own_claims()
                        release = False
                    backoff = 0.0
                    # Renders first, then analyses; face work only when neither is queued.
                    if self.pipeline.run(stop=stop) or (
                        not stop.is_set() and (self.analysis_step() or self.background_step())
                    ):
                        continue
                except (OperationalError, BlobStoreUnavailableError) as exc:
                    # The database or the blob store is unreachable or restarting: not the
                    # work's fault, so what the step claimed goes back to the queue, unfailed.
                    release = True
                    backoff = min(DB_BACKOFF_MAX_SECONDS, max(poll_seconds, backoff * 2))
                    log.warning(
                        "Render worker lost the %s (%s); retrying in %.0f s",
                        "database" if isinstance(exc, OperationalError) else "blob store",
                        first_line(_reason(exc)),
                        backoff,
                    )
                    stop.wait(backoff)
                    continue
                except Exception:  # the worker must outlive any single failure
                    release = True
                    log.exception("Render worker step failed; retrying shortly")
                self.wake.wait(poll_seconds)
                self.wake.clear()
        finally:
            done.set()
            beats.join()
            try:
                self.heartbeat(WorkerState.STOPPED)
            except Exception:
                log.exception("Could not record that render worker %s stopped", self.worker_id)

    def release_own_claims(self) -> int:
        """Queue again what this worker claimed and did not record (after a failed step, when
        nothing of it is in flight any more); return how many."""
        self.pipeline.forget_outcomes()
        return self._queue_again(
            lambda model: model.worker_id == self.worker_id, "of an interrupted step"
        )


def _reason(exc: Exception) -> str:
    """The driver's own words for a lost database (SQLAlchemy wraps them), else the error's."""
    orig = getattr(exc, "orig", None)
    return str(orig) if orig is not None else str(exc)
