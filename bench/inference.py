"""Benchmark the render engine against naive scripts; prints ratios measured in one run.

    .venv/bin/python bench/inference.py [--samples 16] [--versions 3] [--size 512] [--parts 1,2]

1. job throughput: N samples × V versions through the persisted queue and worker, against a
   naive loop (PIL → tensor → network → PNG, same thread count), images per second;
2. web test over HTTP against the same network's raw forward on the same image in-process;
3. a cached comparison page of 100 samples × 4 versions: median server time, first-load bytes,
   and page latency while a job runs: p99 of 50 concurrent page loads.
Machines are shared and noisy: compare the ratios, not the absolute numbers, across runs.
"""

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import models
from ganstudio.app import create_app
from ganstudio.roles import Role
from tests.conftest import make_settings
from tests.factories import (
    bearer,
    make_filter,
    make_sample,
    make_token,
    make_user,
    make_version,
)


def photo(seed: int, size: int) -> bytes:
    """A smooth, photo-like test image (noise would favour no one)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size] / size
    planes = [
        np.sin(xs * rng.uniform(2, 9) + ys * rng.uniform(2, 9) + rng.uniform(0, 6))
        for _ in range(3)
    ]
    pixels = ((np.stack(planes, axis=2) + 1) * 127.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def write_versions(folder: Path, count: int) -> list[Path]:
    paths = []
    for n in range(count):
        torch.manual_seed(n)
        net = models.build("se-unet", {"base_width": 16, "depth": 3, "use_se": n % 2 == 1})
        path = folder / f"v{n}.safetensors"
        models.save_checkpoint(path, net, "se-unet", net.config)
        paths.append(path)
    return paths


def naive_loop(checkpoints: list[Path], images: list[bytes], size: int, out: Path) -> float:
    """What a developer's script does: per image, decode, normalise, run, encode a PNG."""
    start = time.perf_counter()
    for path in checkpoints:
        net = models.load_checkpoint(path)
        for n, data in enumerate(images):
            image = Image.open(io.BytesIO(data)).convert("RGB").resize((size, size))
            x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1)
            with torch.no_grad():
                y = net(x.permute(2, 0, 1)[None])
            pixels = ((y[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
            Image.fromarray(pixels).save(out / f"{path.stem}-{n}.png")
    return time.perf_counter() - start


def job_throughput(args: argparse.Namespace, work: Path) -> None:
    checkpoints = write_versions(work, args.versions)
    images = [photo(n, args.size) for n in range(args.samples)]
    (work / "naive").mkdir()
    naive_s = naive_loop(checkpoints, images, args.size, work / "naive")

    app = create_app(make_settings(work / "data"))
    slug = make_filter(app, input_size=args.size)
    for n, path in enumerate(checkpoints):
        make_version(app, filter_slug=slug, label=f"v{n}", checkpoint=path)
    sample_ids = [make_sample(app, data, f"{n}.jpg") for n, data in enumerate(images)]
    make_user(app, role=Role.VIEWER, name="bench")
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        client.post(
            "/api/v1/comparisons",
            headers=bearer(make_token(app, name="bench")),
            json={
                "filter": slug,
                "versions": [f"v{n}" for n in range(args.versions)],
                "samples": sample_ids,
            },
        )
    # The executors' zygote starts with the server (the worker measures the sandbox first
    # thing); a one-time cost, kept out of the throughput like the naive loop's torch import.
    app.state.worker.measure_sandbox()
    start = time.perf_counter()
    ran = app.state.worker.run_until_idle()
    worker_s = time.perf_counter() - start
    count = args.samples * args.versions
    assert ran == count, (ran, count)
    naive_ips, worker_ips = count / naive_s, count / worker_s
    print(
        f"1. job of {args.samples} samples × {args.versions} versions at {args.size}²: "
        f"worker {worker_ips:.2f} img/s, naive loop {naive_ips:.2f} img/s, "
        f"ratio {worker_ips / naive_ips:.2f}× (target ≥ 1.3×)"
    )


class LiveServer:
    """GAN Studio on a free loopback port, with its worker thread, for real HTTP timings."""

    def __init__(self, data_dir: Path) -> None:
        import socket
        import threading

        import uvicorn

        # No per-minute limit on web tests here: --runs may be larger than it.
        self.app = create_app(make_settings(data_dir, worker="thread", webtest_per_minute=10**6))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def wait_done(client, url: str, headers: dict, poll: float = 0.01) -> dict:
    """Wait for a job: by long-poll where the answer has a `revision` (web tests), else by
    polling every `poll` seconds."""
    params: dict = {}
    while True:
        body = client.get(url, headers=headers, params=params).json()
        status = body["job"]["status"] if "job" in body else body["status"]
        if status in ("done", "failed", "cancelled"):
            return body
        if "revision" in body:
            params = {"wait": 25, "after": body["revision"]}
        else:
            time.sleep(poll)


def webtest_vs_forward(work: Path, runs: int) -> None:
    """A web test over HTTP against the same network's raw forward in-process."""
    import httpx

    torch.manual_seed(0)
    net = models.build("se-unet", {"base_width": 32, "depth": 4}).eval()
    path = work / "big.safetensors"
    models.save_checkpoint(path, net, "se-unet", net.config)
    photos = [photo(100 + n, 512) for n in range(runs + 1)]
    x = (
        torch.from_numpy(
            np.asarray(Image.open(io.BytesIO(photos[0])), dtype=np.float32) / 127.5 - 1
        )
        .permute(2, 0, 1)[None]
        .contiguous()
    )
    raw = []
    with torch.inference_mode():
        net(x)
        for _ in range(runs):
            start = time.perf_counter()
            net(x)
            raw.append(time.perf_counter() - start)
    with LiveServer(work / "webtest") as live:
        slug = make_filter(live.app, input_size=512)
        make_version(live.app, filter_slug=slug, label="big", checkpoint=path)
        make_user(live.app, role=Role.VIEWER, name="bench")
        auth = bearer(make_token(live.app, name="bench"))
        over_http = []
        with httpx.Client(base_url=live.url, timeout=120) as client:
            for n, data in enumerate(photos):  # a new photo each time: no cached render
                start = time.perf_counter()
                made = client.post(
                    "/api/v1/webtest",
                    headers=auth,
                    data={"filter": slug, "versions": "big"},
                    files={"image": (f"{n}.jpg", data, "image/jpeg")},
                ).json()
                done = wait_done(client, made["url"], auth)
                assert done["renders"][0]["state"] == "done", done
                client.get(done["renders"][0]["render_url"], headers=auth)
                if n:  # the first one loads the network
                    over_http.append(time.perf_counter() - start)
    ratio = statistics.median(over_http) / statistics.median(raw)
    print(
        f"2. web test over HTTP (upload, queue, render, PNG, download) "
        f"{statistics.median(over_http) * 1000:.0f} ms vs raw forward "
        f"{statistics.median(raw) * 1000:.0f} ms at 512² (median of {runs}): "
        f"ratio {ratio:.2f}× (target ≤ 1.15×)"
    )


def comparison_page(work: Path) -> None:
    """A cached comparison of 100 samples × 4 versions: server time and first-load bytes."""
    import re

    import httpx

    with LiveServer(work / "page") as live:
        app = live.app
        slug = make_filter(app, input_size=256)
        for n in range(4):
            make_version(
                app, filter_slug=slug, label=f"v{n}", checkpoint=write_versions(work, 4)[n]
            )
        samples = [make_sample(app, photo(200 + n, 384), f"{n}.jpg") for n in range(100)]
        make_user(app, role=Role.VIEWER, name="bench")
        token = make_token(app, name="bench")
        auth = bearer(token)
        with httpx.Client(base_url=live.url, timeout=300) as client:
            made = client.post(
                "/api/v1/comparisons",
                headers=auth,
                json={"filter": slug, "versions": [f"v{n}" for n in range(4)], "samples": samples},
            )
            created = made.json()
            wait_done(client, f"/api/v1/jobs/{created['job']['id']}", auth, poll=0.5)
            page_url = created["url"]
            times = []
            for _ in range(21):
                start = time.perf_counter()
                html = client.get(page_url, headers=auth).text
                times.append(time.perf_counter() - start)
            assets = set(re.findall(r'(?:src|href)="(/(?:static|blobs)/[^"]+)"', html))
            total = len(html.encode())
            for asset in assets:
                total += len(client.get(asset, headers=auth).content)
            loads = concurrent_loads(client, live, token, slug, page_url)
    print(
        f"3. cached comparison page (100 samples × 4 versions, 50 rows a page): median "
        f"{statistics.median(times) * 1000:.1f} ms (target ≤ 50 ms); first load with "
        f"thumbnails {total / 1e6:.2f} MB in {len(assets) + 1} requests (target ≤ 5 MB)"
    )
    for name, (idle, busy) in loads.items():
        print(
            f"4. p99 of 50 simultaneous loads of the {name}: {busy * 1000:.0f} ms while a job "
            f"renders, {idle * 1000:.0f} ms idle (target ≤ 300 ms while a job runs)"
        )


LOAD_SCRIPT = """
import sys, time, httpx
from concurrent.futures import ThreadPoolExecutor
base, path, token, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = httpx.Client(base_url=base, headers={"Authorization": "Bearer " + token}, timeout=60)
client.get(path)
def load(_):
    start = time.perf_counter()
    assert client.get(path).status_code == 200
    return time.perf_counter() - start
with ThreadPoolExecutor(max_workers=count) as pool:
    print(" ".join(str(x) for x in pool.map(load, range(count))))
"""


def p99_of_loads(base: str, path: str, token: str, count: int = 50) -> float:
    """Fire `count` simultaneous GETs from another process (so it takes no GIL from the server)."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, base, path, token, str(count)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    latencies = sorted(float(x) for x in out.split())
    return latencies[int(0.99 * (len(latencies) - 1))]


def concurrent_loads(
    client,
    live: LiveServer,
    token: str,
    slug: str,
    page_url: str,
) -> dict[str, tuple[float, float]]:
    """p99 of 50 simultaneous loads of two pages, idle and while a long job renders."""
    pages = {"filters list": "/filters", "comparison grid (200 cells)": page_url}
    idle = {name: p99_of_loads(live.url, path, token) for name, path in pages.items()}
    samples = [make_sample(live.app, photo(500 + n, 512), f"busy{n}.jpg") for n in range(40)]
    job = client.post(
        "/api/v1/comparisons",
        headers=bearer(token),
        json={"filter": slug, "versions": ["v0", "v1", "v2", "v3"], "samples": samples},
    ).json()["job"]
    time.sleep(1.0)
    busy = {name: p99_of_loads(live.url, path, token) for name, path in pages.items()}
    still = client.get(f"/api/v1/jobs/{job['id']}", headers=bearer(token)).json()["status"]
    assert still in ("queued", "running"), "the job ended before the loads: make it longer"
    return {name: (idle[name], busy[name]) for name in pages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--runs", type=int, default=7, help="web test repetitions")
    parser.add_argument("--parts", default="1,2,3", help="which measurements, e.g. 1,2")
    args = parser.parse_args()
    parts = {int(part) for part in args.parts.split(",")}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if 1 in parts:
        with tempfile.TemporaryDirectory() as tmp:
            job_throughput(args, Path(tmp))
    if 2 in parts:
        with tempfile.TemporaryDirectory() as tmp:
            webtest_vs_forward(Path(tmp), runs=args.runs)
    if 3 in parts:
        with tempfile.TemporaryDirectory() as tmp:
            comparison_page(Path(tmp))


if __name__ == "__main__":
    main()
