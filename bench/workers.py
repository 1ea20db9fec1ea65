"""Renders per second with 1, 2 and 3 render workers (`ganstudio worker` processes) on one job.

    .venv/bin/python bench/workers.py                  # CPU, PostgreSQL when it is installed
    .venv/bin/python bench/workers.py --device cuda    # on a GPU machine: one worker per GPU?
                                                       # no: N workers share the device given

Each round starts N workers (their own empty data dirs, sharing only the database and the blob
store, as on separate machines), lets each load the network on a small warm-up job, then times a
comparison of fresh photos from its creation to its last render. Workers stop with SIGTERM
(they drain). On two CPU cores scaling is flat (every worker shares the same two cores, and a
torch forward already uses both); the benchmark exists for GPU machines, where the CPU-side
work of one worker (decode, PNG, database) leaves the GPU idle between batches.
"""

import argparse
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ganstudio.app import create_app
from ganstudio.db.tables import JobItem, Render, WorkerRow
from ganstudio.roles import Role
from ganstudio.vocabulary import WorkerState
from tests.conftest import make_settings
from tests.factories import bearer, make_filter, make_sample, make_token, make_user, make_version

NETWORK = {"base_width": 16, "depth": 3}  # the light (0.1 M) SE-U-Net of bench/inference.py


def photo(seed: int, size: int) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def checkpoint(folder: Path, seed: int) -> Path:
    import torch

    import models

    torch.manual_seed(seed)
    net = models.build("se-unet", {**NETWORK, "use_se": seed % 2 == 1})
    path = folder / f"v{seed}.safetensors"
    models.save_checkpoint(path, net, "se-unet", net.config)
    return path


def database(work: Path) -> tuple[str, Any]:
    """A PostgreSQL database when the server is installed (what teams scale out on), else the
    SQLite file every worker shares (same machine only)."""
    try:
        from tests.postgres import PostgresCluster, PostgresUnavailable

        cluster = PostgresCluster.start()
    except (ImportError, PostgresUnavailable) as exc:
        print(f"(no PostgreSQL: {exc}; the workers share a SQLite file)")
        return f"sqlite:///{work / 'shared.db'}", None
    return cluster.create_database(), cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--workers", default="1,2,3", help="rounds, comma-separated")
    parser.add_argument("--samples", type=int, default=24, help="photos per job (× 2 versions)")
    parser.add_argument("--size", type=int, default=256, help="input size (default 256)")
    parser.add_argument(
        "--threads-each",
        choices=("split", "all"),
        default="split",
        help="CPU only: split the cores between the workers (default), or give each all",
    )
    args = parser.parse_args()
    rounds = [int(n) for n in args.workers.split(",")]

    work = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    url, cluster = database(work)
    blob_dir = work / "blobs"
    settings = make_settings(
        work / "web", worker="off", database_url=url, blob_url=str(blob_dir), device=args.device
    )
    app = create_app(settings)
    slug = make_filter(app, input_size=args.size)
    for seed in (1, 2):
        make_version(app, filter_slug=slug, label=f"v{seed}", checkpoint=checkpoint(work, seed))
    make_user(app, role=Role.VIEWER, name="bench")
    client = TestClient(app, headers=bearer(make_token(app, name="bench")))
    sessions = app.state.sessions
    env = {
        **os.environ,
        "GANSTUDIO_DATABASE_URL": url,
        "GANSTUDIO_BLOB_URL": str(blob_dir),
        "GANSTUDIO_DEVICE": args.device,
        "GANSTUDIO_WORKER_HEARTBEAT_SECONDS": "1",
    }
    seeds = iter(range(10**6))

    def job(count: int) -> int:
        samples = [
            make_sample(app, photo(next(seeds), args.size), f"{n}.jpg") for n in range(count)
        ]
        made = client.post(
            "/api/v1/comparisons",
            json={"filter": slug, "versions": ["v1", "v2"], "samples": samples},
        )
        assert made.status_code == 201, made.text
        return made.json()["job"]["id"]

    def wait_done(job_id: int) -> None:
        while True:
            status = client.get(f"/api/v1/jobs/{job_id}").json()
            if status["status"] in ("done", "failed", "cancelled"):
                assert status["status"] == "done", status
                return
            time.sleep(0.05)

    def threads_each(count: int) -> int:
        """On a CPU, N workers on one machine split its cores (else torch oversubscribes it);
        --threads-each all gives each every core, to show what that costs."""
        if args.device != "cpu":
            return 0  # the GPU does the work
        cores = os.cpu_count() or 1
        return cores if args.threads_each == "all" else max(1, cores // count)

    results: list[tuple[int, int, float, float]] = []
    try:
        for count in rounds:
            workers = [
                subprocess.Popen(
                    [sys.executable, "-m", "ganstudio", "worker"],
                    env={
                        **env,
                        "GANSTUDIO_DATA_DIR": str(work / f"worker-{count}-{n}"),
                        "GANSTUDIO_TORCH_THREADS": str(threads_each(count)),
                    },
                )
                for n in range(count)
            ]
            while True:  # every worker up (heartbeat) before the clock starts
                with sessions() as db:
                    alive = db.scalar(
                        select(func.count())
                        .select_from(WorkerRow)
                        .where(WorkerRow.state == WorkerState.RUNNING)
                    )
                if alive == count:
                    break
                time.sleep(0.2)
            wait_done(job(2 * count))  # each worker loads the network (warm-up, not timed)
            renders = 2 * args.samples
            job_id = job(args.samples)
            start = time.perf_counter()
            wait_done(job_id)
            seconds = time.perf_counter() - start
            with sessions() as db:  # time inside the workers: claim to record, per render
                durations = sorted(
                    db.scalars(
                        select(Render.duration_ms)
                        .join(JobItem, JobItem.render_id == Render.id)
                        .where(JobItem.job_id == job_id)
                    )
                )
            results.append((count, renders, seconds, durations[len(durations) // 2] or 0.0))
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=120)
    finally:
        client.close()
        app.state.runtime.close()
        if cluster is not None:
            cluster.stop()

    base = results[0][1] / results[0][2]
    backend = url.split(":")[0]
    print(
        f"\nworkers on one job ({args.device}, {args.size}², light SE-U-Net, {backend}; "
        f"torch threads per worker: {', '.join(str(threads_each(n)) for n in rounds)})"
    )
    header = f"{'workers':>8} {'renders':>8} {'seconds':>8} {'renders/s':>10} {'vs 1':>6}"
    print(f"{header}  claim to record (median)")
    for count, renders, seconds, median_ms in results:
        rate = renders / seconds
        print(
            f"{count:>8} {renders:>8} {seconds:>8.2f} {rate:>10.2f} {rate / base:>5.2f}×"
            f"  {median_ms:>8.0f} ms"
        )


if __name__ == "__main__":
    main()
