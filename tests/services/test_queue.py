"""Fair scheduling: who gets the next render when users flood the queue (no rendering needed)."""

import hashlib
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

from ganstudio.db.tables import Render, User, Version
from ganstudio.roles import Role
from ganstudio.services import renders as renders_service
from ganstudio.services.queue import claim_next_render
from ganstudio.services.versions import MAX_SHOWN
from ganstudio.vocabulary import JobKind, RenderState
from tests import checkpoints as ck
from tests.factories import make_filter, make_version

COMPARISON, WEBTEST = JobKind.COMPARISON, JobKind.WEBTEST


class Queue:
    """A queue of renders on fake inputs; `serve` claims and finishes them on a fake clock."""

    def __init__(self, app: FastAPI, tmp_path: Path) -> None:
        self.app = app
        self.sessions = app.state.sessions
        slug = make_filter(app)
        self.version_id = make_version(
            app, filter_slug=slug, label="v1", checkpoint=ck.safetensors_file(tmp_path / "v1")
        )
        self.inputs = 0
        self.users: dict[str, int | None] = {"cli": None}
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)

    def user(self, name: str) -> str:
        with self.sessions.begin() as session:  # no password hashing: the queue needs none
            user = User(name=name, role=Role.VIEWER, password_hash="!")
            session.add(user)
            session.flush()
            self.users[name] = user.id
        return name

    def submit(self, name: str, kind: JobKind, renders: int) -> int:
        """Queue `renders` new renders in one job of `name`; return the job id."""
        with self.sessions() as session:
            version = session.get(Version, self.version_id)
            queued = []
            for _ in range(renders):
                self.inputs += 1
                input_sha256 = hashlib.sha256(str(self.inputs).encode()).hexdigest()
                queued.append(
                    Render(
                        render_key=input_sha256,
                        checkpoint_sha256=version.checkpoint_sha256,
                        version_id=version.id,
                        input_sha256=input_sha256,
                        settings={},
                    )
                )
            session.add_all(queued)
            session.flush()
            user_id = self.users[name]
            actor = session.get(User, user_id) if user_id is not None else None
            job = renders_service.create_job(session, kind=kind, renders=queued, actor=actor)
            session.commit()
            return job.id

    def claim(self, worker_id: str = "test-worker") -> int | None:
        with self.sessions.begin() as session:
            return claim_next_render(
                session, worker_id=worker_id, settings=self.app.state.settings, now=self.clock
            )

    def serve(self, count: int) -> list[tuple[str, JobKind]]:
        """Claim and finish up to `count` renders, one a second; return whom each served."""
        names = {user_id: name for name, user_id in self.users.items()}
        served = []
        for _ in range(count):
            render_id = self.claim()
            if render_id is None:
                break
            with self.sessions.begin() as session:
                render = session.get(Render, render_id)
                served.append((names[render.claimed_for_id], render.claimed_for_kind))
                session.execute(
                    update(Render).where(Render.id == render_id).values(state=RenderState.DONE)
                )
            self.clock += timedelta(seconds=1)
        return served


def test_a_big_comparison_does_not_starve_another_users_web_test(
    app: FastAPI, tmp_path: Path
) -> None:
    queue = Queue(app, tmp_path)
    queue.submit(queue.user("ann"), COMPARISON, 1000)
    assert set(queue.serve(50)) == {("ann", COMPARISON)}
    queue.submit(queue.user("bob"), WEBTEST, 8)
    assert queue.serve(8) == [("bob", WEBTEST)] * 8  # at once, not after ann's 950 renders


def test_two_big_comparisons_take_turns(app: FastAPI, tmp_path: Path) -> None:
    queue = Queue(app, tmp_path)
    queue.submit(queue.user("ann"), COMPARISON, 1000)
    queue.serve(30)
    queue.submit(queue.user("bob"), COMPARISON, 1000)
    served = "".join(name[0] for name, _ in queue.serve(300))
    assert served.startswith("b" * 20)  # bob catches up on ann's head start (today: all 970)
    rest = served[30:]
    assert "aaaa" not in rest and "bbbb" not in rest  # then turns, not bursts a window later
    assert abs(rest.count("a") - rest.count("b")) <= 8


def test_a_flood_of_web_tests_from_many_users_leaves_comparisons_their_share(
    app: FastAPI, tmp_path: Path
) -> None:
    queue = Queue(app, tmp_path)
    queue.submit(queue.user("carl"), COMPARISON, 500)
    flooders = [queue.user(f"visitor{n}") for n in range(40)]  # each new to the queue
    served = []
    for round_ in range(40):  # a new user's 8-version web test every 4 renders: never drains
        queue.submit(flooders[round_], WEBTEST, 8)
        served += queue.serve(4)
    settings = app.state.settings
    window = settings.queue_window_seconds  # one claim a second: the last window's claims
    kinds = Counter(kind for _, kind in served[-window:])
    guaranteed = settings.queue_comparison_share * window - MAX_SHOWN  # one web test's slack
    assert kinds[COMPARISON] >= guaranteed  # today: none at all
    assert kinds[WEBTEST] >= window / 2  # web tests still get most of the worker


