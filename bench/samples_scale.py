"""Seed 10,000 samples and 200 sets into a temporary data dir; time the first and last list pages.

    python bench/samples_scale.py [--samples 10000] [--sets 200] [--repeat 15]

Rows are inserted in bulk (sharing two small blobs), so seeding takes seconds; the timings are
real HTTP requests to a live uvicorn server: the API list and the HTML grid, first and last page.
"""

import argparse
import hashlib
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import insert

from ganstudio.app import create_app
from ganstudio.config import Settings
from ganstudio.db.tables import Sample, SampleSet, SampleSetMember, Tag, sample_tags
from ganstudio.roles import Role
from ganstudio.services import users as users_service
from ganstudio.storage.images import make_thumbnail

TAGS = ["smile", "closed eyes", "glasses", "side face", "group", "dark skin", "bright", "busy"]


def seed(app, samples: int, sets: int) -> str:
    """Insert the rows; return an API token of a QA user."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 80, 60)).save(buffer, format="PNG")
    original = app.state.blobs.put_bytes(buffer.getvalue())
    thumb = app.state.blobs.put_bytes(make_thumbnail(buffer.getvalue(), max_pixels=10**6))
    with app.state.sessions() as session:
        user, _ = users_service.create_user(
            session, name="bench", role=Role.QA, password="bench password 1", actor=None
        )
        _, token = users_service.create_token(session, user=user, label="bench", actor=None)
        session.execute(insert(Tag), [{"name": t} for t in TAGS])
        session.execute(
            insert(Sample),
            [
                {
                    # Distinct sha256 per row (the unique key); every row shows the same pixels.
                    "sha256": hashlib.sha256(f"sample {i}".encode()).hexdigest(),
                    "filename": f"photo_{i:05d}.jpg",
                    "format": "PNG",
                    "mode": "RGB",
                    "width": 64,
                    "height": 64,
                    "size_bytes": original.size,
                    "thumb_sha256": thumb.sha256,
                    "note": "",
                    "archived": False,
                }
                for i in range(samples)
            ],
        )
        session.execute(
            insert(sample_tags),
            [{"sample_id": i + 1, "tag_id": (i % len(TAGS)) + 1} for i in range(samples)]
            + [{"sample_id": i + 1, "tag_id": 1} for i in range(1, samples, 3) if i % len(TAGS)],
        )
        session.execute(
            insert(SampleSet), [{"name": f"set {s:03d}", "description": ""} for s in range(sets)]
        )
        session.execute(
            insert(SampleSetMember),
            [
                {"set_id": s + 1, "sample_id": (s * 37 + k) % samples + 1, "position": k}
                for s in range(sets)
                for k in range(50)
            ],
        )
        session.commit()
    return token


def timed(client: httpx.Client, url: str, repeat: int) -> float:
    client.get(url).raise_for_status()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(url).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--sets", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ganstudio-bench-") as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), blob_sweep_interval_seconds=0)
        app = create_app(settings)
        started = time.perf_counter()
        token = seed(app, args.samples, args.sets)
        print(
            f"Seeded {args.samples:,} samples and {args.sets} sets in "
            f"{time.perf_counter() - started:.1f} s"
        )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        api_last = -(-args.samples // 50)
        grid_last = -(-args.samples // 60)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
            rows = [
                ("API  /api/v1/samples page 1", "/api/v1/samples?page=1&per_page=50"),
                (
                    f"API  /api/v1/samples page {api_last}",
                    f"/api/v1/samples?page={api_last}&per_page=50",
                ),
                (
                    "API  /api/v1/samples?tag=smile&tag=glasses",
                    "/api/v1/samples?tag=smile&tag=glasses",
                ),
                ("API  /api/v1/sets page 1 (counts + covers)", "/api/v1/sets?per_page=50"),
                ("HTML /samples page 1", "/samples?page=1"),
                (f"HTML /samples page {grid_last}", f"/samples?page={grid_last}"),
                ("HTML /sets", "/sets"),
            ]
            print(f"Median of {args.repeat} requests each:")
            for label, url in rows:
                print(f"  {label:48s} {timed(client, url, args.repeat):7.1f} ms")
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    main()
