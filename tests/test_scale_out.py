"""GAN Studio deployed the way a team scales it out, end to end over HTTP and real processes:
PostgreSQL, an S3 object store (moto), a web server and three render workers, each worker on an
empty data dir of its own (as on another machine). One worker is SIGKILLed mid-job.

The job must finish, every render be done exactly once (one claim each, but for the ones the
killed worker held, which are claimed once more), every blob be in the bucket, and nothing large
be on the web server's disk.
"""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.checkpoints import safetensors_file
from tests.imagegen import distinct_png
from tests.postgres import PostgresCluster
from tests.s3 import S3Server
from tests.waiting import free_port, wait_for

# Its own PostgreSQL server in either pass: once is enough, on the PostgreSQL pass.
pytestmark = pytest.mark.postgresql_only("a deployment on PostgreSQL, S3 and three workers")

SAMPLES = 30  # × 2 versions: 60 renders
WORKERS = 3
DEADLINE_SECONDS = 240
LARGE_BYTES = 64 * 1024


def _ganstudio(*args: str, env: dict[str, str], **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-m", "ganstudio", *args], env=env, **kwargs
    )


def _run(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ganstudio", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as psycopg takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def test_a_job_survives_a_killed_worker_with_postgres_s3_and_three_workers(
    tmp_path: Path,
    postgres_cluster: PostgresCluster,
    s3_server: S3Server,
    s3_bucket: str,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    database_url = postgres_cluster.create_database()
    common = {
        **os.environ,
        **s3_server.env,
        "GANSTUDIO_DATABASE_URL": database_url,
        "GANSTUDIO_BLOB_URL": s3_server.blob_url(s3_bucket),
        "GANSTUDIO_SECRET_KEY": "scale-out-test-" + "k" * 40,
        "GANSTUDIO_DEVICE": "cpu",
        "GANSTUDIO_BLOB_SWEEP_INTERVAL_SECONDS": "0",
        "GANSTUDIO_WORKER_HEARTBEAT_SECONDS": "1",
        "GANSTUDIO_WORKER_TIMEOUT_SECONDS": "6",
    }
    web_dir = tmp_path / "web"
    web = {**common, "GANSTUDIO_DATA_DIR": str(web_dir), "GANSTUDIO_WORKER": "off"}

    _run("migrate", env=web)
    _run("users", "add", "lead", "--role", "developer", env=web)
    token = _run("users", "token", "lead", env=web).strip().splitlines()[-1]
    port = free_port()
    web_server = _ganstudio("serve", "--host", "127.0.0.1", "--port", str(port), env=web)
    processes.append(web_server)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )

    def healthy() -> bool:
        try:
            return client.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, "the web server", seconds=DEADLINE_SECONDS, every=0.2, process=web_server)

    made = client.post("/api/v1/filters", json={"name": "Toon", "slug": "toon", "input_size": 96})
    assert made.status_code == 201, made.text
    for seed, label in ((1, "v1"), (2, "v2")):
        checkpoint = safetensors_file(tmp_path / f"{label}.safetensors", seed=seed)
        pushed = client.post(
            "/api/v1/filters/toon/versions",
            data={"label": label},
            files={"checkpoint": (checkpoint.name, checkpoint.read_bytes())},
        )
        assert pushed.status_code == 201, pushed.text
    uploaded = client.post(
        "/api/v1/samples",
        files=[
            ("files", (f"{n}.png", distinct_png(n, (160, 120)), "image/png"))
            for n in range(SAMPLES)
        ],
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    sample_ids = [item["id"] for item in uploaded.json()["created"]]
    assert len(sample_ids) == SAMPLES

    # The workers start before the job, so that it is split between them from the first render.
    workers = []
    for n in range(WORKERS):
        worker_dir = tmp_path / f"worker-{n}"  # empty: another machine's disk
        worker_env = {**common, "GANSTUDIO_DATA_DIR": str(worker_dir)}
        workers.append(_ganstudio("worker", env=worker_env))
    processes.extend(workers)

    with psycopg.connect(_libpq(database_url), autocommit=True) as db:
        job = client.post(
            "/api/v1/comparisons",
            json={"filter": "toon", "versions": ["v1", "v2"], "samples": sample_ids},
        )
        assert job.status_code == 201, job.text
        job_id = job.json()["job"]["id"]

        victim = workers[0]

        def victims_claims() -> list[int]:
            rows = db.execute(
                "SELECT id FROM renders WHERE state = 'running' AND worker_id LIKE %s",
                (f"%/{victim.pid}-%",),
            ).fetchall()
            return [row[0] for row in rows]

        held = wait_for(
            victims_claims,
            "the first worker to claim renders",
            seconds=DEADLINE_SECONDS,
            every=0.01,
        )
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        # What it held then, and anything it claimed in the instant before dying.
        held = sorted(set(held) | set(victims_claims()))

        def finished() -> dict | None:
            status = client.get(f"/api/v1/jobs/{job_id}").json()
            return status if status["status"] in ("done", "failed", "cancelled") else None

        status = wait_for(finished, "the job to finish", seconds=DEADLINE_SECONDS, every=0.5)
        assert status["status"] == "done", status
        assert status["done"] == 2 * SAMPLES and status["failed"] == 0

        renders = db.execute(
            "SELECT r.id, r.state, r.attempts, r.output_sha256, r.thumb_sha256 "
            "FROM renders r JOIN comparison_cells c ON c.render_id = r.id"
        ).fetchall()
    assert len({row[0] for row in renders}) == 2 * SAMPLES
    assert {row[1] for row in renders} == {"done"}
    attempts = {row[0]: row[2] for row in renders}
    # Done exactly once: one claim each, and one more for those the killed worker held.
    assert held and all(attempts[render_id] == 2 for render_id in held), (held, attempts)
    assert all(count == 1 for render_id, count in attempts.items() if render_id not in held)
    # Others went on while the dead worker's renders waited for its heartbeat to time out.
    for worker in workers[1:]:
        assert worker.poll() is None, "a live worker stopped"

    keys = {
        item["Key"].rsplit("/", 1)[-1]
        for page in s3_server.client().get_paginator("list_objects_v2").paginate(Bucket=s3_bucket)
        for item in page.get("Contents", [])
    }
    for _id, _state, _attempts, output, thumb in renders:
        assert output in keys and thumb in keys

    # Every cell's image comes back through the web server (proxied from the bucket).
    comparison = client.get(f"/api/v1/comparisons/{job.json()['id']}").json()
    assert len(comparison["cells"]) == 2 * SAMPLES
    first = comparison["cells"][0]
    image = client.get(first["render_url"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")

    large = [
        path for path in web_dir.rglob("*") if path.is_file() and path.stat().st_size > LARGE_BYTES
    ]
    assert not large, f"large files on the web server's disk: {large}"
