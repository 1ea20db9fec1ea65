"""The report download streams its images one at a time and carries a policy that suits a file."""

import base64
import hashlib
import html as html_lib
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ganstudio.roles import Role
from ganstudio.services import comparisons as comparisons_service
from ganstudio.services import reports as reports_service
from tests.factories import bearer
from tests.web.compare_helpers import make_bench

DATA_URI = re.compile(r'src="data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)"')
META_POLICY = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">')
STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def make_report_comparison(app: FastAPI, client: TestClient, token: str, tmp_path: Path) -> int:
    bench = make_bench(app, tmp_path)
    created = client.post(
        "/api/v1/comparisons",
        json={"filter": bench.slug, "versions": ["v1", "v2"], "set": bench.set_id},
        headers=bearer(token),
    )
    app.state.worker.run_until_idle()
    return created.json()["id"]


def test_report_streams_every_image_inline_under_a_file_policy(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    viewer = bearer(tokens[Role.VIEWER])
    ref = make_report_comparison(app, client, tokens[Role.VIEWER], tmp_path)
    with client.stream("GET", f"/api/v1/comparisons/{ref}/report", headers=viewer) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers  # streamed, not built whole
        chunks = list(response.iter_bytes())
        header_policy = response.headers["content-security-policy"]
    html = b"".join(chunks).decode()
    images = DATA_URI.findall(html)
    assert len(images) == 3 + 6  # 3 inputs, 2 versions × 3 renders
    stored = {hashlib.sha256(base64.b64decode(b64)).hexdigest() for _, b64 in images}
    assert all(app.state.blobs.exists(sha) for sha in stored)
    assert "@@image" not in html
    (policy,) = [html_lib.unescape(p) for p in META_POLICY.findall(html)]
    assert policy.startswith("default-src 'none'") and "img-src data:" in policy
    css = STYLE.search(html).group(1)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy  # exactly this style block, no other
    assert "http" not in policy and "'self'" not in policy  # the file needs no server
    assert header_policy == f"{policy}; frame-ancestors 'none'"


class CountingBlobs:
    """A blob store that records how many files are open at once."""

    def __init__(self, blobs) -> None:
        self.blobs, self.open_now, self.most_open, self.opened = blobs, 0, 0, 0

    def open(self, sha256: str):
        store = self

        class Handle:
            def __init__(self) -> None:
                self.handle = store.blobs.open(sha256)

            def __enter__(self):
                store.open_now += 1
                store.opened += 1
                store.most_open = max(store.most_open, store.open_now)
                return self.handle

            def __exit__(self, *exc: object) -> None:
                store.open_now -= 1
                self.handle.close()

        return Handle()


def test_report_reads_one_image_at_a_time_and_only_its_own(
    client: TestClient, app: FastAPI, tokens: dict, tmp_path: Path
) -> None:
    ref = make_report_comparison(app, client, tokens[Role.VIEWER], tmp_path)
    counting = CountingBlobs(app.state.blobs)
    with app.state.sessions() as session:
        comparison = comparisons_service.get_comparison(session, ref=ref)
        data = reports_service.build_report(session, comparison=comparison, max_rows=1000)
    some_image = sorted(data.images)[0]
    other_blob = app.state.blobs.put_bytes(b"not in this report").sha256
    html = (
        f"<p>{data.image(some_image)}</p>"
        f"<p>{data.image(other_blob)}</p>"  # not one of the report's images: left out
        f"<p>@@image-{'0' * 32}:{some_image}@@</p>"  # a forged placeholder stays text
    )
    stream = reports_service.stream_report(html, data=data, blobs=counting)
    assert next(stream) == b"<p>" and counting.opened == 0  # nothing read before it is sent
    body = b"<p>" + b"".join(stream)
    assert counting.most_open == 1 and counting.opened == 1
    assert body.count(b"data:image/") == 1
    assert f"@@image-{'0' * 32}:{some_image}@@".encode() in body