def test_one_user_flooding_web_tests_shares_the_worker_with_a_comparison(
    app: FastAPI, tmp_path: Path
) -> None:
    queue = Queue(app, tmp_path)
    queue.submit(queue.user("carl"), COMPARISON, 500)
    queue.user("wendy")
    served = []
    for _ in range(30):
        queue.submit("wendy", WEBTEST, 8)  # 8 every 4 renders: wendy's queue only grows
        served += queue.serve(4)
    by_user = Counter(name for name, _ in served)
    assert abs(by_user["carl"] - by_user["wendy"]) <= 4  # today: carl gets nothing


def test_web_tests_go_first_within_a_user_and_ownerless_jobs_count_as_a_user(
    app: FastAPI, tmp_path: Path
) -> None:
    queue = Queue(app, tmp_path)
    queue.submit(queue.user("ann"), COMPARISON, 5)
    queue.submit("ann", WEBTEST, 2)
    assert queue.serve(2) == [("ann", WEBTEST)] * 2
    queue.submit("cli", COMPARISON, 5)
    # ann has used 2 renders, the CLI none: the CLI's job goes next, then they alternate.
    assert [name for name, _ in queue.serve(6)] == ["cli", "cli", "ann", "cli", "ann", "cli"]


def test_cancelled_jobs_are_skipped(app: FastAPI, tmp_path: Path) -> None:
    queue = Queue(app, tmp_path)
    job_id = queue.submit(queue.user("ann"), COMPARISON, 3)
    with queue.sessions.begin() as session:
        job = renders_service.get_job(session, job_id=job_id)
        renders_service.cancel_job(session, job=job, actor=session.get(User, job.created_by_id))
    assert queue.claim() is None


def test_concurrent_claimers_never_get_the_same_render(app: FastAPI, tmp_path: Path) -> None:
    queue = Queue(app, tmp_path)
    for name in ("ann", "bob", "cat"):
        queue.submit(queue.user(name), COMPARISON, 20)
        queue.submit(name, WEBTEST, 5)
    claimed: list[int] = []
    lock = threading.Lock()

    def work(worker_id: str) -> None:
        while (render_id := queue.claim(worker_id)) is not None:
            with lock:
                claimed.append(render_id)

    workers = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(claimed) == len(set(claimed)) == 75
    with queue.sessions() as session:
        states = set(session.scalars(select(Render.state)))
    assert states == {RenderState.RUNNING}


def test_the_worker_can_stay_on_its_network_within_the_same_work(
    app: FastAPI, tmp_path: Path
) -> None:
    """A comparison queues sample by sample; a worker may take one version's renders in a row."""
    queue = Queue(app, tmp_path)
    ann = queue.user("ann")
    queue.submit(ann, COMPARISON, 4)
    twin_sha = "f" * 64  # a second network: only its checkpoint matters to the queue
    with queue.sessions.begin() as session:  # renders 2 and 4 run it, 1 and 3 the first
        session.execute(update(Render).where(Render.id % 2 == 0).values(checkpoint_sha256=twin_sha))
    queue.submit(queue.user("bob"), WEBTEST, 1)

    def claim(prefer: str | None) -> tuple[int, str]:
        with queue.sessions.begin() as session:
            render_id = claim_next_render(
                session,
                worker_id="w",
                settings=app.state.settings,
                now=queue.clock,
                prefer_checkpoint=prefer,
            )
            render = session.get(Render, render_id)
            return render.id, render.checkpoint_sha256

    assert claim(None)[1] != twin_sha  # bob's web test: fairness and kinds still come first
    queue.clock += timedelta(seconds=1)
    assert claim(twin_sha) == (2, twin_sha)  # ann's oldest render on the preferred network
    queue.clock += timedelta(seconds=1)
    assert claim(twin_sha) == (4, twin_sha)
    queue.clock += timedelta(seconds=1)
    assert claim(twin_sha)[0] == 1  # none left on it: the plain order again


@pytest.mark.postgresql_only("PostgreSQL's row locks; SQLite has one writer at a time")
def test_a_claim_skips_a_render_another_worker_is_claiming_instead_of_waiting(
    app: FastAPI, tmp_path: Path
) -> None:
    queue = Queue(app, tmp_path)
    queue.submit(queue.user("ann"), COMPARISON, 3)
    with queue.sessions.begin() as first:  # worker a's claim, not yet committed: render 1 locked
        mine = claim_next_render(first, worker_id="a", settings=app.state.settings, now=queue.clock)
        with queue.sessions.begin() as second:
            # Waiting for a's lock would raise here instead of after a's commit.
            second.execute(text("SET LOCAL lock_timeout = '1s'"))
            other = claim_next_render(
                second, worker_id="b", settings=app.state.settings, now=queue.clock
            )
    assert (mine, other) == (1, 2)
    with queue.sessions() as session:
        workers = dict(session.execute(select(Render.id, Render.worker_id)).all())
    assert workers == {1: "a", 2: "b", 3: None}
